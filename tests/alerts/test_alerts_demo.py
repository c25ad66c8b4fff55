"""The demo city shows an active Exercise alert in the CAP feed, once however often it is built."""

from __future__ import annotations

from alert_samples import xsd_valid
from lxml import etree

from parvis.demo import create_demo_city

ATOM = "{http://www.w3.org/2005/Atom}"


def test_the_demo_city_has_one_active_exercise_in_its_feed(client, db, settings):
    assert create_demo_city(db, settings)["alerts_created"] == 1
    assert create_demo_city(db, settings)["alerts_created"] == 0
    feed = etree.fromstring(client.get("/cap/alerts.atom").content)
    entries = list(feed.iter(f"{ATOM}entry"))
    assert len(entries) == 1 and entries[0].findtext(f"{ATOM}title").startswith("Exercice")
    document = client.get(entries[0].find(f"{ATOM}link").get("href").removeprefix(settings.base_url))
    assert xsd_valid(document.content) and b"<status>Exercise</status>" in document.content
