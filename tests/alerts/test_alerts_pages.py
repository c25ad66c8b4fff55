"""The alerts pages, in-process: the city composes (errors shown next to the fields, nothing
typed lost), previews who is reached, approves with a second person, updates and cancels, follows
the deliveries live and exports them; citizens read alerts in their language and manage the
places they are warned about."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alerts_factories import IN_EAST, IN_WEST, deliveries, run_jobs, sent_alert, subscriber
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select, update

import factories
from factories import PASSWORD
from parvis.kernel.i18n import Translator
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.alerts import actions, area, rules
from parvis.modules.alerts.hazard_templates import HAZARDS, translated
from parvis.modules.alerts.models import Alert, Delivery, State, Subscription
from parvis.modules.alerts.schemas import AlertCreate
from web_helpers import bearer, csrf_of, sign_in

CITIZEN = "+84912000001"


def said(response, message: str, **params) -> str:
    """A product message as the page shows it: in the page's language, HTML-escaped."""
    lang = response.headers.get("content-language", "fr")
    return str(escape(Translator(lang).gettext(message, **params)))


def shows(response, message: str, **params) -> bool:
    """Whether the page shows a product message (template texts are not escaped, values are)."""
    text = Translator(response.headers.get("content-language", "fr")).gettext(message, **params)
    return text in response.text or str(escape(text)) in response.text


@pytest.fixture
def person(app) -> Iterator[Callable[..., TestClient]]:
    """Opens a browser of its own (cookies apart), signed in as ``identifier`` if given."""
    opened: list[TestClient] = []

    def open_one(identifier: str | None = None, language: str = "en") -> TestClient:
        client = TestClient(app, raise_server_exceptions=False, headers={"Accept-Language": language})
        client.__enter__()
        opened.append(client)
        if identifier:
            sign_in(client, identifier, PASSWORD)
        return client

    yield open_one
    for client in opened:
        client.__exit__(None, None, None)


def local(dt: datetime, settings) -> str:
    return dt.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M")


def form(settings, **changes) -> dict:
    """The compose form as a person fills it: a flood on the West district, French and Vietnamese."""
    data = {"status": "Actual", "event": "Inondation", "categories": ["Met", "Safety"],
            "response_types": ["Evacuate"], "urgency": "Expected", "severity": "Severe", "certainty": "Likely",
            "headline_fr": "Crue attendue ce soir", "description_fr": "La rivière monte.",
            "instruction_fr": "Quittez les rez-de-chaussée.", "headline_vi": "Lũ tối nay",
            "instruction_vi": "Rời khỏi tầng trệt.", "area_desc": "Ouest", "district_ids": [],
            "polygon": "", "circle_lon": "", "circle_lat": "", "circle_radius_km": "",
            "expires": local(datetime.now(UTC) + timedelta(hours=6), settings), "web": "", "contact": "1022"}
    data.update(changes)
    return data


def compose(client: TestClient, settings, **changes):
    token = csrf_of(client, "/admin/alerts/new")
    return client.post("/admin/alerts/new", data={"csrf_token": token, **form(settings, **changes)},
                       follow_redirects=False)


def alert_count(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Alert)) or 0


