"""What the browser tests share besides fixtures: the demo's names and signing in."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import Page

from parvis.demo import ADMIN_EMAIL, CITIZEN_PHONE
from parvis.kernel.db import Database
from parvis.kernel.i18n import Translator
from parvis.settings import Settings

DEMO_PASSWORD = "parvis-demo"
ROADS_AGENT = "roads.agent@demo.parvis.city"
DEFAULT_LOCALE = "fr-FR"  # the city's default language: what a local browser would ask for

__all__ = ["ADMIN_EMAIL", "CITIZEN_PHONE", "DEFAULT_LOCALE", "DEMO_PASSWORD", "ROADS_AGENT",
           "LiveCity", "sign_in", "tr"]


@dataclass
class LiveCity:
    """The running demo city: where it answers and what the demo created."""

    url: str
    db: Database
    settings: Settings
    department_ids: dict[str, int] = field(default_factory=dict)
    district_count: int = 0
    user_ids: dict[str, int] = field(default_factory=dict)


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
