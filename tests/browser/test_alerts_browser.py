"""Crisis alerts in a real browser: the civil protection agent composes a flood alert from its
template and draws its area by clicking the map, sees who it will reach, a supervisor approves it,
the delivery dashboard counts the messages as they go without a reload, and a citizen finds the
alert on the public page and reads it. The alerts pages also pass axe and fit a phone."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import shapely
from axe_playwright_python.sync_playwright import Axe
from browser_helpers import CITIZEN_PHONE, LiveCity, tr
from playwright.sync_api import BrowserContext, Page, expect
from shapely.geometry import Polygon
from sqlalchemy import select, update

from parvis.app import build_registry
from parvis.kernel.db import Database
from parvis.kernel.jobs import Worker, claim_one
from parvis.modules.alerts import actions, reach, targeting
from parvis.modules.alerts.hazard_templates import HAZARDS, translated
from parvis.modules.alerts.models import Alert, AlertInfo, Delivery
from parvis.modules.alerts.schemas import SubscriptionCreate

pytestmark = pytest.mark.browser

AGENT = "civil-protection.agent@demo.parvis.city"
SUPERVISOR = "civil-protection.supervisor@demo.parvis.city"
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


def _lang(page: Page) -> str:
    return page.locator("html").get_attribute("lang") or "fr"


def _alert(live_city: LiveCity, alert_id: int) -> Alert:
    with live_city.db.read() as session:
        row = session.get(Alert, alert_id)
        assert row is not None
        return row


def _subscribe_inside(live_city: LiveCity, alert_id: int, count: int) -> None:
    """People without an account, warned by SMS at a point inside the drawn polygon."""
    row = _alert(live_city, alert_id)
    with live_city.db.read() as session:
        city = targeting.city_map(session).shape
    inside = Polygon(row.polygon).intersection(city).representative_point()
    for n in range(count):
        place = SubscriptionCreate(lon=inside.x, lat=inside.y, channels=["sms"])
        actions.subscribe(live_city.db, None, place, phone=f"+8490{alert_id:03d}{n:04d}")


def _run_worker(live_city: LiveCity) -> int:
    """What the city's worker does: run the due jobs (the fan-out among them)."""
    db = Database(live_city.settings.database_url)  # its own event bus: the server's is left alone
    try:
        worker = Worker(db, build_registry(live_city.settings, db))
        done = 0
        while (job := claim_one(db, "browser-test-worker", 60)) is not None:
            worker.run_job(job)
            done += 1
        return done
    finally:
        db.dispose()