def error_of(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="e-{field}">(.*?)</p>', html)
    assert match, f"no error shown for {field}"
    return match.group(1)


def created_id(response) -> int:
    assert response.status_code == 303, response.text[:2000]
    match = re.match(r"/admin/alerts/(\d+)\?done=", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


# ------------------------------------------------------------------ composing

def test_refusals_are_shown_next_to_their_field_and_keep_what_was_typed(person, db, settings, city):
    agent = person("agent@example.org")
    west_lon, south = IN_WEST[0] - 0.005, IN_WEST[1] - 0.005
    cases = [
        # a bow tie: the polygon crosses itself
        ({"polygon": f"{west_lon} {south}\n{west_lon + .01} {south + .01}\n{west_lon + .01} {south}\n"
                     f"{west_lon} {south + .01}"}, "polygon", area.SelfIntersectingPolygon.title),
        ({"polygon": "2.35 48.85\n2.36 48.85\n2.36 48.86"}, "polygon", area.AreaOutsideCity.title),
        ({"circle_lon": str(IN_WEST[1]), "circle_lat": str(IN_WEST[0]), "circle_radius_km": "1"}, "circle",
         area.SwappedLatLon.title),
        ({"district_ids": [str(city.west)], "circle_lon": str(IN_WEST[0]), "circle_lat": str(IN_WEST[1]),
          "circle_radius_km": "-2"}, "circle_radius_km", "The radius must be more than 0 km."),
        ({"district_ids": [str(city.west)], "expires": local(datetime.now(UTC) - timedelta(hours=1), settings)},
         "expires", rules.AlertExpired.title),
        ({"polygon": "106.70, 10.77, 106.71"}, "polygon",
         "Write one point per line: the longitude, a space, then the latitude."),
        ({"district_ids": [str(city.west)], "event": ""}, "event", "This field is required."),
        ({"district_ids": [str(city.west)], "categories": []}, "categories", "Choose at least one."),
        ({}, "area", "Choose districts, draw a polygon or a circle."),
        ({"district_ids": [str(city.west)], "headline_vi": ""}, "headline_vi", "Write a headline for this language."),
    ]
    for changes, field, message in cases:
        answer = compose(agent, settings, **changes)
        assert answer.status_code in (403, 422), (field, answer.status_code)
        assert error_of(answer.text, field) == said(answer, message), field
        assert 'value="Crue attendue ce soir"' in answer.text  # what was typed is still there
        if changes.get("polygon"):
            assert str(escape(changes["polygon"].split("\n")[0])) in answer.text
    assert alert_count(db) == 0


def test_a_hazard_template_fills_the_form(person, settings, city):
    agent = person("agent@example.org")
    page = agent.get("/admin/alerts/new?template=flood")
    assert page.status_code == 200
    flood = HAZARDS["flood"]
    html = page.text
    assert f'value="{escape(translated(flood.event, settings.default_language) or flood.event)}"' in html
    assert re.search(r'value="Met" checked', html) and re.search(r'value="Evacuate" checked', html)
    assert re.search(r'<option value="Severe" selected', html)
    # the text in English, and in every language whose catalogue translates it
    for lang in ("fr", "en", "vi", "km", "ar"):
        expected = translated(flood.headline, lang)
        field = re.search(rf'name="headline_{lang}" type="text" maxlength="160" value="([^"]*)"', html)
        assert field and field.group(1) == (str(escape(expected)) if expected else ""), lang
    blank = agent.get("/admin/alerts/new").text
    assert 'name="headline_en" type="text" maxlength="160" value=""' in blank


def test_the_preview_shows_who_will_be_reached_and_the_missing_languages(person, db, settings, city):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, phone="+84900000002", point=IN_WEST, channels=("sms",))
    subscriber(db, email="ana@example.org", district_id=city.west, channels=("email",))
    subscriber(db, phone="+84900000009", point=IN_EAST)  # elsewhere: not reached
    agent = person("agent@example.org")
    alert_id = created_id(compose(agent, settings, district_ids=[str(city.west)]))
    page = agent.get(f"/admin/alerts/{alert_id}?done=composed")
    assert page.status_code == 200
    # The page comes at once; the counting (seconds in a big city) is loaded after it.
    assert f'hx-get="/admin/alerts/{alert_id}/reach" hx-trigger="load"' in page.text and "data-people" not in page.text
    for counted in (agent.get(f"/admin/alerts/{alert_id}/reach"), agent.get(f"/admin/alerts/{alert_id}?count=1")):
        assert counted.status_code == 200
        assert 'data-people="3"' in counted.text and "hx-trigger" not in counted.text.split('id="reach"')[1][:200]
        reach = dict(re.findall(r'data-reach="([a-z]+-[a-z]+)">(\d+)<', counted.text))
        assert reach == {"sms-people": "2", "sms-subscriptions": "2", "email-people": "1",
                         "email-subscriptions": "1", "push-people": "0", "push-subscriptions": "0"}
    assert "English, ភាសាខ្មែរ, العربية" in page.text  # the city's languages still missing
    # the CAP document of the draft, for checking before it is sent
    xml = agent.get(f"/admin/alerts/{alert_id}/cap.xml")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/cap+xml")
    assert b"<status>Actual</status>" in xml.content and b"Crue attendue ce soir" in xml.content
    # the list shows it among the drafts awaiting approval
    listing = agent.get("/admin/alerts").text
    ready = listing.split('id="g-ready"')[1].split("</section>")[0]
    assert f'href="/admin/alerts/{alert_id}"' in ready
    # editing keeps its identity and refuses the same mistakes as composing
    token = csrf_of(agent, f"/admin/alerts/{alert_id}/edit")
    assert 'value="Crue attendue ce soir"' in agent.get(f"/admin/alerts/{alert_id}/edit").text
    edited = agent.post(f"/admin/alerts/{alert_id}/edit", follow_redirects=False, data={
        "csrf_token": token, **form(settings, district_ids=[str(city.east)], event="Typhon")})
    assert edited.headers["location"] == f"/admin/alerts/{alert_id}?done=edited"
    with db.read() as session:
        assert session.get(Alert, alert_id).district_ids == [city.east]


def test_an_actual_alert_needs_a_second_person_to_approve_it(person, db, settings, city):
    supervisor = person("supervisor@example.org")
    alert_id = created_id(compose(supervisor, settings, district_ids=[str(city.west)]))
    page = supervisor.get(f"/admin/alerts/{alert_id}")
    assert shows(page, "You wrote this actual alert: another person with the approver role must approve it.")
    token = csrf_of(supervisor, f"/admin/alerts/{alert_id}")
    refused = supervisor.post(f"/admin/alerts/{alert_id}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    assert said(refused, actions.SameApprover.title) in refused.text.split('role="alert"')[1][:400]
    with db.read() as session:
        assert session.get(Alert, alert_id).state == State.DRAFT
    # an agent holds no approver role at all
    agent = person("agent@example.org")
    assert agent.post(f"/admin/alerts/{alert_id}/approve",
                      data={"csrf_token": csrf_of(agent, "/admin/alerts")}).status_code == 403
    admin = person("admin@example.org")
    approved = admin.post(f"/admin/alerts/{alert_id}/approve", data={"csrf_token": csrf_of(admin, "/admin/alerts")},
                          follow_redirects=False)
    assert approved.status_code == 303 and approved.headers["location"] == f"/admin/alerts/{alert_id}?done=approved"
    shown = admin.get(approved.headers["location"])
    assert shows(shown, "The alert is approved: its messages are being sent.")
    assert 'id="deliveries"' in shown.text and 'hx-trigger="every 3s"' in shown.text
    with db.read() as session:
        row = session.get(Alert, alert_id)
        assert row.state == State.APPROVED and row.approver_id == city.admin.user_id


def test_an_exercise_says_it_goes_to_testers_only_and_its_author_may_approve_it(person, db, settings, city):
    subscriber(db, phone="+84900000001", point=IN_WEST, tester=True)
    subscriber(db, phone="+84900000002", point=IN_WEST)
    supervisor = person("supervisor@example.org")
    alert_id = created_id(compose(supervisor, settings, status="Exercise", district_ids=[str(city.west)]))
    page = supervisor.get(f"/admin/alerts/{alert_id}")
    assert shows(page, "this message goes only to the people who opted in to receive exercises and tests.")
    assert 'data-people="1"' in supervisor.get(f"/admin/alerts/{alert_id}/reach").text
    answer = supervisor.post(f"/admin/alerts/{alert_id}/approve",
                             data={"csrf_token": csrf_of(supervisor, "/admin/alerts")}, follow_redirects=False)
    assert answer.status_code == 303


def test_update_then_cancel_from_the_alerts_page(person, db, settings, city, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, phone="+84900000002", point=IN_EAST)
    original = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    run_jobs(db, registry)
    agent = person("agent@example.org")
    page = agent.get(f"/admin/alerts/{original}")
    assert f'href="/admin/alerts/{original}/update"' in page.text
    assert f'action="/admin/alerts/{original}/cancel"' not in page.text  # agents cannot cancel
    prefilled = agent.get(f"/admin/alerts/{original}/update").text
    assert "Crue attendue ce soir" in prefilled and f'value="{city.west}" checked' in prefilled
    token = csrf_of(agent, f"/admin/alerts/{original}")
    update_id = created_id(agent.post(f"/admin/alerts/{original}/update", follow_redirects=False, data={
        "csrf_token": token, **form(settings, severity="Extreme", district_ids=[str(city.west), str(city.east)])}))
    admin = person("admin@example.org")
    token = csrf_of(admin, "/admin/alerts")
    assert admin.post(f"/admin/alerts/{update_id}/approve", data={"csrf_token": token},
                      follow_redirects=False).status_code == 303
    run_jobs(db, registry)
    old = admin.get(f"/admin/alerts/{original}").text
    assert f'href="/admin/alerts/{update_id}"' in old and f'action="/admin/alerts/{original}/cancel"' not in old
    # the update is current: cancelling it is one click (and a note) for an approver
    cancelled = admin.post(f"/admin/alerts/{update_id}/cancel", follow_redirects=False,
                           data={"csrf_token": token, "note": "La rivière a baissé."})
    assert cancelled.headers["location"] == f"/admin/alerts/{update_id}?done=cancelled"
    with db.read() as session:
        assert session.get(Alert, update_id).state == State.CANCELLED
        cancel = session.scalar(select(Alert).where(Alert.msg_type == "Cancel"))
    again = admin.post(f"/admin/alerts/{update_id}/cancel", data={"csrf_token": token})
    assert again.status_code == 409 and shows(again, actions.AlertNotActive.title)
    # the public page tells the story: sent, updated, cancelled with its note
    public = person(language="fr").get(f"/alerts/{original}")
    assert public.status_code == 200
    assert shows(public, "This alert has been cancelled.") and "La rivière a baissé." in public.text
    assert f'href="/alerts/{update_id}"' in public.text
    assert cancel is not None and cancel.references_id == update_id


def test_the_preview_of_an_update_counts_the_people_its_follow_up_will_tell(person, db, settings, city, registry,
                                                                            client):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, phone="+84900000002", point=IN_EAST)
    subscriber(db, email="ana@example.org", point=IN_EAST, channels=("email",))
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    run_jobs(db, registry)
    agent = person("agent@example.org")
    token = csrf_of(agent, f"/admin/alerts/{original}")
    update_id = created_id(agent.post(f"/admin/alerts/{original}/update", follow_redirects=False, data={
        "csrf_token": token, **form(settings, district_ids=[str(city.west)])}))
    counted = agent.get(f"/admin/alerts/{update_id}/reach")
    assert 'data-people="1"' in counted.text and 'data-follow-up="2"' in counted.text
    told = " ".join(counted.text.split('data-follow-up="2"')[1].split("</p>")[0].split())
    assert "2 people the earlier message reached are outside the new area: they will be told" in told
    assert "(SMS: 1, E-mail: 1)" in told
    preview = client.get(f"/api/v1/alerts/{update_id}/preview", headers=bearer(client, "agent@example.org", PASSWORD))
    assert preview.json()["follow_up"] == {"people": 2, "channels": {"sms": 1, "email": 1, "push": 0}}
    assert preview.json()["people"] == 1


# ------------------------------------------------------------------ deliveries

def _set_state(db, alert_id: int, person_key: str, state: str, reason: str = "") -> None:
    with db.transaction() as session:
        session.execute(update(Delivery).where(Delivery.alert_id == alert_id, Delivery.person == person_key)
                        .values(state=state, reason=reason))


def test_the_dashboard_fragment_counts_per_channel_and_says_why_messages_failed(person, db, settings, city,
                                                                               registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, phone="+84900000002", point=IN_WEST)
    subscriber(db, email="ana@example.org", point=IN_WEST, channels=("email",))
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    agent = person("agent@example.org")
    before = agent.get(f"/admin/alerts/{alert_id}/deliveries")
    assert before.status_code == 200 and 'data-total="0"' in before.text
    assert shows(before, "Preparing the messages: the people in the area are being found.")
    run_jobs(db, registry)
    _set_state(db, alert_id, "phone:+84900000002", "failed", "number unreachable")
    _set_state(db, alert_id, "email:ana@example.org", "delivered")
    fragment = agent.get(f"/admin/alerts/{alert_id}/deliveries")
    counts = dict(re.findall(r'data-count="([a-z]+-[a-z]+)">(\d+)<', fragment.text))
    assert {k: counts[k] for k in ("sms-queued", "sms-failed", "email-delivered", "all-total")} == {
        "sms-queued": "1", "sms-failed": "1", "email-delivered": "1", "all-total": "3"}
    assert "number unreachable" in fragment.text and 'data-reason="sms">1<' in fragment.text
    assert 'hx-trigger="every 3s"' in fragment.text  # still moving: the page keeps polling
    assert "<html" not in fragment.text  # a fragment, not a page
    assert agent.get("/admin/alerts/999/deliveries").status_code == 404


def test_the_csv_export_masks_people(person, db, settings, city, registry):
    subscriber(db, phone="+84900000001", point=IN_WEST)
    subscriber(db, email="ana.lopez@example.org", point=IN_WEST, channels=("email",), language="vi")
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    run_jobs(db, registry)
    _set_state(db, alert_id, "phone:+84900000001", "failed", "=HYPERLINK(\"x\")")
    agent = person("agent@example.org")
    export = agent.get(f"/admin/alerts/{alert_id}/deliveries.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert "+84900000001" not in export.text and "ana.lopez@" not in export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["person"], r["address"], r["channel"], r["state"], r["language"]) for r in rows] == [
        ("email:a•••@example.org", "a•••@example.org", "email", "queued", "vi"),
        ("phone:+84 •••• 001", "+84 •••• 001", "sms", "failed", "fr")]
    assert rows[1]["reason"] == "'=HYPERLINK(\"x\")"  # never run as a formula by a spreadsheet
    assert all(datetime.fromisoformat(r["queued_at"]) and r["updated_at"] for r in rows)
    assert len(deliveries(db, alert_id)) == 2


# ------------------------------------------------------------------ citizens

def test_the_public_pages_speak_the_visitors_language_or_the_citys(person, db, settings, city):
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    vi = person(language="vi").get(f"/alerts/{alert_id}")
    assert vi.status_code == 200 and "Lũ tối nay" in vi.text and "Rời khỏi tầng trệt." in vi.text
    assert "Crue attendue ce soir" not in vi.text
    for language in ("en", "km"):  # no text in their language: the city's (French), said so
        page = person(language=language).get(f"/alerts/{alert_id}")
        assert '<h1 lang="fr">Crue attendue ce soir</h1>' in page.text
        assert shows(page, "This alert is not written in your language: here it is in the city's language.")
    page = person(language="fr").get(f"/alerts/{alert_id}")
    with db.read() as session:
        identifier = session.get(Alert, alert_id).identifier
    assert f'<link rel="alternate" type="application/cap+xml" href="/cap/alerts/{identifier}.xml"' in page.text
    assert '<link rel="alternate" type="application/atom+xml" href="/cap/alerts.atom"' in page.text
    assert 'data-areas="{' in page.text  # the area, drawn over the districts
    listing = person(language="vi").get("/alerts")
    assert listing.status_code == 200 and f'href="/alerts/{alert_id}"' in listing.text
    assert "Lũ tối nay" in listing.text
    assert '<link rel="alternate" type="application/atom+xml" href="/cap/alerts.atom"' in listing.text


def test_drafts_tests_and_unknown_alerts(person, db, settings, city):
    draft = actions.compose(db, settings, city.agent, AlertCreate.model_validate(
        {**{k: v for k, v in form(settings).items() if k in ("event", "categories", "urgency", "severity",
                                                               "certainty")},
         "infos": [{"language": "fr", "headline": "Brouillon secret"}],
         "area": {"district_ids": [city.west]}})).id
    visitor = person(language="fr")
    for path in (f"/alerts/{draft}", "/alerts/9999"):
        missing = visitor.get(path)
        assert missing.status_code == 404, path
        assert shows(missing, "This page or resource does not exist.")
        assert "Brouillon secret" not in missing.text
    assert "Brouillon secret" not in visitor.get("/alerts").text
    # a test alert is not listed publicly, but its page exists for the testers it was sent to
    test_id = sent_alert(db, settings, city, status="Test", area={"district_ids": [city.west]})
    assert f'href="/alerts/{test_id}"' not in visitor.get("/alerts").text
    assert visitor.get(f"/alerts/{test_id}").status_code == 200
    staff = person("agent@example.org")
    assert staff.get("/admin/alerts/9999").status_code == 404
    assert staff.get("/admin/alerts/9999/deliveries.csv").status_code == 404


def test_a_citizen_adds_and_removes_places_from_the_page(person, db, settings, city):
    factories.citizen(db, settings, CITIZEN)
    factories.citizen(db, settings, "+84912000002")
    me = person(CITIZEN, language="fr")
    page = me.get("/alerts/subscriptions")
    assert page.status_code == 200 and "+84 •••• 001" in page.text
    token = csrf_of(me, "/alerts/subscriptions")
    base = {"csrf_token": token, "label": "Maison", "place": "district", "district_id": str(city.west),
            "lon": "", "lat": "", "channels": ["sms"], "categories": ["Met"], "language": "vi"}
    added = me.post("/alerts/subscriptions", data=base, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/alerts/subscriptions?done=added"
    point = me.post("/alerts/subscriptions", data={**base, "label": "Travail", "place": "point",
                                                   "lon": str(IN_EAST[0]), "lat": str(IN_EAST[1])},
                    follow_redirects=False)
    assert point.status_code == 303
    # mistakes are shown next to the field, the form keeps what was typed
    outside = me.post("/alerts/subscriptions", data={**base, "label": "Paris", "place": "point",
                                                     "lon": "2.35", "lat": "48.85"})
    assert outside.status_code == 422
    assert error_of(outside.text, "place") == said(outside, "Place the point inside the city's districts.")
    assert 'value="Paris"' in outside.text
    no_email = me.post("/alerts/subscriptions", data={**base, "channels": ["email"]})
    assert no_email.status_code == 422 and error_of(no_email.text, "channels") == said(
        no_email, actions.MissingAddress.title)
    nothing = me.post("/alerts/subscriptions", data={**base, "place": "district", "district_id": ""})
    assert nothing.status_code == 422 and error_of(nothing.text, "place")
    with db.read() as session:
        rows = list(session.scalars(select(Subscription).order_by(Subscription.id)))
    assert [(s.label, s.district_id, s.lon, s.channels, s.language) for s in rows] == [
        ("Maison", city.west, None, ["sms"], "vi"), ("Travail", None, IN_EAST[0], ["sms"], "vi")]
    listing = me.get("/alerts/subscriptions?done=added").text
    assert "Maison" in listing and "Travail" in listing
    # someone else cannot remove them; their owner can
    other = person("+84912000002")
    assert other.post(f"/alerts/subscriptions/{rows[0].id}/delete",
                      data={"csrf_token": csrf_of(other, "/alerts/subscriptions")}).status_code == 404
    gone = me.post(f"/alerts/subscriptions/{rows[0].id}/delete", data={"csrf_token": token},
                   follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/alerts/subscriptions?done=deleted"
    after = me.get("/alerts/subscriptions").text
    assert "Maison" not in after and "Travail" in after


def test_citizens_and_visitors_are_kept_out_of_the_back_office(person, db, settings, city):
    factories.citizen(db, settings, CITIZEN)
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    citizen, visitor = person(CITIZEN), person()
    for path in ("/admin/alerts", "/admin/alerts/new", f"/admin/alerts/{alert_id}",
                 f"/admin/alerts/{alert_id}/deliveries", f"/admin/alerts/{alert_id}/deliveries.csv"):
        assert citizen.get(path).status_code == 403, path
        answer = visitor.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin"), path
    token = csrf_of(citizen, "/alerts")
    for action in ("approve", "cancel", "edit", "update"):
        assert citizen.post(f"/admin/alerts/{alert_id}/{action}", data={"csrf_token": token}).status_code == 403
    with db.read() as session:
        assert session.get(Alert, alert_id).state == State.APPROVED
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.purpose == "alerts")) == 0
