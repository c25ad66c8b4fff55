"""A visitor without an account reports a problem on the web: the report waits, seen by no one,
until they enter the code sent to their phone (or open the link in their e-mail)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update

import factories
from factories import last_code
from parvis.kernel.db import utcnow
from parvis.kernel.errors import ValidationFailed
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.reports import pending
from parvis.modules.reports.models import PendingReport, Photo, Report
from parvis.modules.reports.schemas import ReportCreate
from web_helpers import bearer, csrf_of, sign_in

PHONE = "+84912345601"
EN = {"Accept-Language": "en"}


def _form(**extra: str) -> dict[str, str]:
    return {"category": "NID", "attribute[NID][size]": "large", "description": "Trou devant l'école",
            "lon": "107.005", "lat": "16.005", "contact": "0912 345 601", "contact_channel": "auto",
            **extra}


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


def _submit(client: TestClient, data: dict[str, str], files=None):
    token = csrf_of(client, "/reports/new")
    return client.post("/reports/new", data={**data, "csrf_token": token}, files=files, headers=EN,
                       follow_redirects=False)


def _stash(client: TestClient, **extra: str) -> str:
    """Submit the form; returns the confirmation page's address."""
    response = _submit(client, _form(**extra))
    assert response.status_code == 303, response.text[:800]
    location = response.headers["location"]
    assert re.fullmatch(r"/reports/confirm/[A-Za-z0-9_-]{40,}", location), location
    return location


def _codes(db, to: str) -> list[OutboxMessage]:
    with db.read() as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == to, OutboxMessage.purpose == "reports.confirm")
            .order_by(OutboxMessage.id)))


def _enter(client: TestClient, location: str, code: str):
    token = csrf_of(client, location)
    return client.post(location, data={"code": code, "csrf_token": token}, headers=EN,
                       follow_redirects=False)


def _count(db, model) -> int:
    with db.read() as session:
        return len(session.scalars(select(model.id)).all())


def _age(db, **values) -> None:
    """Move the pending reports back in time (``expires_at``, ``last_sent_at``)."""
    with db.transaction() as session:
        session.execute(update(PendingReport).values(**values))


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _visible_anywhere(client: TestClient, text: str) -> bool:
    """In the public list, the JSON API, Open311 (JSON and XML) or on the map (the only report)."""
    pages = [client.get("/reports").text, client.get("/api/v1/reports").text,
             client.get("/open311/v2/requests.json").text, client.get("/open311/v2/requests.xml").text]
    return any(text in page for page in pages) or bool(client.get("/api/v1/reports/map").json()["features"])


def test_a_visitor_reports_without_an_account_and_confirms_with_the_sms_code(client, db, settings, city):
    form = client.get("/reports/new", headers=EN)
    assert form.status_code == 200
    assert 'name="contact"' in form.text and 'href="/signin?next=/reports/new"' in form.text

    location = _stash(client)
    sms = _codes(db, PHONE)  # the local number is read as the city's country's
    assert len(sms) == 1 and sms[0].channel == "sms"
    code = last_code(sms[0].body)
    assert _count(db, Report) == 0 and _count(db, PendingReport) == 1
    with db.read() as session:
        row = session.scalars(select(PendingReport)).one()
        assert code not in row.code_hash and location.rsplit("/", 1)[1] not in row.token_digest

    page = client.get(location, headers=EN)
    assert page.status_code == 200 and "+84 •••• 601" in page.text and PHONE not in page.text
    assert 'autocomplete="one-time-code"' in page.text and 'inputmode="numeric"' in page.text
    for who in (client, TestClient(client.app)):  # neither the visitor nor anyone else sees it yet
        assert not _visible_anywhere(who, "Trou devant")
    agent = bearer(client, "roads.agent@example.org")
    assert "Trou devant" not in client.get("/api/v1/reports/queue", headers=agent).text

    done = _enter(client, location, code)
    assert done.status_code == 303, done.text[:800]
    assert re.fullmatch(r"/reports/\d+\?created=1", done.headers["location"])
    shown = client.get(done.headers["location"], headers=EN)
    assert "Trou devant l&#39;école" in shown.text and "Thank you! Your report is registered" in shown.text
    with db.read() as session:
        report = session.scalars(select(Report)).one()
        received = session.scalars(select(OutboxMessage.body).where(
            OutboxMessage.recipient == PHONE, OutboxMessage.purpose == "reports.update")).all()
    assert (report.source, report.reporter_id, report.reporter_phone, report.contact_channel) == (
        "web", None, PHONE, "sms")
    assert report.attributes == {"size": "large"} and report.district_id == city.south
    assert len(received) == 1 and f"/reports/{report.id}" in received[0]
    assert "your report" in received[0]  # in the language the visitor used (English), not French
    assert _count(db, PendingReport) == 0
    assert _visible_anywhere(TestClient(client.app), "Trou devant")
    again = _enter(client, location, code)  # a second click files nothing more
    assert again.status_code == 404 and "no longer waiting for a code" in again.text
    assert _count(db, Report) == 1


