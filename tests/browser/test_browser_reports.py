"""A citizen files a report with a photo on a phone and follows it; agents acknowledge,
transfer and resolve it; the citizen is told at each step and rates the city's work."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from browser_helpers import CITIZEN_PHONE, ROADS_AGENT, LiveCity, tr
from PIL import Image
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import select

from parvis.kernel.auth import Principal, Role
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.reports import actions
from parvis.modules.reports.models import Report
from parvis.modules.reports.schemas import ReportCreate

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


def _photo() -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (1600, 1200), (90, 90, 90))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _updates_to(live_city: LiveCity, number: str) -> list[str]:
    with live_city.db.read() as session:
        return [m for m in session.scalars(select(OutboxMessage.body).where(
            OutboxMessage.recipient == number, OutboxMessage.purpose == "reports.update")
            .order_by(OutboxMessage.id))]


def test_report_with_photo_on_a_phone_then_followed_to_resolution_and_rated(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    before = len(_updates_to(live_city, CITIZEN_PHONE))
    citizen = new_context(as_user=CITIZEN_PHONE, **PHONE).new_page()
    citizen.goto("/reports/new")
    citizen.select_option("#f-category", "NID")
    expect(citizen.locator("fieldset[data-category='NID']")).to_be_visible()
    expect(citizen.locator("fieldset[data-category='EAU']")).to_be_hidden()
    citizen.select_option("#a-NID-size", "large")
    citizen.fill("#f-description", "Gros trou devant la pharmacie")
    the_map = citizen.locator(".map[data-pick]")
    expect(the_map).to_have_attribute("data-ready", str(live_city.district_count))
    the_map.scroll_into_view_if_needed()
    box = the_map.bounding_box()
    assert box is not None
    citizen.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # tap the map
    expect(citizen.locator("#f-lat")).not_to_have_value("")
    citizen.set_input_files("#f-photos", files=[{"name": "trou.jpg", "mimeType": "image/jpeg",
                                                 "buffer": _photo()}])
    with citizen.expect_navigation():
        citizen.click("form[action='/reports/new'] button[type=submit]:not([formaction])")
    match = re.search(r"/reports/(\d+)\?created=1", citizen.url)
    assert match, citizen.url
    report_id = int(match.group(1))
    expect(citizen.locator("p.flash")).to_be_visible()
    expect(citizen.locator(".photos img")).to_have_count(1)
    assert citizen.evaluate("document.documentElement.scrollWidth") <= 360
    assert len(_updates_to(live_city, CITIZEN_PHONE)) == before + 1  # "received, number ..."

    roads = new_context(as_user=ROADS_AGENT).new_page()
    roads.goto("/admin/reports")
    expect(roads.locator(f"a[href='/admin/reports/{report_id}']").first).to_be_visible()
    roads.goto(f"/admin/reports/{report_id}")
    roads.select_option("#st-status", "acknowledged")
    roads.fill("#st-comment", "Vu, merci.")
    with roads.expect_navigation():
        roads.click(f"form[action='/admin/reports/{report_id}/status'] button[type=submit]")
    water = str(live_city.department_ids["water"])
    roads.select_option("#t-department", water)
    roads.fill("#t-reason", "Conduite d'eau cassée sous la chaussée")
    with roads.expect_navigation():
        roads.click(f"form[action='/admin/reports/{report_id}/transfer'] button[type=submit]")
    assert roads.goto(f"/admin/reports/{report_id}").status == 403  # no longer roads' report

    water_agent = new_context(as_user="water.agent@demo.parvis.city").new_page()
    water_agent.goto(f"/admin/reports/{report_id}")
    water_agent.select_option("#st-status", "resolved")
    water_agent.fill("#st-comment", "Réparé ce matin.")
    with water_agent.expect_navigation():
        water_agent.click(f"form[action='/admin/reports/{report_id}/status'] button[type=submit]")

    messages = _updates_to(live_city, CITIZEN_PHONE)
    assert len(messages) == before + 3 and "Réparé ce matin." in messages[-1]
    citizen.goto(f"/reports/{report_id}")
    expect(citizen.locator(".status")).to_have_text(tr("fr", "Resolved"))
    expect(citizen.locator(".timeline")).to_contain_text("Réparé ce matin.")
    citizen.check("#r4")
    with citizen.expect_navigation():
        citizen.click(f"form[action='/reports/{report_id}/rate'] button[type=submit]")
    expect(citizen.locator("p.flash")).to_have_text(tr("fr", "Thank you for your evaluation."))
    expect(citizen.locator(".status")).to_have_text(tr("fr", "Closed"))


def test_public_reports_map_clusters_markers_without_leaving_the_machine(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context().new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_city.url) else None)
    page.goto("/reports")
    the_map = page.locator(".map")
    expect(the_map).to_have_attribute("data-ready", str(live_city.district_count))
    expect(the_map).to_have_attribute("data-markers", re.compile(r"[1-9]\d*"))
    expect(page.locator(".leaflet-marker-icon.marker-cluster, .leaflet-interactive").first).to_be_visible()
    assert outside == []


def test_a_report_written_without_network_is_sent_when_the_network_returns(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    context = new_context(as_user=CITIZEN_PHONE, **PHONE)
    page = context.new_page()
    page.goto("/reports/new")
    expect(page.locator(".map[data-pick]")).to_have_attribute("data-ready", str(live_city.district_count))
    page.select_option("#f-category", "LAMP")
    page.fill("#f-description", "Lampadaire éteint, écrit hors réseau")
    page.fill("#f-lat", "16.463")
    page.fill("#f-lon", "107.585")
    context.set_offline(True)
    page.click("form[action='/reports/new'] button[type=submit]:not([formaction])")
    expect(page.locator("[data-draft-status]")).to_be_visible()
    assert "/reports/new" in page.url  # nothing left the phone
    with live_city.db.read() as session:
        assert session.scalars(select(Report).where(
            Report.description == "Lampadaire éteint, écrit hors réseau")).first() is None
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")  # a second "online": no double send
    expect(page.locator("main > p.flash a")).to_have_count(1)
    page.wait_for_timeout(500)
    expect(page.locator("main > p.flash a")).to_have_count(1)
    with live_city.db.read() as session:
        sent = session.scalars(select(Report).where(
            Report.description == "Lampadaire éteint, écrit hors réseau")).one()
    assert sent.source == "web" and sent.lat == 16.463


def test_an_offline_draft_the_city_refuses_is_dropped_with_a_message(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    context = new_context(as_user=CITIZEN_PHONE, **PHONE)
    page = context.new_page()
    page.goto("/reports/new")
    page.fill("#f-description", "Sans catégorie ni lieu")  # the city will refuse it
    context.set_offline(True)
    page.click("form[action='/reports/new'] button[type=submit]:not([formaction])")
    expect(page.locator("[data-draft-status]")).to_be_visible()
    context.set_offline(False)
    expect(page.locator("main > p.alert a")).to_have_text(
        tr("fr", "Your report saved without network could not be registered. Please write it again."))
    page.goto("/reports/mine")  # a later page does not try it again
    page.wait_for_timeout(500)
    expect(page.locator("main > p.alert a")).to_have_count(0)


def test_me_too_from_the_report_form_supports_the_open_report_instead_of_a_duplicate(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    lon, lat = 107.5712, 16.4571  # a corner of the city where the demo put no street light report
    existing = actions.create_report(
        live_city.db, live_city.settings, Principal(role=Role.ANONYMOUS),
        ReportCreate(category="LAMP", description="Lampadaire éteint depuis lundi", lon=lon, lat=lat,
                     phone="+84912399001"), source="api")
    with live_city.db.read() as session:
        reports_before = len(session.scalars(select(Report.id)).all())
    page = new_context(as_user=CITIZEN_PHONE, **PHONE).new_page()
    page.goto("/reports/new")
    expect(page.locator(".map[data-pick]")).to_have_attribute("data-ready", str(live_city.district_count))
    page.select_option("#f-category", "LAMP")
    page.fill("#f-lat", str(lat))
    page.fill("#f-lon", str(lon + 0.0002))  # about 20 m away
    page.dispatch_event("#f-lon", "change")
    me_too = page.locator(f"#nearby button[formaction='/reports/{existing.id}/support']")
    expect(me_too).to_be_visible()
    # The category's and the position's look-ups may still be in flight or settling (htmx swaps
    # #nearby when each answers): click once the block no longer moves.
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
    expect(me_too).to_be_visible()
    with page.expect_navigation():
        me_too.click()
    assert re.search(rf"/reports/{existing.id}\?done=support$", page.url), page.url
    with live_city.db.read() as session:
        assert session.get(Report, existing.id).interest_count == 2
        assert len(session.scalars(select(Report.id)).all()) == reports_before  # no duplicate filed
