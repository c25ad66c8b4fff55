""""My home" in a browser: a citizen on a phone fills the estimate form and reads the energy class
and the "what if" table; the demo citizen signs in and sees their house's roof heat-loss level,
then opens the estimate pre-filled from the twin."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_helpers import CITIZEN_PHONE, LiveCity, tr
from playwright.sync_api import BrowserContext, expect

from parvis.modules.twin import home_service
from parvis.modules.twin.insulation import HomeInputs

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_a_citizen_on_a_phone_estimates_their_home(new_context: Callable[..., BrowserContext],
                                                    live_city: LiveCity) -> None:
    expected = home_service.compute(HomeInputs(floor_area_m2=110.0, storeys=2, period="1946_1970", attached_sides=1,
                                               roof_type="pitched_uninsulated",
                                               heating_system="electric_resistance"), live_city.settings)
    page = new_context(**PHONE).new_page()
    page.goto("/twin/home")
    page.select_option("#f-period", "1946_1970")
    page.fill("#f-floor_area_m2", "110")
    page.fill("#f-storeys", "2")
    page.select_option("#f-attached_sides", "1")
    page.select_option("#f-roof_type", "pitched_uninsulated")
    page.select_option("#f-heating_system", "electric_resistance")
    page.get_by_role("button", name=tr("fr", "Estimate")).click()
    page.wait_for_load_state()
    energy_class = page.locator(".energy-class")
    expect(energy_class).to_have_text(expected["energy_class"])
    expect(page.locator('.energy-scale li[aria-current="true"]')).to_contain_text(expected["energy_class"])
    rows = page.locator("#whatif-table tbody tr")
    expect(rows).to_have_count(len(expected["improvements"]))
    expect(rows.first).to_contain_text(tr("fr", "Insulate the roof"))
    expect(page.locator('[data-figure="heating_need_kwh"]')).to_contain_text("kWh")
    # What was typed is still in the form, and nothing is wider than the phone's screen.
    expect(page.locator("#f-floor_area_m2")).to_have_value("110")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # The results (coloured scale, table) pass axe with no serious or critical violation.
    violations = Axe().run(page).response["violations"]
    assert not [v["id"] for v in violations if v.get("impact") in ("serious", "critical")]
    # A wrong answer comes back on its field.
    page.fill("#f-floor_area_m2", "abc")
    page.get_by_role("button", name=tr("fr", "Estimate")).click()
    expect(page.locator("#e-floor_area_m2")).to_have_text(tr("fr", "Enter a number."))
    expect(page.locator(".energy-class")).to_have_count(0)


def test_the_demo_citizen_sees_their_house_level(new_context: Callable[..., BrowserContext],
                                                  live_city: LiveCity) -> None:
    building_id = home_service.link_demo_owner(live_city.db, live_city.settings)
    assert building_id is not None
    page = new_context(as_user=CITIZEN_PHONE, **PHONE).new_page()
    page.goto("/twin/home/mine")
    level = page.locator(".heat-level")
    expect(level).to_have_count(1)
    assert level.get_attribute("data-level") in ("5", "6")
    expect(level).to_contain_text(tr("fr", "level %(level)s of 6", level=int(level.get_attribute("data-level"))))
    page.locator(f'a[href="/twin/home?building={building_id}"]').click()
    expect(page.locator("#f-period")).not_to_have_value("")  # pre-filled from the twin
    expect(page.locator(".home-level .heat-level")).to_be_visible()  # the owner sees it here too
    page.get_by_role("button", name=tr("fr", "Estimate")).click()
    expect(page.locator(".energy-class")).to_have_text(re.compile(r"^[A-G]$"))