def test_the_link_in_the_e_mail_fills_the_code_and_one_click_confirms(client, db, settings, city):
    location = _stash(client, contact=" Lan@Example.ORG ", name="Lan", show_name="1")
    mails = _codes(db, "lan@example.org")
    assert len(mails) == 1 and mails[0].channel == "email" and mails[0].subject
    link = re.search(r"https?://\S+(/reports/confirm/\S+\?code=(\d{6}))", mails[0].body)
    assert link and link.group(1).startswith(location)
    assert "l•••@example.org" in client.get(location).text
    # Opening the link (as a mail scanner would) files nothing: it fills the code in.
    page = client.get(link.group(1), follow_redirects=False)
    assert page.status_code == 200 and f'value="{link.group(2)}"' in page.text
    assert _count(db, Report) == 0 and _count(db, PendingReport) == 1
    done = _enter(client, location, link.group(2))
    assert done.status_code == 303 and done.headers["location"].endswith("?created=1")
    with db.read() as session:
        report = session.scalars(select(Report)).one()
    assert (report.reporter_email, report.contact_channel, report.reporter_name) == (
        "lan@example.org", "email", "Lan")
    assert "Lan" in client.get(done.headers["location"]).text  # "show my name" was ticked
    assert client.get(link.group(1), headers=EN, follow_redirects=False).status_code == 404


def test_the_sms_carries_the_link_too_so_a_closed_tab_loses_nothing(client, db, settings, city):
    location = _stash(client)
    sms = _codes(db, PHONE)
    assert len(sms) == 1 and sms[0].channel == "sms"
    link = re.search(r"https?://\S+(/reports/confirm/\S+\?code=(\d{6}))", sms[0].body)
    assert link and link.group(1).startswith(location) and link.group(2) == last_code(sms[0].body)
    # The tab that asked is gone: the phone's browser opens the link, the code is already there.
    phone = TestClient(client.app)
    page = phone.get(link.group(1), headers=EN, follow_redirects=False)
    assert page.status_code == 200 and f'value="{link.group(2)}"' in page.text
    done = _enter(phone, location, link.group(2))
    assert done.status_code == 303 and done.headers["location"].endswith("?created=1")
    assert _count(db, Report) == 1 and _count(db, PendingReport) == 0


def test_wrong_codes_are_counted_and_the_fifth_voids_the_report(client, db, settings, city):
    location = _stash(client)
    code = last_code(_codes(db, PHONE)[0].body)
    first = _enter(client, location, _wrong(code))
    assert first.status_code == 422 and "This code is wrong. Attempts left: 4." in first.text
    assert 'aria-invalid="true"' in first.text
    for left in (3, 2, 1):
        assert f"Attempts left: {left}." in _enter(client, location, _wrong(code)).text
    fifth = _enter(client, location, _wrong(code))
    assert fifth.status_code == 429 and "Too many wrong codes" in fifth.text
    assert 'href="/reports/new"' in fifth.text  # start again
    right = _enter(client, location, code)  # too late, even with the right code
    assert right.status_code == 429 and _count(db, Report) == 0
    _age(db, last_sent_at=utcnow() - timedelta(hours=1))
    token = csrf_of(client, "/reports/new")
    assert client.post(location + "/resend", data={"csrf_token": token}).status_code == 429
    assert len(_codes(db, PHONE)) == 1


