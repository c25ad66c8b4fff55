"""The live traffic map: a mobility agent sees the demo's road segments drawn as lines coloured
and lettered by level of service, and a segment that jams turns to F without a reload."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from browser_helpers import LiveCity
from playwright.sync_api import BrowserContext, expect

from parvis.kernel.db import utcnow
from parvis.modules.sensors import actions

pytestmark = pytest.mark.browser

MOBILITY_AGENT = "mobility.agent@demo.parvis.city"
F_COLOUR = "#b00020"  # as in the operations room


def test_the_traffic_map_draws_coloured_segments_and_follows_a_jam(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context(as_user=MOBILITY_AGENT).new_page()
    page.clock.install()
    page.goto("/sensors/traffic")
    segments = page.locator("#traffic-table tbody tr[data-segment]")
    count = segments.count()
    assert count >= 10  # two detectors per district
    expect(page.locator("#traffic-map")).to_have_attribute("data-ready", str(count))
    lines = page.locator("#traffic-map path.segment")
    expect(lines).to_have_count(count)
    colours = {lines.nth(i).get_attribute("stroke") for i in range(count)}
    assert colours and None not in colours and "#6b7570" not in colours  # every segment has a level
    letters = page.locator("#traffic-map .los-marker .los")
    expect(letters).to_have_count(count)  # not colour alone: the level's letter on each line

    # a segment jams: at most one refresh later, its line is dark red and lettered F
    target = segments.first.get_attribute("data-segment")
    entity_id = f"urn:ngsi-ld:TrafficFlowObserved:{target}"
    when = utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    actions.append_attributes(live_city.db, entity_id, {actions.attribute_iri("averageVehicleSpeed"): {
        "type": "Property", "value": 2.0, "observedAt": when}})
    page.clock.fast_forward(live_city.settings.sensors_traffic_refresh_seconds * 1000 + 500)
    page.wait_for_function(
        "id => JSON.parse(document.getElementById('traffic-map').dataset.levels || '{}')[id] === 'F'",
        arg=target)
    levels = json.loads(page.locator("#traffic-map").get_attribute("data-levels") or "{}")
    assert levels[target] == "F"
    expect(page.locator(f'#traffic-table tr[data-segment="{target}"] .los')).to_have_text("F")
    assert page.locator(f"#traffic-map path.los-line-F[stroke='{F_COLOUR}']").count() >= 1
