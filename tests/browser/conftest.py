"""Browser fixtures: a real Parvis (demo city, SQLite) served by uvicorn, driven by Chromium.

One server, database and browser per pytest process (so each xdist worker has its own);
one fresh browser context per test, so cookies never leak from a test to the next. When a
test fails, every page it opened is saved as a screenshot under ``test-results/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import DEFAULT_LOCALE, LiveCity, sign_in
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import select

from live_server import LiveServer
from parvis.app import create_app, register_privacy_hooks
from parvis.demo import create_demo_city
from parvis.kernel.db import Database
from parvis.migrations import upgrade
from parvis.modules.accounts.models import User
from parvis.modules.city.models import Department, District
from parvis.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 10_000
# A page load or form post on a loaded 2-core CI machine (two test processes, each with its own
# server and browser) has been seen to take several seconds: navigations get more room.
NAVIGATION_TIMEOUT_MS = 30_000


# ----------------------------------------------------------------------- failure screenshots

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(node: pytest.Item) -> bool:
    report = getattr(node, "rep_call", None)
    return bool(report is not None and report.failed)


# ----------------------------------------------------------------------- the live server

@pytest.fixture(scope="session")
def live_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCity]:
    folder = tmp_path_factory.mktemp("browser-city")
    url = f"sqlite:///{folder / 'parvis.db'}"
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url,  # type: ignore[call-arg]
                        secret_key="browser-test-secret", data_dir=folder, demo_citizens=10, demo_reports=60,
                        twin_demo_width_m=600, twin_demo_height_m=400, twin_demo_buildings=300)
    register_privacy_hooks()
    seed_db = Database(url)
    create_demo_city(seed_db, settings)
    with seed_db.read() as session:
        department_ids = {d.code: d.id for d in session.scalars(select(Department))}
        district_count = len(session.scalars(select(District.id)).all())
        people = session.execute(select(User.id, User.email, User.phone)).all()
    seed_db.dispose()
    user_ids = {(email or phone): uid for uid, email, phone in people}

    db = Database(url)
    try:
        with LiveServer(create_app(settings, database=db), lifespan="on") as server:
            yield LiveCity(url=server.url, db=db, settings=settings, department_ids=department_ids,
                           district_count=district_count, user_ids=user_ids)
    finally:
        db.dispose()


# ----------------------------------------------------------------------- the browser

@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def signed_in_states(browser: Browser, live_city: LiveCity) -> Callable[[str], dict]:
    """Cookies of a signed-in person, made once per process through the real sign-in form."""
    cache: dict[str, dict] = {}

    def state(identifier: str) -> dict:
        if identifier not in cache:
            context = browser.new_context(base_url=live_city.url, locale=DEFAULT_LOCALE)
            try:
                page = context.new_page()
                sign_in(page, identifier)
                assert "/signin" not in page.url, f"could not sign in as {identifier}"
                cache[identifier] = context.storage_state()
            finally:
                context.close()
        return cache[identifier]

    return state


def _slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:180]


@pytest.fixture
def new_context(browser: Browser, live_city: LiveCity, request: pytest.FixtureRequest,
                signed_in_states: Callable[[str], dict]) -> Iterator[Callable[..., BrowserContext]]:
    """Open a fresh browser context; ``as_user`` starts it already signed in."""
    opened: list[BrowserContext] = []

    def make(*, as_user: str | None = None, **options: Any) -> BrowserContext:
        options.setdefault("locale", DEFAULT_LOCALE)
        if as_user is not None:
            options["storage_state"] = signed_in_states(as_user)
        context = browser.new_context(base_url=live_city.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        opened.append(context)
        return context

    yield make

    if _failed(request.node):
        folder = Path(request.config.rootpath) / "test-results"
        folder.mkdir(parents=True, exist_ok=True)
        for c_index, context in enumerate(opened):
            for p_index, page in enumerate(context.pages):
                path = folder / f"{_slug(request.node.nodeid)}-{c_index}-{p_index}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                except Exception as exc:
                    print(f"screenshot failed: {exc}")
    for context in opened:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page in its own fresh context (French, the city's default language)."""
    return new_context().new_page()
