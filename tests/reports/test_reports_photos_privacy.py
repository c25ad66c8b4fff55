"""Photos through the report form are cleaned; erasure keeps reports without the person."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

import factories
from parvis.modules.reports.models import Photo, Report
from web_helpers import bearer, csrf_of, sign_in


def _photo_with_gps() -> bytes:
    image = Image.new("RGB", (2400, 1800), (120, 90, 60))
    exif = Image.Exif()
    exif[0x010F] = "SecretPhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (16.0, 27.0, 47.0), "E", (107.0, 35.0, 6.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_citizen_files_a_report_with_photos_from_the_form(client, db, settings, city):
    factories.citizen(db, settings, "+84912348001")
    sign_in(client, "+84912348001", factories.PASSWORD)
    token = csrf_of(client, "/reports/new")
    response = client.post("/reports/new", data={
        "csrf_token": token, "category": "NID", "attribute[NID][size]": "large",
        "description": "Trou", "lon": "107.005", "lat": "16.005", "contact_channel": "sms"},
        files=[("photos", ("a.jpg", _photo_with_gps(), "image/jpeg")),
               ("photos", ("b.jpg", _photo_with_gps(), "image/jpeg"))], follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    page = client.get(response.headers["location"])
    assert "Trou" in page.text
    with db.read() as session:
        photos = list(session.scalars(select(Photo)))
    assert len(photos) == 2 and max(photos[0].width, photos[0].height) <= settings.photo_max_side
    served = client.get(f"/reports/photos/{photos[0].id}.jpg")
    assert served.headers["content-type"] == "image/jpeg"
    assert b"SecretPhoneMaker" not in served.content and b"Exif" not in served.content
    assert not Image.open(io.BytesIO(served.content)).getexif()
    assert client.get(f"/reports/photos/{photos[0].id}-thumb.jpg").status_code == 200


def test_a_fake_photo_is_refused_and_nothing_is_written(client, db, settings, city):
    factories.citizen(db, settings, "+84912348002")
    sign_in(client, "+84912348002", factories.PASSWORD)
    token = csrf_of(client, "/reports/new")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
    response = client.post("/reports/new", data={
        "csrf_token": token, "category": "NID", "attribute[NID][size]": "large",
        "lon": "107.005", "lat": "16.005"}, files=[("photos", ("cat.jpg", svg, "image/jpeg"))],
        headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert "not a photo" in response.text
    with db.read() as session:
        assert session.scalars(select(Report)).first() is None


def test_hidden_photo_is_gone_for_the_public_but_kept_for_staff(client, db, settings, city):
    from parvis.modules.reports import actions, queries

    test_citizen_files_a_report_with_photos_from_the_form(client, db, settings, city)
    with db.read() as session:
        photo = session.scalars(select(Photo)).first()
        report_id = photo.report_id
    agent_principal = None
    from parvis.modules.accounts import queries as accounts_queries

    with db.read() as session:
        agent = accounts_queries.users(session, search="roads.agent")[0][0]
        agent_principal = accounts_queries.principal_for(agent)
    actions.redact(db, agent_principal, report_id, "Trou (texte modéré)", [photo.id])
    client.cookies.clear()
    assert client.get(f"/reports/photos/{photo.id}.jpg").status_code == 404
    public = client.get(f"/api/v1/reports/{report_id}").json()
    assert public["description"] == "Trou (texte modéré)" and len(public["photos"]) == 1
    staff = bearer(client, "roads.agent@example.org")
    assert client.get(f"/reports/photos/{photo.id}.jpg", headers=staff).status_code == 200
    with db.read() as session:
        assert queries.report(session, report_id).photos[0].hidden is True


def test_erasing_an_account_keeps_its_reports_anonymous(client, db, settings, city):
    factories.citizen(db, settings, "+84912348003")
    headers = bearer(client, "+84912348003")
    report = client.post("/api/v1/reports", json={"category": "EAU", "lon": 107.005, "lat": 16.005,
                                                  "show_name": True, "name": "Lan"}, headers=headers).json()
    exported = client.get("/api/v1/me/export", headers=headers).json()
    assert [r["id"] for r in exported["reports"]] == [report["id"]]
    assert client.post("/api/v1/me/erase", data={"password": factories.PASSWORD},
                       headers=headers).status_code == 204
    with db.read() as session:
        kept = session.get(Report, report["id"])
    assert kept is not None and kept.reporter_id is None
    assert (kept.reporter_phone, kept.reporter_name, kept.contact_channel) == (None, "", "none")
    assert client.get(f"/api/v1/reports/{report['id']}").status_code == 200
