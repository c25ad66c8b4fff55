"""axe-core on every page a person can reach: no serious or critical violation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_helpers import LiveCity, page_params, page_url
from playwright.sync_api import BrowserContext, expect

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def _describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node.get("target", []))) for node in violation["nodes"][:3]]
    more = len(violation["nodes"]) - len(targets)
    return (f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
            f"{'; '.join(targets)}{f' (+{more} more)' if more > 0 else ''}")


@pytest.mark.parametrize(("path", "who", "locale"), page_params())
def test_page_has_no_serious_accessibility_violation(
        path: str, who: str | None, locale: str | None, axe: Axe,
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    options: dict[str, Any] = {"as_user": who}
    if locale:
        options["locale"] = locale
    page = new_context(**options).new_page()
    url = page_url(path, live_city)
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url} answered {response}"
    if locale:
        expect(page.locator("html")).to_have_attribute("lang", locale)
    if page.locator(".map").count():  # wait until the map has drawn what it shows
        expect(page.locator(".map").first).to_have_attribute("data-ready", re.compile(r"^\d+$"))

    violations = axe.run(page).response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    assert not blocking, f"{url}:\n" + "\n".join(_describe(v) for v in blocking)
