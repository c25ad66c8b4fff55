"""axe-core on every page a person can reach: no serious or critical violation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_helpers import ADMIN_EMAIL, CITIZEN_PHONE, ROADS_AGENT, LiveCity
from playwright.sync_api import BrowserContext, expect

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")

# (report id, path, who is signed in, browser locale). {roads}, {agent}: ids from the demo.
PAGES: list[tuple[str, str, str | None, str | None]] = [
    ("home", "/", None, None),
    ("signin", "/signin", None, None),
    ("signup", "/signup", None, None),
    ("signup-confirm", "/signup/confirm?identifier=%2B84912777099", None, None),
    ("password-forgot", "/password/forgot", None, None),
    ("account", "/account", CITIZEN_PHONE, None),
    ("admin", "/admin", ADMIN_EMAIL, None),
    ("admin-departments", "/admin/departments", ADMIN_EMAIL, None),
    ("admin-department", "/admin/departments/{roads}", ADMIN_EMAIL, None),
    ("admin-department-new", "/admin/departments/new", ADMIN_EMAIL, None),
    ("admin-districts", "/admin/districts", ADMIN_EMAIL, None),
    ("admin-districts-new", "/admin/districts/new", ADMIN_EMAIL, None),
    ("admin-agents", "/admin/agents", ADMIN_EMAIL, None),
    ("admin-agents-new", "/admin/agents/new", ADMIN_EMAIL, None),
    ("admin-agent", "/admin/agents/{agent}", ADMIN_EMAIL, None),
    ("admin-audit", "/admin/audit", ADMIN_EMAIL, None),
    ("admin-messages", "/admin/messages", ADMIN_EMAIL, None),
    ("home-ar", "/", None, "ar"),
]


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def _describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node.get("target", []))) for node in violation["nodes"][:3]]
    more = len(violation["nodes"]) - len(targets)
    return (f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
            f"{'; '.join(targets)}{f' (+{more} more)' if more > 0 else ''}")


@pytest.mark.parametrize(("path", "who", "locale"),
                         [pytest.param(p, w, loc, id=name) for name, p, w, loc in PAGES])
def test_page_has_no_serious_accessibility_violation(
        path: str, who: str | None, locale: str | None, axe: Axe,
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    options: dict[str, Any] = {"as_user": who}
    if locale:
        options["locale"] = locale
    page = new_context(**options).new_page()
    url = path.format(roads=live_city.department_ids["roads"],
                      agent=live_city.user_ids[ROADS_AGENT])
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url} answered {response}"
    if locale:
        expect(page.locator("html")).to_have_attribute("lang", locale)
    if page.locator(".map").count():
        expect(page.locator(".map").first).to_have_attribute("data-ready", str(
            live_city.district_count))

    violations = axe.run(page).response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    assert not blocking, f"{url}:\n" + "\n".join(_describe(v) for v in blocking)
