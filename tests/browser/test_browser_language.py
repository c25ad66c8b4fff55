"""The language menu: Arabic is translated and laid out right to left."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browser_helpers import tr
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser


def _centre_x(page: Page, selector: str) -> float:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not displayed"
    return box["x"] + box["width"] / 2


def test_switching_to_arabic_translates_and_mirrors_the_page(page: Page) -> None:
    page.goto("/")
    width = page.viewport_size["width"] if page.viewport_size else 1280
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    french_sign_in = page.locator("header nav a[href='/signin']").inner_text()
    assert french_sign_in == tr("fr", "Sign in")
    assert _centre_x(page, "header a.brand") < width / 2

    with page.expect_navigation():  # the menu submits itself when JavaScript runs
        page.select_option("#lang-select", label="العربية")

    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    sign_in_link = page.locator("header nav a[href='/signin']")
    expect(sign_in_link).to_have_text(tr("ar", "Sign in"))
    assert sign_in_link.inner_text() != french_sign_in
    expect(page.locator("h2").first).to_have_text(tr("ar", "Districts"))
    expect(page.locator("#lang-select")).to_have_value("ar")
    assert _centre_x(page, "header a.brand") > width / 2, "the header is not mirrored"
    # The choice sticks when the person moves on.
    page.goto("/signin")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text(tr("ar", "Sign in"))


def test_the_language_button_works_without_javascript(
        new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/signin")
    page.select_option("#lang-select", "en")
    with page.expect_navigation():
        page.click("form.lang button[type=submit]")
    assert page.url.endswith("/signin")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(tr("en", "Sign in"))
