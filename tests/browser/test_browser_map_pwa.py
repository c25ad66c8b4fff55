"""The home page's map draws the districts from our own files; the site installs as a PWA."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from browser_helpers import LiveCity
from playwright.sync_api import BrowserContext, Request, expect

pytestmark = pytest.mark.browser


def test_the_map_draws_every_district_without_any_outside_request(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    assert live_city.settings.tile_url == ""
    context = new_context()
    requested: list[str] = []

    def remember(request: Request) -> None:
        requested.append(request.url)

    context.on("request", remember)
    page = context.new_page()
    page.goto("/")
    the_map = page.locator(".map")
    expect(the_map).to_have_attribute("data-ready", str(live_city.district_count))
    assert live_city.district_count == 10
    expect(page.locator(".leaflet-overlay-pane path")).to_have_count(live_city.district_count)
    expect(page.locator(".leaflet-tile")).to_have_count(0)
    box = the_map.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    page.wait_for_load_state("networkidle")

    outside = [url for url in requested
               if urlsplit(url).scheme not in ("data", "blob")
               and urlsplit(url).hostname != "127.0.0.1"]
    assert not outside, f"requests left the city's server: {outside}"
    assert any(urlsplit(url).path == "/api/v1/districts" for url in requested)
    assert any("/static/vendor/leaflet/leaflet.js" in url for url in requested)


def test_the_manifest_loads_and_the_service_worker_registers(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context().new_page()
    page.goto("/")
    href = page.locator("link[rel=manifest]").get_attribute("href")
    assert href, "no manifest link"
    response = page.request.get(href)
    assert response.ok, f"{href} answered {response.status}"
    manifest = response.json()
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    assert manifest["name"]
    sizes = {icon.get("sizes") for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert page.request.get(icon["src"]).ok, f"icon {icon['src']} does not load"

    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{live_city.url}/"
    script = page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
    assert script == f"{live_city.url}/sw.js"
