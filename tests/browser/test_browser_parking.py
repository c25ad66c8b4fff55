"""The city's sensor views in a browser: a citizen finds free parking near them ("use my
location" with a fake geolocation lists the nearest car park with free spaces first and draws
them on the map); the air-quality map; the waste department's page and printable list."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from browser_helpers import ADMIN_EMAIL, LiveCity
from playwright.sync_api import BrowserContext, expect

from parvis.kernel.db import utcnow
from parvis.modules.sensors import actions
from parvis.modules.sensors.standards.ngsi_ld import LOCATION, EntityIn

pytestmark = pytest.mark.browser

HERE = (10.0, 10.0)  # lon, lat: far from the demo city, so that only these car parks are near


def _car_park(name: str, lon: float, lat: float, free: int) -> EntityIn:
    when = utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    prop = actions.attribute_iri
    return EntityIn(id=f"urn:ngsi-ld:OffStreetParking:browser-{name}", type=actions.type_iri("OffStreetParking"),
                    attrs={prop("name"): {"type": "Property", "value": f"Parking {name}"},
                           prop("totalSpotNumber"): {"type": "Property", "value": 30},
                           prop("availableSpotNumber"): {"type": "Property", "value": free, "observedAt": when},
                           LOCATION: {"type": "GeoProperty",
                                      "value": {"type": "Point", "coordinates": [lon, lat]}}})


def test_use_my_location_lists_the_nearest_car_park_with_free_spaces_first(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    lon, lat = HERE
    for entity in (_car_park("far", lon + 0.004, lat, 12), _car_park("full", lon, lat + 0.0004, 0),
                   _car_park("near", lon - 0.001, lat, 3)):
        actions.upsert_entity(live_city.db, entity)
    context = new_context(geolocation={"latitude": lat, "longitude": lon}, permissions=["geolocation"])
    page = context.new_page()
    page.goto("/parking")
    page.locator("[data-locate]").click()
    page.wait_for_url("**/parking?*lat=*")
    items = page.locator(".parking-list > li h3 a")
    expect(items.first).to_have_text("Parking near")
    expect(items).to_have_count(2)  # the full one is left out
    expect(items.nth(1)).to_have_text("Parking far")
    expect(page.locator(".parking-list > li").first).to_contain_text("3 / 30")
    expect(page.locator(".parking-map")).to_have_attribute("data-ready", "2")
    expect(page.locator(".parking-map .leaflet-interactive")).to_have_count(3)  # two car parks and me


def test_the_air_page_draws_each_station_in_its_category(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    prop = actions.attribute_iri
    when = utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    actions.upsert_entity(live_city.db, EntityIn(
        id="urn:ngsi-ld:AirQualityObserved:browser-1", type=actions.type_iri("AirQualityObserved"),
        attrs={prop("name"): {"type": "Property", "value": "Browser station"},
               prop("pm25"): {"type": "Property", "value": 120.0, "observedAt": when},
               LOCATION: {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.0, 10.1]}}}))
    page = new_context().new_page()
    page.goto("/air")
    station = page.locator(".air-station", has_text="Browser station")
    expect(station.locator(".aqi")).to_have_text("179")  # 150 + 50 x (120 - 80) / 70
    expect(station.locator(".aqi")).to_have_class("aqi aqi-bad")
    stations = page.locator(".air-station").count()
    expect(page.locator(".air-map")).to_have_attribute("data-ready", str(stations))
    expect(page.locator(".air-map .leaflet-interactive")).to_have_count(stations)


def test_the_waste_page_for_the_city_admin(new_context: Callable[..., BrowserContext],
                                           live_city: LiveCity) -> None:
    page = new_context(as_user=ADMIN_EMAIL).new_page()
    page.goto("/sensors/waste")
    expect(page.locator("#to-collect h2")).to_be_visible()
    the_map = page.locator(".waste-map")
    containers = len(json.loads(the_map.get_attribute("data-markers") or "[]"))
    assert containers > 0  # the demo city's bins
    expect(the_map).to_have_attribute("data-ready", str(containers))
    expect(page.locator(".waste-map .leaflet-interactive")).to_have_count(containers)
    page.goto("/sensors/waste/print")
    expect(page.locator("[data-print]")).to_be_visible()


def test_a_name_sent_by_a_device_is_shown_as_text_never_run(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    lon, lat = 20.0, 20.0  # away from the other tests' car parks
    actions.upsert_entity(live_city.db, _car_park('<img src=x onerror="window.__xss=1">', lon, lat + 0.001, 4))
    page = new_context().new_page()
    page.goto(f"/parking?lat={lat}&lon={lon}&radius=300")
    expect(page.locator(".parking-map")).to_have_attribute("data-ready", "1")
    page.locator(".parking-map .leaflet-interactive").first.hover()
    tooltip = page.locator(".leaflet-tooltip")
    expect(tooltip).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(tooltip.locator("img")).to_have_count(0)
    assert page.evaluate("window.__xss") is None
