"""What the browser tests share besides fixtures: the demo's names and signing in."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page

from parvis.demo import ADMIN_EMAIL, CITIZEN_PHONE
from parvis.kernel.db import Database
from parvis.kernel.i18n import Translator
from parvis.settings import Settings

DEMO_PASSWORD = "parvis-demo"
ROADS_AGENT = "roads.agent@demo.parvis.city"
DEFAULT_LOCALE = "fr-FR"  # the city's default language: what a local browser would ask for

__all__ = ["ADMIN_EMAIL", "CITIZEN_PHONE", "DEFAULT_LOCALE", "DEMO_PASSWORD", "PAGES",
           "ROADS_AGENT", "LiveCity", "page_params", "page_url", "sign_in", "tr"]

# Every page a person can reach: (report id, path, who is signed in, browser locale).
# {roads} and {agent} are filled with ids from the demo city.
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
    ("reports", "/reports", None, None),
    ("parking", "/parking", None, None),
    ("air", "/air", None, None),
    ("sensors-waste", "/sensors/waste", ADMIN_EMAIL, None),
    ("sensors-waste-print", "/sensors/waste/print", ADMIN_EMAIL, None),
    ("sensors-operations", "/sensors/operations", ADMIN_EMAIL, None),
    ("sensors-traffic", "/sensors/traffic", ADMIN_EMAIL, None),
    ("report", "/reports/1", None, None),
    ("reports-new", "/reports/new", CITIZEN_PHONE, None),
    ("reports-new-anonymous", "/reports/new", None, None),
    ("reports-mine", "/reports/mine", CITIZEN_PHONE, None),
    ("admin-reports", "/admin/reports", ADMIN_EMAIL, None),
    ("admin-report", "/admin/reports/1", ADMIN_EMAIL, None),
    ("admin-reports-stats", "/admin/reports/stats", ADMIN_EMAIL, None),
    ("admin-reports-routing", "/admin/reports/routing", ADMIN_EMAIL, None),
    ("admin-open311-keys", "/admin/reports/open311-keys", ADMIN_EMAIL, None),
    ("reports-ar", "/reports", None, "ar"),
    ("twin-3d", "/twin/3d", None, None),
    ("twin-solar", "/twin/solar", None, None),
    ("twin-solar-search", "/twin/solar?q=L%C3%AA", None, None),
    ("twin-solar-building", "/twin/solar/buildings/1", None, None),
    ("twin-solar-summary", "/twin/solar/buildings/1/summary", None, None),
    ("twin-solar-city", "/twin/solar/city", ADMIN_EMAIL, None),
    ("twin-solar-building-ar", "/twin/solar/buildings/1", None, "ar"),
    ("twin-3d-heat-search", "/twin/3d?mode=heat&q=L%C3%AA", None, None),
    ("twin-3d-ar", "/twin/3d", None, "ar"),
    ("twin-planning-flood", "/twin/planning/flood", ADMIN_EMAIL, None),
    ("twin-planning-buildable", "/twin/planning/buildable", ADMIN_EMAIL, None),
    ("twin-planning-flood-ar", "/twin/planning/flood", ADMIN_EMAIL, "ar"),
    ("twin-home", "/twin/home", None, None),
    ("twin-home-building", "/twin/home?building=1", None, None),
    ("twin-home-mine", "/twin/home/mine", CITIZEN_PHONE, None),
    ("twin-owners", "/twin/owners", ADMIN_EMAIL, None),
    ("twin-home-ar", "/twin/home", None, "ar"),
]


@dataclass
class LiveCity:
    """The running demo city: where it answers and what the demo created."""

    url: str
    db: Database
    settings: Settings
    department_ids: dict[str, int] = field(default_factory=dict)
    district_count: int = 0
    user_ids: dict[str, int] = field(default_factory=dict)


def page_params() -> list:
    """PAGES as pytest parameters (path, who, locale), each named by its report id."""
    return [pytest.param(path, who, locale, id=name) for name, path, who, locale in PAGES]


def page_url(path: str, live_city: LiveCity) -> str:
    return path.format(roads=live_city.department_ids["roads"],
                       agent=live_city.user_ids[ROADS_AGENT])


def tr(lang: str, message: str, **params: object) -> str:
    """A message as the product's own catalog translates it (so tests follow the catalogs)."""
    return Translator(lang).gettext(message, **params)


def sign_in(page: Page, identifier: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the real form, as a person would (fields found by their id)."""
    page.goto("/signin")
    page.fill("#f-identifier", identifier)
    page.fill("#f-password", password)
    with page.expect_navigation():
        page.click("form[action='/signin'] button[type=submit]")
