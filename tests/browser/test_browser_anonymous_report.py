"""A visitor without an account reports a problem with a photo from a phone, receives a code by
SMS, types it, and lands on their report."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_helpers import LiveCity, tr
from PIL import Image
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import select

from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.reports.models import Report

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
NUMBER = "+84912777321"


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (70, 110, 90)).save(out, "JPEG")
    return out.getvalue()


def _codes_to(live_city: LiveCity, number: str) -> list[str]:
    with live_city.db.read() as session:
        return list(session.scalars(select(OutboxMessage.body).where(
            OutboxMessage.recipient == number, OutboxMessage.purpose == "reports.confirm")
            .order_by(OutboxMessage.id)))


def test_anonymous_report_with_a_photo_on_a_phone_confirmed_with_the_sms_code(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context(**PHONE).new_page()
    page.goto("/reports/new")
    expect(page.locator("a[href='/signin?next=/reports/new']")).to_be_visible()  # or sign in
    page.select_option("#f-category", "NID")
    page.select_option("#a-NID-size", "small")
    page.fill("#f-description", "Trou signalé sans compte, devant la poste")
    the_map = page.locator(".map[data-pick]")
    expect(the_map).to_have_attribute("data-ready", str(live_city.district_count))
    the_map.scroll_into_view_if_needed()
    box = the_map.bounding_box()
    assert box is not None
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#f-lat")).not_to_have_value("")
    page.set_input_files("#f-photos", files=[{"name": "trou.jpg", "mimeType": "image/jpeg",
                                              "buffer": _photo()}])
    page.fill("#f-contact", "0912 777 321")  # a local number, as people write it
    page.fill("#f-name", "Minh")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    with page.expect_navigation():
        page.click("form[action='/reports/new'] button[type=submit]:not([formaction])")

    assert re.search(r"/reports/confirm/[A-Za-z0-9_-]+$", page.url), page.url
    expect(page.locator("h1")).to_have_text(tr("fr", "Confirm your report"))
    expect(page.locator("main")).to_contain_text("+84 •••• 321")
    with live_city.db.read() as session:  # nothing is filed before the code
        assert session.scalars(select(Report).where(
            Report.description.like("Trou signalé sans compte%"))).first() is None
    blocking = [v for v in Axe().run(page).response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not blocking, blocking
    codes = _codes_to(live_city, NUMBER)
    assert len(codes) == 1
    code = re.search(r"\b(\d{6})\b", codes[0])
    assert code, codes[0]
    code_field = page.locator("#f-code")
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    expect(code_field).to_have_attribute("inputmode", "numeric")
    code_field.fill(code.group(1))
    with page.expect_navigation():
        page.click("form[action^='/reports/confirm/'] button[type=submit]")

    match = re.search(r"/reports/(\d+)\?created=1", page.url)
    assert match, page.url
    expect(page.locator("p.flash")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Trou signalé sans compte, devant la poste")
    expect(page.locator(".photos img")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    with live_city.db.read() as session:
        report = session.get(Report, int(match.group(1)))
        assert report is not None and report.reporter_phone == NUMBER and report.reporter_id is None
