"""Roof solar potential in a browser: a citizen types their address without its accents, opens
their building, sees the roof drawn with coloured faces and the monthly chart, then opens the
printable summary; the map shows the buildings coloured by potential."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from browser_helpers import LiveCity
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import select

from parvis.modules.twin.models import Building, search_key
from parvis.modules.twin.solar_charts import NO_DATA
from parvis.modules.twin.solar_run import run_solar, run_state

pytestmark = pytest.mark.browser


def _computed(live_city: LiveCity) -> None:
    with live_city.db.read() as session:
        done = run_state(session)["state"] == "done"
    if not done:
        run_solar(live_city.db, live_city.settings, xp=np)


def test_a_citizen_finds_their_roof_sees_its_potential_and_prints_the_summary(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    _computed(live_city)
    with live_city.db.read() as session:
        building_id, address = session.execute(
            select(Building.id, Building.address).where(Building.address.like("%Lê Lợi%"))
            .order_by(Building.id).limit(1)).one()
    typed = search_key(address)  # "41 le loi": no accents, lower case
    assert typed != address

    page = new_context().new_page()
    page.goto("/twin/solar")
    expect(page.locator(".solar-map")).to_have_attribute("data-ready", re.compile(r"^[1-9]\d*$"))
    page.fill("#s-q", typed)
    with page.expect_navigation():
        page.press("#s-q", "Enter")
    result = page.locator(".solar-results a", has_text=address)
    expect(result.first).to_be_visible()
    with page.expect_navigation():
        page.locator(f'.solar-results a[href="/twin/solar/buildings/{building_id}"]').click()

    expect(page.locator("h1")).to_have_text(address)
    faces = page.locator(".roof-drawing .roof-face")
    assert faces.count() >= 1
    fills = {faces.nth(i).get_attribute("fill") for i in range(faces.count())}
    assert NO_DATA not in fills and all(re.fullmatch(r"#[0-9a-f]{6}", f or "") for f in fills)
    expect(page.locator("svg.solar-chart .solar-bar")).to_have_count(12)
    expect(page.locator('[data-figure="kwp"]')).to_contain_text("kWp")
    expect(page.locator(".solar-faces tbody tr")).to_have_count(faces.count())

    with page.expect_navigation():
        page.locator(f'a[href="/twin/solar/buildings/{building_id}/summary"]').click()
    expect(page.locator("h1")).to_contain_text(address)
    expect(page.locator(".roof-drawing .roof-face")).to_have_count(faces.count())
    # Printed, it fits one A4 page (Chromium's own print to PDF, with the page's @page rules).
    page.emulate_media(media="print")
    expect(page.locator(".no-print")).to_be_hidden()
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