def test_an_expired_report_cannot_be_confirmed_and_the_purge_deletes_it_with_its_photos(
        app, client, db, settings, city):
    response = _submit(client, _form(), files=[("photos", ("trou.jpg", _photo(), "image/jpeg"))])
    location = response.headers["location"]
    code = last_code(_codes(db, PHONE)[0].body)
    with db.read() as session:
        sha = session.scalars(select(PendingReport)).one().photos[0]["sha256"]
    store = app.state.files
    assert store.exists(f"reports/{sha}.jpg") and store.exists(f"reports/{sha}-thumb.jpg")
    assert pending.purge(db, store) == 0  # not yet expired

    _age(db, expires_at=utcnow() - timedelta(minutes=1))
    page = client.get(location, headers=EN)
    assert page.status_code == 410 and "The time to confirm this report is over" in page.text
    assert _enter(client, location, code).status_code == 410 and _count(db, Report) == 0

    tick = next(t for t in app.state.registry.ticks if t.__name__ == "purge_pending_reports")
    assert tick(db) == 1  # the worker's tick (every few minutes)
    assert _count(db, PendingReport) == 0
    assert not store.exists(f"reports/{sha}.jpg") and not store.exists(f"reports/{sha}-thumb.jpg")
    assert client.get(location).status_code == 404


def test_a_confirmed_photo_is_kept_and_shown(app, client, db, settings, city):
    response = _submit(client, _form(), files=[("photos", ("trou.jpg", _photo(), "image/jpeg"))])
    location = response.headers["location"]
    done = _enter(client, location, last_code(_codes(db, PHONE)[0].body))
    page = client.get(done.headers["location"])
    with db.read() as session:
        photo = session.scalars(select(Photo)).one()
    assert f"/reports/photos/{photo.id}-thumb.jpg" in page.text
    served = client.get(f"/reports/photos/{photo.id}.jpg")
    assert served.status_code == 200 and Image.open(io.BytesIO(served.content)).size == (
        photo.width, photo.height)
    # Another report set aside with the same photo expires: the filed report keeps its photo.
    _submit(client, _form(contact="0912345602"), files=[("photos", ("trou.jpg", _photo(), "image/jpeg"))])
    _age(db, expires_at=utcnow() - timedelta(minutes=1))
    assert pending.purge(db, app.state.files) == 1
    assert client.get(f"/reports/photos/{photo.id}.jpg").status_code == 200


