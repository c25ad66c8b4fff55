"""Citizens create an account with a phone number, sign in and out, with and without JS."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from browser_helpers import CITIZEN_PHONE, DEMO_PASSWORD, LiveCity, sign_in, tr
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from parvis.kernel.notify.models import OutboxMessage

pytestmark = pytest.mark.browser


def _sms_code(live_city: LiveCity, recipient: str) -> str:
    """The code the SMS carries: the latest outbox message to that number."""
    with live_city.db.read() as session:
        body = session.scalars(select(OutboxMessage.body)
                               .where(OutboxMessage.recipient == recipient)
                               .order_by(OutboxMessage.id.desc())).first()
    assert body, f"no message was queued for {recipient}"
    match = re.search(r"\b(\d{6})\b", body)
    assert match, f"no 6-digit code in the SMS {body!r}"
    return match.group(1)


def test_sign_up_with_a_local_phone_number_and_the_sms_code(page: Page,
                                                            live_city: LiveCity) -> None:
    page.goto("/signup")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.fill("#f-identifier", "0912 777 001")
    page.fill("#f-display_name", "Trần Văn Bình")
    page.fill("#f-password", "mot-de-passe-solide")
    with page.expect_navigation():
        page.click("form[action='/signup'] button[type=submit]")
    assert "/signup/confirm" in page.url
    assert "%2B84912777001" in page.url or "+84912777001" in page.url
    expect(page.locator("h1")).to_have_text(tr("fr", "Enter your code"))

    page.fill("#f-code", _sms_code(live_city, "+84912777001"))
    with page.expect_navigation():
        page.click("form[action='/signup/confirm'] button[type=submit]")

    assert re.search(r"/account(\?|$)", page.url), page.url
    expect(page.locator("p.flash")).to_have_text(tr("fr", "Your account is confirmed. Welcome!"))
    expect(page.locator("h1")).to_have_text(tr("fr", "My account"))
    expect(page.locator(".facts dd").first).to_have_text("+84912777001")
    expect(page.locator("#f-display_name")).to_have_value("Trần Văn Bình")
    # Signed in: the header offers "My account" and no longer "Sign in".
    expect(page.locator("header nav a[href='/account']")).to_be_visible()
    expect(page.locator("header nav a[href='/signin']")).to_have_count(0)


def test_a_wrong_sms_code_is_refused_and_the_person_stays_on_the_code_page(
        page: Page, live_city: LiveCity) -> None:
    page.goto("/signup")
    page.fill("#f-identifier", "0912 777 002")
    page.fill("#f-password", "mot-de-passe-solide")
    with page.expect_navigation():
        page.click("form[action='/signup'] button[type=submit]")
    real = _sms_code(live_city, "+84912777002")
    page.fill("#f-code", "000000" if real != "000000" else "111111")
    with page.expect_navigation():
        page.click("form[action='/signup/confirm'] button[type=submit]")
    assert "/signup/confirm" in page.url
    expect(page.locator("#e-code")).to_have_text(
        tr("fr", "This code is wrong or has expired. Ask for a new one."))
    expect(page.locator("#f-code")).to_have_attribute("aria-invalid", "true")


def test_demo_citizen_signs_in_and_reaches_my_account(page: Page) -> None:
    sign_in(page, CITIZEN_PHONE, DEMO_PASSWORD)
    page.click("header nav a[href='/account']")
    assert page.url.endswith("/account")
    expect(page.locator("h1")).to_have_text(tr("fr", "My account"))
    expect(page.locator(".facts dd").first).to_have_text(CITIZEN_PHONE)
    expect(page.locator("#f-display_name")).to_have_value("Nguyễn Thị Lan")


def test_a_wrong_password_shows_the_error_and_stays_on_sign_in(page: Page) -> None:
    sign_in(page, CITIZEN_PHONE, "not-the-password")
    assert "/signin" in page.url
    expect(page.locator("[role=alert]")).to_have_text(tr("fr", "Wrong identifier or password."))
    expect(page.locator("h1")).to_have_text(tr("fr", "Sign in"))
    expect(page.locator("#f-identifier")).to_have_value(CITIZEN_PHONE)
    expect(page.locator("header nav a[href='/account']")).to_have_count(0)


def test_sign_in_works_without_javascript(new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, CITIZEN_PHONE, DEMO_PASSWORD)
    page.goto("/account")
    assert page.url.endswith("/account")
    expect(page.locator("h1")).to_have_text(tr("fr", "My account"))
    expect(page.locator(".facts dd").first).to_have_text(CITIZEN_PHONE)
    # and signs out with the header's button, still without JavaScript
    with page.expect_navigation():
        page.click("form[action='/signout'] button")
    expect(page.locator("header nav a[href='/signin']")).to_be_visible()
