"""A planner in a browser: moves the water-level slider of the flood what-if and sees the flood
overlay, the flooded area and the exposure change without a reload; turns the HAND layer on;
opens the buildable zones and downloads their CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from browser_helpers import ROADS_AGENT, LiveCity, tr
from playwright.sync_api import BrowserContext, expect

from parvis.modules.twin.flood import ILLUSTRATIVE_NOTICE

pytestmark = pytest.mark.browser


def test_a_planner_moves_the_water_level_and_the_figures_follow(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context(as_user=ROADS_AGENT).new_page()
    page.goto("/twin/planning/flood")
    expect(page.locator("#planning-notice")).to_contain_text(tr("fr", ILLUSTRATIVE_NOTICE))
    the_map = page.locator("#planning-map")
    expect(the_map).to_have_attribute("data-ready", "1")
    expect(the_map).to_have_attribute("data-hazard-ready", "3")  # high, medium and low bands
    area = page.locator("#flood-area")
    buildings = page.locator("#flood-buildings")
    before_area = float(area.get_attribute("data-value") or "nan")
    before_buildings = int(buildings.get_attribute("data-value") or "-1")
    overlay = page.locator("#planning-map img.leaflet-image-layer").first
    before_src = overlay.get_attribute("src")
    page.evaluate("window.plannerStayed = true")  # gone if the page reloads

    page.locator("#level-range").fill("7")
    expect(the_map).to_have_attribute("data-level", "7")
    expect(area).not_to_have_attribute("data-value", str(before_area))
    assert float(area.get_attribute("data-value") or "nan") > before_area
    assert int(buildings.get_attribute("data-value") or "-1") > before_buildings
    expect(page.locator("#level-out")).to_contain_text("7")
    assert overlay.get_attribute("src") != before_src and "level=7" in (overlay.get_attribute("src") or "")
    assert page.evaluate("window.plannerStayed === true")
    rows = page.locator("#flood-districts tbody tr")
    assert rows.count() >= 1
    assert sum(int(rows.nth(i).locator("td").first.inner_text().replace("\u202f", "").replace(" ", ""))
               for i in range(rows.count())) == int(buildings.get_attribute("data-value") or "-1")

    page.locator("#hand-toggle").check()
    expect(page.locator("#planning-map img.leaflet-image-layer[src*='hand.png']")).to_have_count(1)


def test_a_planner_downloads_the_buildable_zones(new_context: Callable[..., BrowserContext],
                                                 live_city: LiveCity, tmp_path: Path) -> None:
    page = new_context(as_user=ROADS_AGENT, accept_downloads=True).new_page()
    page.goto("/twin/planning/flood")
    page.locator(".planning-nav a[href='/twin/planning/buildable']").click()
    page.wait_for_url("**/twin/planning/buildable")
    expect(page.locator("#buildable-map")).to_have_attribute("data-ready", re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#buildable-map path.leaflet-interactive").first).to_be_attached()
    with page.expect_download() as info:
        page.locator("#buildable-csv").click()
    path = tmp_path / "buildable.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows and set(rows[0]) == {"district", "buildable_ha", "district_ha", "share"}
    shown = page.locator("#buildable-stats tbody tr").count()
    assert len(rows) == shown
    assert sum(float(r["buildable_ha"]) for r in rows) > 0
