"""The Atom feed of active alerts, and reading an authority's feed to find its CAP documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alert_samples import FLOOD_WARNING
from lxml import etree

from parvis.modules.alerts.standards import atom, cap, xmlsafe

A = "{http://www.w3.org/2005/Atom}"
FEED_URL = "https://city.example/cap/alerts.atom"


def feed_of_flood() -> bytes:
    alert = cap.parse(FLOOD_WARNING)
    entries = [atom.entry_for(alert, f"https://city.example/cap/alerts/{alert.identifier}.xml", "vi")]
    return atom.atom_feed("Alertes de la ville", FEED_URL, datetime(2026, 11, 25, 3, tzinfo=UTC), entries,
                          author="Ville de Hô Chi Minh-Ville", tz="Asia/Ho_Chi_Minh")


def test_the_feed_is_atom_with_one_entry_per_alert_linking_its_cap_document():
    root = etree.fromstring(feed_of_flood())
    assert root.tag == A + "feed"
    assert root.findtext(A + "id") == FEED_URL
    assert root.findtext(A + "title") == "Alertes de la ville"
    assert root.findtext(A + "updated") == "2026-11-25T10:00:00+07:00"
    assert root.findtext(f"{A}author/{A}name") == "Ville de Hô Chi Minh-Ville"
    assert root.find(A + "link").attrib == {"rel": "self", "type": "application/atom+xml", "href": FEED_URL}
    (entry,) = root.findall(A + "entry")
    url = "https://city.example/cap/alerts/urn:oid:2.49.0.1.704.0.2026.11.25.0930.flood.xml"
    assert entry.findtext(A + "id") == url
    assert entry.findtext(A + "title") == "Cảnh báo lũ: nước dâng 0,8 m tối nay"  # the headline asked for
    assert entry.findtext(A + "updated") == "2026-11-25T09:30:00+07:00"
    assert entry.findtext(A + "summary").startswith("Triều cường")
    assert entry.find(A + "link").attrib == {"rel": "alternate", "type": "application/cap+xml", "href": url}


def test_an_entry_falls_back_to_the_first_language_and_to_the_event():
    alert = cap.parse(FLOOD_WARNING)
    assert atom.entry_for(alert, "https://x.example/a.xml", "km").title.startswith("Crue :")
    alert.infos[0].headline = None
    assert atom.entry_for(alert, "https://x.example/a.xml").title == "Crue de la rivière Saïgon"


def test_the_feed_reads_back_as_its_cap_links():
    (link,) = atom.parse_atom(feed_of_flood())
    assert link.url == "https://city.example/cap/alerts/urn:oid:2.49.0.1.704.0.2026.11.25.0930.flood.xml"
    assert link.title == "Cảnh báo lũ: nước dâng 0,8 m tối nay"
    assert link.updated == datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


AUTHORITY_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>urn:uuid:7f1c0d2e-authority-feed</id>
  <title>Canh bao thien tai</title>
  <updated>2026-11-25T02:30:00Z</updated>
  <author><name>KTTV</name></author>
  <entry>
    <id>urn:oid:1</id><title>Typed link, relative</title><updated>2026-11-25T02:30:00.25Z</updated>
    <link rel="alternate" type="application/cap+xml" href="/cap/1.xml"/>
    <link rel="related" type="text/html" href="/pages/1.html"/>
  </entry>
  <entry>
    <id>urn:oid:2</id><title>Untyped link to a .cap file</title><updated>not a date</updated>
    <link href="https://other.example/alerts/2.cap"/>
  </entry>
  <entry>
    <id>urn:oid:3</id><title>A local file</title><updated>2026-11-25T02:30:00Z</updated>
    <link rel="alternate" type="application/cap+xml" href="file:///etc/passwd"/>
  </entry>
  <entry>
    <id>urn:oid:4</id><title>Only a web page</title><updated>2026-11-25T02:30:00Z</updated>
    <link rel="alternate" type="text/html" href="https://kttv.example/4.html"/>
  </entry>
</feed>
"""


def test_an_authoritys_feed_gives_absolute_web_links_only():
    links = atom.parse_atom(AUTHORITY_FEED, base_url="https://kttv.example/feeds/cap.atom")
    assert [(link.entry_id, link.url) for link in links] == [
        ("urn:oid:1", "https://kttv.example/cap/1.xml"),
        ("urn:oid:2", "https://other.example/alerts/2.cap"),
    ]
    assert links[0].updated == datetime(2026, 11, 25, 2, 30, 0, 250000, tzinfo=UTC)
    assert links[1].updated is None


def test_relative_links_without_a_base_are_left_out():
    assert [link.entry_id for link in atom.parse_atom(AUTHORITY_FEED)] == ["urn:oid:2"]


def test_a_document_that_is_not_a_feed_is_refused():
    with pytest.raises(atom.InvalidAtom) as caught:
        atom.parse_atom(FLOOD_WARNING)
    assert caught.value.status == 422 and caught.value.type_slug == "invalid-atom"


def test_a_feed_is_read_safely():
    with pytest.raises(xmlsafe.XmlTooLarge):
        atom.parse_atom(AUTHORITY_FEED, max_bytes=100)
    with pytest.raises(xmlsafe.MalformedXml):
        atom.parse_atom(AUTHORITY_FEED[:-20])


def test_feed_datetimes_are_rfc3339_with_utc_as_plus_zero():
    assert atom.rfc3339(datetime(2026, 11, 25, 2, 30, 5, 999, tzinfo=UTC)) == "2026-11-25T02:30:05+00:00"
    assert atom.rfc3339(datetime(2026, 11, 25, 2, 30), "Asia/Ho_Chi_Minh") == "2026-11-25T09:30:00+07:00"
