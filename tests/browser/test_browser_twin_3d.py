"""The twin's 3D view in a browser: the page loads MapLibre and the buildings from our own server
only (no request leaves 127.0.0.1), draws the buildings when the browser has WebGL (headless
Chromium gets SwiftShader's WebGL with the suite's launch arguments) and a click on a building
leads to its solar page; without WebGL (forced here the way an old phone lacks it) the page says
so and its address search still leads to the solar page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from browser_helpers import LiveCity, tr
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

NO_WEBGL = """
(() => {
  const original = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    if (/webgl/i.test(String(kind))) { return null; }
    return original.call(this, kind, ...rest);
  };
})();
"""


def _record_requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def _off_host(urls: list[str], live_city: LiveCity) -> list[str]:
    ours = urlsplit(live_city.url)
    return [u for u in urls if not u.startswith(("data:", "blob:"))
            and (urlsplit(u).hostname != "127.0.0.1" or urlsplit(u).port != ours.port)]


def _first_building(page: Page) -> dict:
    feature = page.request.get("/api/v1/twin/3d/buildings?limit=1").json()["features"][0]
    ring = feature["geometry"]["coordinates"][0][:-1]
    return {"id": feature["id"], "address": feature["properties"]["address"],
            "height": feature["properties"]["height_m"],
            "lon": sum(c[0] for c in ring) / len(ring), "lat": sum(c[1] for c in ring) / len(ring)}


def _search_and_open(page: Page, building: dict) -> None:
    page.fill("#twin3d-q", building["address"])
    with page.expect_navigation():
        page.press("#twin3d-q", "Enter")
    page.get_by_role("link", name=building["address"], exact=True).click()
    page.wait_for_url(f"**/twin/solar/buildings/{building['id']}")


def test_the_3d_view_draws_from_our_server_and_a_click_leads_to_the_solar_page(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context().new_page()
    urls = _record_requests(page)
    page.goto("/twin/3d")
    page.wait_for_function("document.documentElement.hasAttribute('data-twin3d')")
    state = page.evaluate("document.documentElement.getAttribute('data-twin3d')")
    has_webgl = page.evaluate("""() => { const c = document.createElement('canvas');
        return !!(c.getContext('webgl2') || c.getContext('webgl')); }""")
    # whichever state the browser gives, it is the true one
    assert state == ("drawn" if has_webgl else "no-webgl")
    assert any(u.endswith("/static/vendor/maplibre-gl/maplibre-gl.js") for u in urls)
    building = _first_building(page)
    if has_webgl:
        map_el = page.locator("#twin3d-map")
        everything = page.request.get("/api/v1/twin/3d/buildings").json()["count"]
        expect(map_el).to_have_attribute("data-loaded", str(everything))  # the start view frames the twin
        assert any("/api/v1/twin/3d/buildings?mode=solar&bbox=" in u for u in urls)
        rendered = page.evaluate("""(b) => new Promise((done) => {
            const map = window.parvisTwin3dMap;
            map.jumpTo({ center: [b.lon, b.lat], zoom: 19.5, pitch: 0, bearing: 0 });
            map.once('idle', () => done(map.queryRenderedFeatures({ layers: ['buildings'] }).length));
        })""", building)
        assert rendered >= 1  # the buildings are drawn, not just loaded
        box = map_el.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        info = page.locator("#twin3d-info")
        expect(info.locator("h2")).to_have_text(building["address"])
        expect(info).to_contain_text(f"{building['height']:g} m")
        info.locator("a.twin3d-solar-link").click()
        page.wait_for_url(f"**/twin/solar/buildings/{building['id']}")
    else:
        expect(page.locator("#twin3d-nowebgl")).to_be_visible()
        _search_and_open(page, building)
    assert _off_host(urls, live_city) == []


def test_without_webgl_the_page_says_so_and_its_search_leads_to_the_solar_page(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    context = new_context()
    context.add_init_script(NO_WEBGL)
    page = context.new_page()
    urls = _record_requests(page)
    page.goto("/twin/3d")
    page.wait_for_function("document.documentElement.getAttribute('data-twin3d') === 'no-webgl'")
    message = page.locator("#twin3d-nowebgl")
    expect(message).to_be_visible()
    expect(message.locator("a[href='/twin/solar']")).to_be_visible()
    expect(page.locator("#twin3d-map")).to_be_hidden()
    _search_and_open(page, _first_building(page))
    assert _off_host(urls, live_city) == []


def test_the_heat_colouring_tells_a_visitor_why_no_level_is_shown(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context().new_page()
    page.goto("/twin/3d")
    page.get_by_role("link", name=tr("fr", "Heat loss (thermography)")).click()
    page.wait_for_url("**/twin/3d?mode=heat")
    expect(page.locator("#twin3d-levels-notice")).to_be_visible()
    expect(page.locator(".twin3d-modes a[data-mode='heat']")).to_have_attribute("aria-current", "page")
