"""The back office: an agent sees their own department only; the administrator sees all."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browser_helpers import ADMIN_EMAIL, ROADS_AGENT, LiveCity, sign_in, tr
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser


def _lang(page: Page) -> str:
    return page.locator("html").get_attribute("lang") or "fr"


def _nav_links(page: Page) -> list[str]:
    return page.locator("nav.side a").evaluate_all("links => links.map(a => a.pathname)")


def _forbidden(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 403, f"{path} answered {response}"
    expect(page.locator("h1")).to_have_text(tr(_lang(page), "You are not allowed to do this."))


def test_an_agent_sees_only_their_department(page: Page, live_city: LiveCity) -> None:
    sign_in(page, ROADS_AGENT)
    assert page.url.endswith("/admin"), "staff land on the back office after signing in"
    lang = _lang(page)
    expect(page.locator("h1")).to_have_text(tr(lang, "Back office"))
    expect(page.locator("ul.tiles a")).to_have_text(["Voirie"])

    nav = _nav_links(page)
    assert "/admin/departments" in nav
    assert "/admin/agents" not in nav and "/admin/audit" not in nav
    side = page.locator("nav.side")
    expect(side.get_by_role("link", name=tr(lang, "Agents"), exact=True)).to_have_count(0)
    expect(side.get_by_role("link", name=tr(lang, "Audit log"), exact=True)).to_have_count(0)

    page.click("ul.tiles a")
    assert page.url.endswith(f"/admin/departments/{live_city.department_ids['roads']}")
    expect(page.locator("h1")).to_have_text("Voirie")
    expect(page.locator("h2")).to_have_text(tr(lang, "Team"))
    team = page.locator("table tbody tr td:first-child").all_inner_texts()
    assert {"Agent Voirie", "Superviseur·e Voirie"} <= set(team)
    assert all("Voirie" in name for name in team), team

    page.goto("/admin/departments")
    expect(page.locator("table tbody tr")).to_have_count(1)

    _forbidden(page, f"/admin/departments/{live_city.department_ids['water']}")
    _forbidden(page, "/admin/agents")
    _forbidden(page, "/admin/audit")


def test_the_administrator_sees_every_department_and_the_audit_log(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context(as_user=ADMIN_EMAIL).new_page()
    page.goto("/admin")
    tiles = page.locator("ul.tiles a")
    expect(tiles).to_have_count(len(live_city.department_ids))
    assert {"Voirie", "Eau et assainissement"} <= set(tiles.all_inner_texts())
    assert {"/admin/agents", "/admin/audit"} <= set(_nav_links(page))

    page.click("nav.side a[href='/admin/audit']")
    assert page.url.endswith("/admin/audit")
    expect(page.locator("h1")).to_have_text(tr(_lang(page), "Audit log"))
    expect(page.locator("table tbody code", has_text="accounts.sign_in").first).to_be_visible()

    response = page.goto(f"/admin/departments/{live_city.department_ids['water']}")
    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text("Eau et assainissement")