def test_a_new_code_is_throttled_and_replaces_the_old_one(client, db, settings, city):
    location = _stash(client)
    old = last_code(_codes(db, PHONE)[0].body)
    token = csrf_of(client, location)
    early = client.post(location + "/resend", data={"csrf_token": token}, headers=EN)
    assert early.status_code == 429 and "Please wait" in early.text and len(_codes(db, PHONE)) == 1

    _age(db, last_sent_at=utcnow() - timedelta(seconds=settings.reports_pending_resend_seconds + 1))
    sent = client.post(location + "/resend", data={"csrf_token": token}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == location + "?sent=1"
    assert "A new code is on its way." in client.get(sent.headers["location"], headers=EN).text
    codes = _codes(db, PHONE)
    assert len(codes) == 2
    new = last_code(codes[1].body)
    if new != old:
        assert _enter(client, location, old).status_code == 422  # the old code stopped working
    for _ in range(pending.MAX_SENDS - 2):
        _age(db, last_sent_at=utcnow() - timedelta(hours=1))
        assert client.post(location + "/resend", data={"csrf_token": token},
                           follow_redirects=False).status_code == 303
    _age(db, last_sent_at=utcnow() - timedelta(hours=1))
    last = client.post(location + "/resend", data={"csrf_token": token}, headers=EN)
    assert last.status_code == 429 and "No more codes" in last.text
    assert len(_codes(db, PHONE)) == pending.MAX_SENDS
    done = _enter(client, location, last_code(_codes(db, PHONE)[-1].body))
    assert done.status_code == 303 and _count(db, Report) == 1


def test_mistakes_are_shown_on_the_form_before_any_code_is_sent(client, db, settings, city):
    outside = _submit(client, _form(lon="108.5", lat="16.5"))
    assert outside.status_code == 422 and "inside the city" in outside.text
    assert "Trou devant l&#39;école" in outside.text  # what was typed is kept
    unknown = _submit(client, _form(category="XYZ"))
    assert unknown.status_code == 422 and "This category does not exist." in unknown.text
    nobody = _submit(client, _form(contact=""))
    assert nobody.status_code == 422 and "Give a phone number or an e-mail address" in nobody.text
    assert re.search(r'id="f-contact"[^>]*aria-invalid="true"', nobody.text)
    bad_phone = _submit(client, _form(contact="12"))
    assert bad_phone.status_code == 422 and "This phone number is not valid." in bad_phone.text
    bad_mail = _submit(client, _form(contact="lan@example"))
    assert bad_mail.status_code == 422 and "This e-mail address is not valid." in bad_mail.text
    no_answer = _submit(client, {k: v for k, v in _form().items() if not k.startswith("attribute")})
    assert no_answer.status_code == 422
    fake = _submit(client, _form(), files=[("photos", ("cat.jpg", b"<svg></svg>", "image/jpeg"))])
    assert fake.status_code == 422 and "not a photo" in fake.text
    too_many = [("photos", (f"{i}.jpg", _photo(), "image/jpeg")) for i in range(settings.reports_max_photos + 1)]
    assert _submit(client, _form(), files=too_many).status_code == 422
    with db.read() as session:
        assert session.scalar(select(OutboxMessage.id)) is None
    assert _count(db, PendingReport) == 0 and _count(db, Report) == 0
    assert not list((settings.data_dir / "files").rglob("*.jpg"))


def test_too_many_reports_awaiting_a_code_from_one_connection_or_for_one_number(app, client, db, settings,
                                                                               city):
    settings.reports_pending_per_hour = 2
    _stash(client, contact="0912345611")
    _stash(client, contact="0912345612")
    third = _submit(client, _form(contact="0912345613"))
    assert third.status_code == 429 and third.headers["retry-after"] == "3600"
    assert "Too many reports from this connection" in third.text
    assert _codes(db, "+84912345613") == [] and _count(db, PendingReport) == 2

    # The same number, from two other connections: no more than the limit of codes.
    for host in ("192.0.2.1", "192.0.2.2"):
        with TestClient(app, client=(host, 4000)) as other:
            _stash(other, contact="0912345619")
    with TestClient(app, client=("192.0.2.3", 4000)) as other:
        refused = _submit(other, _form(contact="0912345619"))
    assert refused.status_code == 429 and "Too many codes were sent to this number" in refused.text
    assert len(_codes(db, "+84912345619")) == 2


def test_the_anonymous_burst_limit_stops_the_form_before_a_code_is_sent(client, db, settings, city):
    body = {"category": "EAU", "lon": 107.005, "lat": 16.005, "phone": "+84912345699"}
    for _ in range(settings.reports_anonymous_per_hour):
        assert client.post("/api/v1/reports", json=body).status_code == 201
    refused = _submit(client, _form())
    assert refused.status_code == 429 and "Too many reports from this connection" in refused.text
    assert _codes(db, PHONE) == [] and _count(db, PendingReport) == 0


def test_the_burst_limit_is_checked_again_when_the_code_is_entered(client, db, settings, city):
    location = _stash(client)
    body = {"category": "EAU", "lon": 107.005, "lat": 16.005, "phone": "+84912345699"}
    for _ in range(settings.reports_anonymous_per_hour):
        assert client.post("/api/v1/reports", json=body).status_code == 201
    refused = _enter(client, location, last_code(_codes(db, PHONE)[0].body))
    assert refused.status_code == 429 and "Too many reports from this connection" in refused.text
    assert _count(db, PendingReport) == 1  # still waiting: it can be confirmed later


def test_signed_in_citizens_file_at_once_without_a_code(client, db, settings, city):
    factories.citizen(db, settings, "+84912345688")
    sign_in(client, "+84912345688", factories.PASSWORD)
    assert 'name="contact"' not in client.get("/reports/new").text
    response = _submit(client, {k: v for k, v in _form().items() if k != "contact"})
    assert response.status_code == 303 and response.headers["location"].endswith("?created=1")
    assert _count(db, PendingReport) == 0 and _count(db, Report) == 1


def test_stash_refuses_a_report_without_contact(db, settings, city):
    data = ReportCreate(category="EAU", lon=107.005, lat=16.005)
    try:
        pending.stash(db, settings, data, ip="192.0.2.9", photos=[], store=None)  # type: ignore[arg-type]
    except ValidationFailed as exc:
        assert exc.errors[0]["field"] == "contact"
    else:  # pragma: no cover
        raise AssertionError("a pending report needs a phone or an e-mail address")
    assert _count(db, PendingReport) == 0


def test_an_unknown_confirmation_page_says_so(client):
    page = client.get("/reports/confirm/not-a-real-token", headers=EN)
    assert page.status_code == 404 and "no longer waiting for a code" in page.text


def test_the_forms_of_a_visitor_without_an_account_need_the_csrf_token(client, db, city):
    client.get("/reports/new")  # the visitor has the CSRF cookie, but the form's field is missing
    refused = client.post("/reports/new", data=_form(), headers=EN, follow_redirects=False)
    assert refused.status_code == 403 and _count(db, PendingReport) == 0 and _codes(db, PHONE) == []
    location = _stash(client)
    code = last_code(_codes(db, PHONE)[0].body)
    assert client.post(location, data={"code": code}, follow_redirects=False).status_code == 403
    assert client.post(location + "/resend", data={}, follow_redirects=False).status_code == 403
    assert _count(db, Report) == 0 and len(_codes(db, PHONE)) == 1


def test_codes_go_by_sms_only_to_numbers_of_the_city_country_and_within_a_city_wide_cap(
        app, client, db, settings, city):
    foreign = _submit(client, _form(contact="+33 6 12 34 56 78"))
    assert foreign.status_code == 422 and "phone number of this country, or an e-mail" in foreign.text
    assert _count(db, PendingReport) == 0
    settings.reports_pending_sms_per_hour = 1
    _stash(client, contact="0912345621")
    with TestClient(app, client=("192.0.2.40", 4000)) as other:
        capped = _submit(other, _form(contact="0912345622"))
        assert capped.status_code == 429 and "cannot send more codes by SMS" in capped.text
        assert _stash(other, contact="lan@example.org")  # e-mail still works
    assert _codes(db, "+84912345622") == []


def test_a_report_being_filed_is_not_purged_and_a_refused_one_leaves_no_photo(
        app, client, db, settings, city, monkeypatch):
    response = _submit(client, _form(), files=[("photos", ("trou.jpg", _photo(), "image/jpeg"))])
    assert response.status_code == 303
    with db.read() as session:
        sha = session.scalars(select(PendingReport)).one().photos[0]["sha256"]
    # The code was entered a moment before the deadline: the report is being filed (claimed).
    _age(db, expires_at=utcnow() - timedelta(seconds=1), claimed_at=utcnow())
    assert pending.purge(db, app.state.files) == 0 and app.state.files.exists(f"reports/{sha}.jpg")
    _age(db, claimed_at=utcnow() - pending.CLAIM_GRACE - timedelta(seconds=1))  # stuck for long
    assert pending.purge(db, app.state.files) == 1 and not app.state.files.exists(f"reports/{sha}.jpg")

    def refuse(*_args, **_kwargs):
        raise ValidationFailed("refused in the transaction")

    monkeypatch.setattr(pending, "_insert", refuse)
    refused = _submit(client, _form(), files=[("photos", ("trou.jpg", _photo(), "image/jpeg"))])
    assert refused.status_code == 422
    assert not app.state.files.exists(f"reports/{sha}.jpg")  # written, then removed with the refusal