def _click_square(page: Page, selector: str, half: int = 35) -> None:
    """Four clicks around the map's centre: the corners of a square, in order."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half)):
        page.mouse.click(x + dx, y + dy)


def test_an_alert_from_template_to_the_citizens_phone(new_context: Callable[..., BrowserContext],
                                                      live_city: LiveCity) -> None:
    agent = new_context(as_user=AGENT).new_page()
    agent.goto("/admin/alerts")
    lang = _lang(agent)
    expect(agent.locator("h1")).to_have_text(tr(lang, "Crisis alerts"))
    agent.click("nav.subnav a[href='/admin/alerts/new']")
    # The click returns once the new page is committed, maybe before its deferred scripts ran
    # (then the menu below would not submit itself yet): wait for the page's load event.
    agent.wait_for_url("**/admin/alerts/new")
    # choosing a template fills the form at once (the menu submits itself)
    with agent.expect_navigation():
        agent.select_option("#t-template", "flood")
    assert agent.url.endswith("/admin/alerts/new?template=flood")
    flood = HAZARDS["flood"]
    expect(agent.locator("#f-event")).to_have_value(translated(flood.event, "fr") or flood.event)
    expect(agent.locator("#f-cat-Met")).to_be_checked()
    expect(agent.locator("#f-severity")).to_have_value("Severe")
    expect(agent.locator("#f-headline_en")).to_have_value(flood.headline)
    expect(agent.locator("#f-headline_fr")).to_have_value(translated(flood.headline, "fr"))
    # "Languages still missing" follows what is typed: empty a language's headline, it is listed.
    missing = agent.locator("[data-missing]")
    headline_vi = agent.locator("#f-headline_vi")
    written = headline_vi.input_value()
    assert written  # the template comes translated into every language of the city
    expect(missing).to_be_hidden()
    headline_vi.fill("")
    expect(missing).to_be_visible()
    expect(missing).to_contain_text("Tiếng Việt")
    headline_vi.fill(written)
    expect(missing).to_be_hidden()
    # the area: four clicks on the map draw a polygon, written into the form's textarea
    editor = agent.locator(".map[data-editor]")
    expect(editor).to_have_attribute("data-ready", str(live_city.district_count))
    editor.scroll_into_view_if_needed()
    _click_square(agent, ".map[data-editor]")
    expect(editor).to_have_attribute("data-points", "4")
    lines = agent.locator("#f-polygon").input_value().splitlines()
    assert len(lines) == 4 and all(re.fullmatch(r"-?\d+\.\d{6} -?\d+\.\d{6}", line) for line in lines)
    agent.click("[data-undo]")
    expect(editor).to_have_attribute("data-points", "3")
    _click_square(agent, ".map[data-editor]", half=45)
    expect(editor).to_have_attribute("data-points", "7")
    agent.click("[data-clear]")
    expect(agent.locator("#f-polygon")).to_have_value("")
    _click_square(agent, ".map[data-editor]")
    with agent.expect_navigation():
        agent.click("form.alert-form button[type=submit]")
    match = re.search(r"/admin/alerts/(\d+)\?done=composed", agent.url)
    assert match, agent.url
    alert_id = int(match.group(1))
    row = _alert(live_city, alert_id)
    assert row.state == "draft" and row.polygon and len(row.polygon) == 5 and row.district_ids == []
    assert shapely.is_valid(Polygon(row.polygon))

    # the preview: who will be reached, per channel
    _subscribe_inside(live_city, alert_id, 3)
    agent.reload()
    with live_city.db.read() as session:
        counts = reach.count(session, _alert(live_city, alert_id))
    assert counts["people"] >= 3
    expect(agent.locator("[data-people]")).to_have_attribute("data-people", str(counts["people"]))
    expect(agent.locator("[data-reach='sms-people']")).to_have_text(str(counts["channels"]["sms"]["people"]))
    expect(agent.locator(".map[data-areas]")).to_have_attribute("data-ready", str(live_city.district_count))
    expect(agent.locator(f"form[action='/admin/alerts/{alert_id}/approve']")).to_have_count(0)  # not an approver

    # a second person approves it
    supervisor = new_context(as_user=SUPERVISOR).new_page()
    supervisor.goto(f"/admin/alerts/{alert_id}")
    with supervisor.expect_navigation():
        supervisor.click(f"form[action='/admin/alerts/{alert_id}/approve'] button")
    approved = tr(_lang(supervisor), "The alert is approved: its messages are being sent.")
    expect(supervisor.locator("p.flash")).to_have_text(approved)
    total = supervisor.locator("[data-count='all-total']")
    expect(total).to_have_text("0")

    # the worker queues the messages: the dashboard counts them without a reload
    supervisor.evaluate("window.notReloaded = true")
    assert _run_worker(live_city) >= 1
    expect(total).to_have_text(str(counts["people"]), timeout=10_000)
    sms = str(counts["channels"]["sms"]["people"])
    expect(supervisor.locator("[data-count='sms-queued']")).to_have_text(sms)
    with live_city.db.transaction() as session:  # the gateway refuses one number
        first = session.scalar(select(Delivery.id).where(Delivery.alert_id == alert_id).order_by(Delivery.id))
        session.execute(update(Delivery).where(Delivery.id == first).values(state="failed",
                                                                            reason="unknown subscriber"))
    expect(supervisor.locator("[data-count='sms-failed']")).to_have_text("1", timeout=10_000)
    expect(supervisor.locator("#deliveries")).to_contain_text("unknown subscriber")
    assert supervisor.evaluate("window.notReloaded") is True

    # a citizen finds it on the public page, on a phone, and reads it
    citizen = new_context(as_user=CITIZEN_PHONE, **PHONE).new_page()
    citizen.goto("/alerts")
    link = citizen.locator(f"a[href='/alerts/{alert_id}']")
    expect(link).to_be_visible()
    expect(citizen.locator(".map[data-areas]")).to_have_attribute("data-ready", str(live_city.district_count))
    with citizen.expect_navigation():
        link.click()
    with live_city.db.read() as session:
        french = session.scalar(select(AlertInfo.headline).where(AlertInfo.alert_id == alert_id,
                                                                 AlertInfo.language == "fr"))
    expect(citizen.locator("h1")).to_have_text(french or "")
    expect(citizen.locator(".instruction")).to_be_visible()
    expect(citizen.locator(".map[data-areas] path[stroke='#a4161a']")).to_be_visible()  # the area
    assert citizen.evaluate("document.documentElement.scrollWidth") <= 360


ALERT_PAGES = [  # (path, who); {alert} is the demo's active exercise
    ("/alerts", None), ("/alerts/{alert}", None), ("/alerts/subscriptions", CITIZEN_PHONE),
    ("/admin/alerts", AGENT), ("/admin/alerts/new?template=storm", AGENT),
    ("/admin/alerts/{alert}", AGENT),
]


@pytest.mark.parametrize(("path", "who"), ALERT_PAGES, ids=[p for p, _w in ALERT_PAGES])
def test_the_alerts_pages_are_accessible_and_fit_a_phone(path: str, who: str | None,
                                                         new_context: Callable[..., BrowserContext],
                                                         live_city: LiveCity) -> None:
    with live_city.db.read() as session:
        exercise = session.scalar(select(Alert.id).where(Alert.status == "Exercise").order_by(Alert.id))
    page = new_context(as_user=who, **PHONE).new_page()
    response = page.goto(path.format(alert=exercise))
    assert response is not None and response.status == 200
    for the_map in page.locator(".map").all():
        if the_map.is_visible():
            expect(the_map).to_have_attribute("data-ready", re.compile(r"^\d+$"))
    violations = Axe().run(page).response["violations"]
    blocking = [f"{v['id']}: {v['help']} {[n.get('target') for n in v['nodes'][:3]]}"
                for v in violations if v.get("impact") in ("serious", "critical")]
    assert not blocking, "\n".join(blocking)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
