"""CAP alerts imported from an external authority: an agent uploads a document (or a feed brings
it), reviews what the city would send, relays it to the city's people with the same area (a
draft of the city's own alert, approved as usual) or dismisses it. Hostile or unusable
documents get a translated problem and leave nothing behind."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from alert_samples import FLOOD_UPDATE, FLOOD_WARNING, xsd_valid
from alerts_factories import IN_EAST, IN_WEST, deliveries, run_jobs, subscriber
from hostile_io import PipeWatch, serving
from lxml import etree
from sqlalchemy import func, select

from factories import PASSWORD
from parvis.kernel.audit import AuditEntry
from parvis.kernel.jobs import JobRegistry, Worker
from parvis.modules import alerts
from parvis.modules.alerts.imports import feeds
from parvis.modules.alerts.models import Alert, ImportedAlert, ImportFeed
from parvis.modules.alerts.standards import cap
from web_helpers import bearer

PROBLEM = "https://parvis.city/problems/"
CAP_XML = {"Content-Type": "application/cap+xml"}


def current(document: bytes, days: int = 0) -> bytes:
    """A sample as if sent today: its 25, 26 and 27 November 2026 become today and the next days."""
    today = datetime.now(UTC).date() + timedelta(days=days)
    return re.sub(rb"2026-11-2([567])", lambda m: (today + timedelta(days=int(m[1]) - 5)).isoformat().encode(),
                  document)


WARNING = current(FLOOD_WARNING)
UPDATE = current(FLOOD_UPDATE)
CANCEL = re.sub(rb"<info>.*</info>", b"", UPDATE, flags=re.S).replace(
    b"<msgType>Update</msgType>", b"<msgType>Cancel</msgType>").replace(b"1500.flood<", b"1600.flood<")


def _imports(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ImportedAlert)) or 0


def _upload(client, headers, document: bytes = WARNING):
    return client.post("/api/v1/alerts/imports", content=document, headers={**headers, **CAP_XML})


@pytest.fixture
def agent(client, city):
    return bearer(client, "agent@example.org", PASSWORD)


@pytest.fixture
def supervisor(client, city):
    return bearer(client, "supervisor@example.org", PASSWORD)


# ------------------------------------------------------------------------------- upload and relay

def test_an_agent_imports_a_document_and_relays_it_with_the_same_area(client, db, settings, city, agent,
                                                                       supervisor, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST, language="vi")
    imported = _upload(client, agent)
    assert imported.status_code == 201, imported.text
    row = imported.json()
    assert row["state"] == "to_review" and row["source"] == "upload" and row["flag"] is None
    assert row["sender"] == "canhbao@kttv-nambo.example.vn"
    assert row["identifier"] == "urn:oid:2.49.0.1.704.0.2026.11.25.0930.flood"
    assert row["headline"] == "Crue : montée des eaux de 0,8 m attendue ce soir"  # the city's language
    assert row["severity"] == "Severe" and not row["expired"] and not row["area_needs_drawing"]
    proposal = row["proposal"]
    assert [i["language"] for i in proposal["infos"]] == ["fr", "vi"]
    assert proposal["status"] == "Actual" and proposal["categories"] == ["Met", "Safety"]
    # The river polygon and the circle around the pumping station, as drawn, in Parvis's (lon, lat) order.
    assert proposal["area"]["polygon"][0] == [106.705, 10.765]
    assert proposal["area"]["circle"] == {"lon": 106.7009, "lat": 10.7769, "radius_km": 1.5}
    listed = client.get("/api/v1/alerts/imports", params={"state": "to_review"}, headers=agent).json()
    assert [i["id"] for i in listed["items"]] == [row["id"]]
    document = client.get(row["document_url"], headers=agent)
    assert document.content == WARNING and document.headers["content-type"] == cap.MEDIA_TYPE

    relayed = client.post(f"/api/v1/alerts/imports/{row['id']}/republish", json={"note": "Relais du KTTV"},
                          headers=agent)
    assert relayed.status_code == 201, relayed.text
    draft = relayed.json()
    assert draft["state"] == "draft" and draft["msg_type"] == "Alert" and draft["author_id"] == city.agent.user_id
    assert "canhbao@kttv-nambo.example.vn" in draft["note"] and "Relais du KTTV" in draft["note"]
    assert {i["language"]: i["headline"] for i in draft["infos"]}["vi"] == "Cảnh báo lũ: nước dâng 0,8 m tối nay"
    assert draft["area"]["polygon"] == proposal["area"]["polygon"]
    assert draft["area"]["circle"] == proposal["area"]["circle"]
    again = client.post(f"/api/v1/alerts/imports/{row['id']}/republish", json={}, headers=agent)
    assert again.status_code == 409 and again.json()["type"] == PROBLEM + "alert-import-reviewed"
    shown = client.get(f"/api/v1/alerts/imports/{row['id']}", headers=agent).json()
    assert shown["state"] == "republished" and shown["alert_id"] == draft["id"]

    # The normal approval: someone else than the agent, then the fan-out reaches the area.
    assert client.post(f"/api/v1/alerts/{draft['id']}/approve", headers=agent).status_code == 403
    assert client.post(f"/api/v1/alerts/{draft['id']}/approve", headers=supervisor).status_code == 200
    run_jobs(db, registry)
    assert [(d.person, d.language) for d in deliveries(db, draft["id"])] == [("phone:+84900000001", "vi")]
    served = client.get(f"/cap/alerts/{draft['identifier']}.xml")
    assert served.status_code == 200 and xsd_valid(served.content)
    references = etree.fromstring(served.content).findtext(f"{{{cap.NS}}}references")
    assert references.startswith("canhbao@kttv-nambo.example.vn,urn:oid:2.49.0.1.704.0.2026.11.25.0930.flood,")


def test_a_multipart_upload_works_and_the_same_alert_is_imported_once(client, db, city, agent):
    first = client.post("/api/v1/alerts/imports", files={"file": ("flood.xml", WARNING, "application/xml")},
                        headers=agent)
    assert first.status_code == 201, first.text
    again = _upload(client, agent)  # the same sender and identifier, sent again
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert _imports(db) == 1
    empty = client.post("/api/v1/alerts/imports", files={"note": (None, "x")}, headers=agent)
    assert empty.status_code == 422 and empty.json()["type"] == PROBLEM + "alert-import-no-file"
    json_body = client.post("/api/v1/alerts/imports", json={"cap": "no"}, headers=agent)
    assert json_body.status_code == 415 and json_body.headers["content-type"] == "application/problem+json"


def test_an_import_can_be_dismissed_and_then_not_relayed(client, db, city, agent):
    row = _upload(client, agent).json()
    dismissed = client.post(f"/api/v1/alerts/imports/{row['id']}/dismiss", json={"note": "Hors sujet"},
                            headers=agent)
    assert dismissed.status_code == 200 and dismissed.json()["state"] == "dismissed"
    assert dismissed.json()["review_note"] == "Hors sujet"
    relayed = client.post(f"/api/v1/alerts/imports/{row['id']}/republish", headers=agent)
    assert relayed.status_code == 409
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["alerts.import", "alerts.import.dismiss"]


def test_a_citizen_cannot_import(client, db, settings, city):
    import factories

    factories.citizen(db, settings, "+84912300009")
    citizen = bearer(client, "+84912300009", PASSWORD)
    assert _upload(client, citizen).status_code == 403
    assert _upload(client, {}).status_code == 401
    assert _imports(db) == 0


def test_an_area_of_separate_parts_must_be_drawn_by_the_agent(client, db, city, agent):
    # Two polygons, one in each district, that do not touch: no single polygon holds them.
    split = WARNING.replace(b"\n      <circle>10.7769,106.7009 1.5</circle>", b"").replace(
        b"<polygon>10.7650,106.7050 10.7650,106.7350 10.7900,106.7350 10.7900,106.7050 10.7650,106.7050</polygon>",
        b"<polygon>10.775,106.705 10.775,106.708 10.778,106.708 10.778,106.705 10.775,106.705</polygon>"
        b"<polygon>10.775,106.730 10.775,106.733 10.778,106.733 10.778,106.730 10.775,106.730</polygon>")
    row = _upload(client, agent, split).json()
    assert row["area_needs_drawing"] and row["proposal"]["area"] is None
    refused = client.post(f"/api/v1/alerts/imports/{row['id']}/republish", json={}, headers=agent)
    assert refused.status_code == 422 and refused.json()["type"] == PROBLEM + "alert-import-area-needed"
    drawn = client.post(f"/api/v1/alerts/imports/{row['id']}/republish",
                        json={"area": {"district_ids": [city.west, city.east]}}, headers=agent)
    assert drawn.status_code == 201 and drawn.json()["area"]["district_ids"] == sorted([city.west, city.east])


# ------------------------------------------------------------------------------- bad input

def _doc(old: bytes, new: bytes) -> bytes:
    assert old in WARNING
    return WARNING.replace(old, new)


SELF_INTERSECTING = _doc(b"10.7650,106.7050 10.7650,106.7350 10.7900,106.7350 10.7900,106.7050 10.7650,106.7050",
                         b"10.7650,106.7050 10.7900,106.7350 10.7650,106.7350 10.7900,106.7050 10.7650,106.7050")
SWAPPED = _doc(b"10.7650,106.7050 10.7650,106.7350 10.7900,106.7350 10.7900,106.7050 10.7650,106.7050",
               b"106.7050,10.7650 106.7350,10.7650 106.7350,10.7900 106.7050,10.7900 106.7050,10.7650").replace(
    b"<circle>10.7769,106.7009 1.5</circle>", b"")
OUTSIDE = _doc(b"10.7650,106.7050 10.7650,106.7350 10.7900,106.7350 10.7900,106.7050 10.7650,106.7050",
               b"48.85,2.30 48.85,2.31 48.86,2.31 48.86,2.30 48.85,2.30").replace(
    b"<circle>10.7769,106.7009 1.5</circle>", b"")
EXPIRED = current(FLOOD_WARNING, days=-3)
BAD_DOCUMENTS = {
    "malformed": (WARNING[:-60], "malformed-xml"),
    "not CAP": (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'/>", "invalid-cap"),
    "self-intersecting polygon": (SELF_INTERSECTING, "self-intersecting-polygon"),
    "swapped lat/lon": (SWAPPED, "swapped-lat-lon"),
    "outside the city": (OUTSIDE, "alert-area-outside-city"),
    "expired": (EXPIRED, "alert-expired"),
    "negative radius": (_doc(b"106.7009 1.5</circle>", b"106.7009 -2</circle>"), "invalid-radius"),
    "system message": (_doc(b"<status>Actual</status>", b"<status>System</status>"), "cap-not-relayable"),
    "restricted": (_doc(b"<scope>Public</scope>", b"<scope>Restricted</scope><restriction>x</restriction>"),
                   "cap-not-relayable"),
    "doctype": (b"<!DOCTYPE alert>" + WARNING.split(b"?>", 1)[1], "xml-doctype-refused"),
}


@pytest.mark.parametrize("name", BAD_DOCUMENTS)
def test_a_bad_document_gets_a_translated_problem_and_nothing_is_stored(client, db, city, agent, name):
    document, problem = BAD_DOCUMENTS[name]
    with db.read() as session:
        audited = session.scalar(select(func.count()).select_from(AuditEntry))
    for language in ("en", "fr"):
        response = _upload(client, {**agent, "Accept-Language": language}, document)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == PROBLEM + problem
        assert response.json()["title"] and "Traceback" not in response.text
    assert _imports(db) == 0
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audited


def test_problems_speak_the_agents_language(client, city, agent):
    english = _upload(client, {**agent, "Accept-Language": "en"}, EXPIRED).json()
    french = _upload(client, {**agent, "Accept-Language": "fr"}, EXPIRED).json()
    assert english["title"] == "This alert has already expired."
    assert french["title"] == "Cette alerte a déjà expiré."


def test_a_50_mb_document_is_refused_before_it_is_read(client, db, city, agent):
    huge = WARNING[:-10] + b" " * (50 * 1024 * 1024) + WARNING[-10:]
    started = time.perf_counter()
    as_file = client.post("/api/v1/alerts/imports", files={"file": ("huge.xml", huge, "application/xml")},
                          headers=agent)
    assert as_file.status_code == 422 and as_file.json()["type"] == PROBLEM + "xml-too-large"
    raw = _upload(client, agent, huge)
    assert raw.status_code in (413, 422) and raw.headers["content-type"] == "application/problem+json"
    assert time.perf_counter() - started < 10
    assert _imports(db) == 0


def test_external_entities_are_never_opened_nor_fetched(client, db, city, agent, tmp_path):
    pipe = PipeWatch(str(tmp_path / "passwd"))
    body = WARNING.split(b"?>", 1)[1].replace(b"<scope>Public</scope>", b"<scope>Public</scope><note>&xxe;</note>")
    with serving({}) as (web_url, hits):
        attacks = [f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file://{pipe.path}">]>'.encode() + body,
                   f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{web_url}/entity">]>'.encode() + body,
                   f'<!DOCTYPE alert [<!ENTITY % p SYSTEM "{web_url}/p"> %p;]>'.encode() + body,
                   f'<!DOCTYPE alert SYSTEM "file://{pipe.path}">'.encode() + body]
        for document in attacks:
            response = _upload(client, agent, document)
            assert response.status_code == 422 and response.json()["type"] == PROBLEM + "xml-doctype-refused"
            assert "SECRET" not in response.text
            files = client.post("/api/v1/alerts/imports", files={"file": ("x.xml", document, "text/xml")},
                                headers=agent)
            assert files.status_code == 422
        pipe.stop()
        assert pipe.opened == 0, "a file named by the document was opened"
        assert hits == [], "a URL named by the document was fetched"
    assert _imports(db) == 0


# ------------------------------------------------------------------------------- updates and cancels

def _relay_and_send(client, db, agent, supervisor, document: bytes = WARNING) -> tuple[dict, dict]:
    row = _upload(client, agent, document).json()
    draft = client.post(f"/api/v1/alerts/imports/{row['id']}/republish", headers=agent).json()
    assert client.post(f"/api/v1/alerts/{draft['id']}/approve", headers=supervisor).status_code == 200
    return row, draft


def test_an_update_of_a_relayed_alert_is_flagged_and_relayed_as_an_update(client, db, settings, city, agent,
                                                                         supervisor, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    original, relay = _relay_and_send(client, db, agent, supervisor)
    run_jobs(db, registry)
    update = _upload(client, agent, UPDATE)
    assert update.status_code == 201, update.text
    flagged = update.json()
    assert flagged["flag"] == "update-of-relayed" and flagged["flag_alert_id"] == relay["id"]
    assert flagged["references_import_id"] == original["id"]
    listed = client.get("/api/v1/alerts/imports", params={"flagged": True}, headers=agent).json()
    assert [i["id"] for i in listed["items"]] == [flagged["id"]]
    drafted = client.post(f"/api/v1/alerts/imports/{flagged['id']}/republish", headers=agent)
    assert drafted.status_code == 201, drafted.text
    assert drafted.json()["msg_type"] == "Update" and drafted.json()["references_id"] == relay["id"]
    assert drafted.json()["area"]["circle"] == {"lon": 106.704, "lat": 10.758, "radius_km": 2.0}
    assert client.post(f"/api/v1/alerts/{drafted.json()['id']}/approve", headers=supervisor).status_code == 200
    assert client.get(f"/api/v1/alerts/{relay['id']}", headers=agent).json()["replaced_by_id"] == \
        drafted.json()["id"]


def test_an_update_arriving_before_review_supersedes_the_original(client, db, city, agent):
    original = _upload(client, agent).json()
    update = _upload(client, agent, UPDATE).json()
    assert update["flag"] is None and update["references_import_id"] == original["id"]
    assert client.get(f"/api/v1/alerts/imports/{original['id']}", headers=agent).json()["state"] == "superseded"
    relayed = client.post(f"/api/v1/alerts/imports/{update['id']}/republish", headers=agent)
    assert relayed.status_code == 201 and relayed.json()["msg_type"] == "Alert"  # the city never sent it


def test_a_cancel_of_a_relayed_alert_cancels_the_citys_alert_by_a_supervisor(client, db, city, agent,
                                                                            supervisor):
    _original, relay = _relay_and_send(client, db, agent, supervisor)
    cancel = _upload(client, agent, CANCEL)
    assert cancel.status_code == 201, cancel.text
    assert cancel.json()["flag"] == "cancel-of-relayed" and cancel.json()["flag_alert_id"] == relay["id"]
    path = f"/api/v1/alerts/imports/{cancel.json()['id']}/republish"
    assert client.post(path, headers=agent).status_code == 403
    done = client.post(path, headers=supervisor)
    assert done.status_code == 201, done.text
    assert done.json()["msg_type"] == "Cancel" and done.json()["references_id"] == relay["id"]
    assert client.get(f"/api/v1/alerts/{relay['id']}", headers=agent).json()["state"] == "cancelled"


def test_a_cancel_of_something_never_relayed_can_only_be_dismissed(client, db, city, agent, supervisor):
    cancel = _upload(client, agent, CANCEL).json()
    refused = client.post(f"/api/v1/alerts/imports/{cancel['id']}/republish", headers=supervisor)
    assert refused.status_code == 409 and refused.json()["type"] == PROBLEM + "alert-import-nothing-to-cancel"
    assert client.post(f"/api/v1/alerts/imports/{cancel['id']}/dismiss", headers=agent).status_code == 200


# ------------------------------------------------------------------------------- feeds

def _feed(base: str, entries: list[tuple[str, str]]) -> bytes:
    items = "".join(f'<entry><id>{path}</id><title>t</title><updated>{updated}</updated>'
                    f'<link rel="alternate" type="application/cap+xml" href="{path}"/></entry>'
                    for path, updated in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>{base}</id>'
            f'<title>KTTV</title><updated>2026-11-25T09:30:00+07:00</updated>{items}</feed>').encode()


def _feed_settings(settings, url: str):
    return settings.model_copy(update={"alerts_import_feeds": [url]})


def test_the_poller_imports_a_feeds_documents_from_its_own_host_only(db, settings, city):
    with serving({}) as (other, other_hits):
        entries = [("/cap/warning.xml", "2026-11-25T09:30:00+07:00"),
                   ("/cap/update.xml", "2026-11-25T15:00:00+07:00"),
                   ("/cap/old.xml", "2026-11-22T09:00:00+07:00"),
                   (f"{other}/cap/elsewhere.xml", "2026-11-25T09:30:00+07:00")]
        routes = {"/cap/warning.xml": (WARNING, cap.MEDIA_TYPE), "/cap/update.xml": (UPDATE, cap.MEDIA_TYPE),
                  "/cap/old.xml": (EXPIRED, cap.MEDIA_TYPE)}
        with serving(routes, etag='"v1"') as (base, hits):
            routes["/feed.atom"] = (_feed(base, entries), "application/atom+xml")
            feed_settings = _feed_settings(settings, f"{base}/feed.atom")
            assert feeds.poll_all(db, feed_settings) == 2
            assert sorted(hits) == ["/cap/old.xml", "/cap/update.xml", "/cap/warning.xml", "/feed.atom"]
            # Polled again: the feed has not changed (304), nothing else is asked for.
            assert feeds.poll_all(db, feed_settings) == 0
            assert hits[4:] == ["/feed.atom"]
        assert other_hits == []
    with db.read() as session:
        rows = list(session.scalars(select(ImportedAlert).order_by(ImportedAlert.id)))
        feed = session.scalars(select(ImportFeed)).one()
    assert [(r.msg_type, r.source, r.state) for r in rows] == [("Alert", "feed", "superseded"),
                                                              ("Update", "feed", "to_review")]
    assert rows[0].source_url.endswith("/cap/warning.xml")
    # What went wrong is kept for the agents, in the city's language.
    assert "elsewhere.xml" in feed.error and "old.xml: Cette alerte a déjà expiré." in feed.error
    assert feed.imported == 2 and feed.ok_at is not None


def test_the_poller_fetches_only_new_entries_and_retries_what_failed(db, settings, city):
    routes: dict[str, tuple[bytes, str]] = {}
    with serving(routes) as (base, hits):
        routes["/feed.atom"] = (_feed(base, [("/cap/warning.xml", "2026-11-25T09:30:00+07:00")]),
                                "application/atom+xml")
        feed_settings = _feed_settings(settings, f"{base}/feed.atom")
        assert feeds.poll_all(db, feed_settings) == 0  # the document is not there yet (404)
        routes["/cap/warning.xml"] = (WARNING, cap.MEDIA_TYPE)
        assert feeds.poll_all(db, feed_settings) == 0  # 404 is not retried: the entry is handled
        routes["/feed.atom"] = (_feed(base, [("/cap/warning.xml", "2026-11-25T10:00:00+07:00"),
                                             ("/cap/update.xml", "2026-11-25T15:00:00+07:00")]),
                                "application/atom+xml")
        routes["/cap/update.xml"] = (UPDATE, cap.MEDIA_TYPE)
        assert feeds.poll_all(db, feed_settings) == 2  # the changed entry and the new one
        assert feeds.poll_all(db, feed_settings) == 0
        assert hits.count("/cap/warning.xml") == 2 and hits.count("/cap/update.xml") == 1


def test_a_hostile_document_in_a_feed_reads_nothing_and_stores_nothing(db, settings, city, tmp_path):
    pipe = PipeWatch(str(tmp_path / "passwd"))
    body = WARNING.split(b"?>", 1)[1].replace(b"<scope>Public</scope>", b"<scope>Public</scope><note>&xxe;</note>")
    routes: dict[str, tuple[bytes, str]] = {}
    with serving(routes) as (base, hits):
        routes["/feed.atom"] = (_feed(base, [("/cap/a.xml", "2026-11-25T09:30:00+07:00"),
                                             ("/cap/b.xml", "2026-11-25T09:30:00+07:00")]), "application/atom+xml")
        routes["/cap/a.xml"] = (f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file://{pipe.path}">]>'.encode() + body,
                                cap.MEDIA_TYPE)
        routes["/cap/b.xml"] = (f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{base}/secret">]>'.encode() + body,
                                cap.MEDIA_TYPE)
        big = settings.model_copy(update={"alerts_import_max_bytes": 10_000})
        routes["/cap/huge.xml"] = (b" " * 50_000, cap.MEDIA_TYPE)
        assert feeds.poll_all(db, _feed_settings(settings, f"{base}/feed.atom")) == 0
        assert feeds.poll_all(db, _feed_settings(big, f"{base}/cap/huge.xml")) == 0
        assert feeds.poll_all(db, _feed_settings(settings, f"file://{pipe.path}")) == 0  # a feed that is a file
        pipe.stop()
        assert "/secret" not in hits and pipe.opened == 0
    assert _imports(db) == 0
    with db.read() as session:
        problems = {f.url.rsplit("/", 1)[-1]: f.error for f in session.scalars(select(ImportFeed))}
    assert "DOCTYPE" in problems["feed.atom"] and "50000 bytes" in problems["huge.xml"]
    assert "only http and https" in problems["passwd"]


def test_a_worker_polls_the_feeds_once_per_interval(db, settings, city):
    routes: dict[str, tuple[bytes, str]] = {"/cap/warning.xml": (WARNING, cap.MEDIA_TYPE)}
    with serving(routes) as (base, hits):
        feed_settings = _feed_settings(settings, f"{base}/cap/warning.xml")  # one CAP document as the feed
        registry = JobRegistry()
        alerts.register(registry, db.bus, db, feed_settings)
        workers = [Worker(db, registry, worker_id=f"w{i}") for i in range(2)]
        for _ in range(2):  # ticks queue the poll job (one per interval for all workers), then it runs
            for worker in workers:
                worker.run_once()
        assert hits == ["/cap/warning.xml"]
    assert _imports(db) == 1


def test_imported_alerts_of_both_districts_reach_their_people(client, db, city, agent, supervisor, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, phone="+84900000002", point=IN_EAST)
    subscriber(db, phone="+84900000003", point=(106.738, 10.785))  # east of the river area
    _row, relay = _relay_and_send(client, db, agent, supervisor)
    run_jobs(db, registry)
    assert [d.person for d in deliveries(db, relay["id"])] == ["phone:+84900000001", "phone:+84900000002"]
