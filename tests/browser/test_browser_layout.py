"""What a person on a small phone or with a keyboard notices: nothing overflows sideways,
and the first Tab offers a visible "skip to content" link in either reading direction."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browser_helpers import LiveCity, page_params, page_url, tr
from playwright.sync_api import BrowserContext, expect

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}

# The innermost elements whose box sticks out of the viewport sideways (what to fix first);
# Leaflet's own layers are left out: the map clips them.
STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const out = e => { const r = e.getBoundingClientRect();
                     return r.width > 0 && (r.right > width + 1 || r.left < -1); };
  const all = [...document.querySelectorAll('main *')]
    .filter(e => !e.closest('.leaflet-container') && out(e));
  return all.filter(e => !all.some(o => o !== e && e.contains(o))).slice(0, 4)
    .map(e => { const r = e.getBoundingClientRect(), p = e.closest('table, nav, form');
                return (p ? p.tagName.toLowerCase() + ' > ' : '') + e.tagName.toLowerCase()
                  + ' "' + e.textContent.trim().slice(0, 30) + '" ['
                  + Math.round(r.left) + ', ' + Math.round(r.right) + ']'; });
}"""


@pytest.mark.parametrize(("path", "who", "locale"), page_params())
def test_page_fits_a_phone_screen_without_sideways_scrolling(
        path: str, who: str | None, locale: str | None,
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    options: dict = {"as_user": who, "viewport": PHONE, "is_mobile": True, "has_touch": True}
    if locale:
        options["locale"] = locale
    page = new_context(**options).new_page()
    url = page_url(path, live_city)
    response = page.goto(url)
    assert response is not None and response.status == 200
    scroll_width, client_width = page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert scroll_width <= client_width, (
        f"{url} is {scroll_width}px wide on a {client_width}px phone screen; "
        f"sticking out: {page.evaluate(STICKING_OUT)}")


@pytest.mark.parametrize("locale", ["fr", "ar"])
def test_the_first_tab_shows_a_skip_link_that_leads_to_the_content(
        locale: str, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(locale=locale).new_page()
    page.goto("/signin")
    expect(page.locator("html")).to_have_attribute("lang", locale)
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    expect(skip).to_have_text(tr(locale, "Skip to content"))
    box = skip.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
    assert 0 <= box["y"] < viewport["height"], box
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)"), (
        "after the skip link, Tab did not land inside the main content")
    expect(page.locator("#f-identifier")).to_be_focused()
