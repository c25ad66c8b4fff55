"""The operations room in a browser: a road segment turns red while the simulator plays a jam on it,
and the congestion event appears in the list, without reloading the page; without JavaScript the
page is a readable snapshot."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import orjson
import pytest
from browser_helpers import DEFAULT_LOCALE, LiveCity, tr
from playwright.sync_api import BrowserContext, expect

from parvis.kernel.db import utcnow
from parvis.modules.sensors import demo_sensors, events, ingest, live, simulate
from parvis.modules.sensors.models import Entity

pytestmark = pytest.mark.browser

MOBILITY_AGENT = "mobility.agent@demo.parvis.city"
LANG = DEFAULT_LOCALE.split("-")[0]


def _calm_segment(live_city: LiveCity) -> simulate.Device:
    """A demo road segment flowing freely (level A-D) with no open event."""
    with live_city.db.read() as session:
        devices = demo_sensors.devices(session)
        busy = {e.entity_id for e in events.open_events(session)}
        for device in devices:
            if device.kind != "traffic" or device.entity_id in busy:
                continue
            f = live.feature(session.get(Entity, device.entity_id))
            if f is not None and f["properties"]["level"] in ("A", "B", "C", "D"):
                return device
    raise AssertionError("the demo city has no calm road segment")


def _play_jam(live_city: LiveCity, device: simulate.Device) -> None:
    """``parvis simulate --jam``'s readings for this segment, stored as the hub stores MQTT messages."""
    settings = live_city.settings
    with live_city.db.read() as session:
        devices = demo_sensors.devices(session)
    now = utcnow().replace(microsecond=0) + timedelta(seconds=1)  # after the demo's last reading
    simulator = simulate.Simulator(devices, timezone=settings.timezone, seed=3)
    simulator.jams[device.device_id] = (now, now + timedelta(minutes=5))
    measures = next(m for d, m in simulator.readings(now) if d.device_id == device.device_id)
    outcome = ingest.ingest(live_city.db, settings, [ingest.Message(
        api_key=settings.demo_iot_api_key, device_id=device.device_id, body=orjson.dumps(measures),
        received_at=now)])
    assert outcome.stored > 0 and outcome.dead == 0


def test_a_segment_turns_red_during_a_jam_and_its_congestion_event_appears(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    segment = _calm_segment(live_city)
    page = new_context(as_user=MOBILITY_AGENT).new_page()
    page.goto("/sensors/operations")
    the_map = page.locator("#ops-map")
    expect(the_map).to_be_visible()
    expect(page.locator("#ops-status")).to_have_attribute("data-state", "live")
    path = page.locator(f'#ops-map path[data-entity-id="{segment.entity_id}"]')
    expect(path).to_have_count(1)
    before = path.get_attribute("data-level")
    assert before in ("A", "B", "C", "D")
    expect(page.locator(f'#ops-events li[data-entity-id="{segment.entity_id}"]')).to_have_count(0)
    page.evaluate("window.__sameDocument = true")

    _play_jam(live_city, segment)

    expect(path).to_have_attribute("data-level", "F")
    expect(path).to_have_attribute("stroke", "#b00020")  # red, as the legend says
    event = page.locator(f'#ops-events li[data-entity-id="{segment.entity_id}"]')
    expect(event).to_have_count(1)
    expect(event).to_contain_text(tr(LANG, "Congestion"))
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    expect(page.locator("#ops-legend")).to_contain_text(tr(LANG, "F: jammed"))

    # the event leads to its segment on the map, which says its state in words
    event.get_by_role("button", name=tr(LANG, "Show on the map")).click()
    expect(the_map).to_have_attribute("data-focused", segment.entity_id)
    expect(page.locator("#ops-map .leaflet-tooltip")).to_contain_text(tr(LANG, "F: jammed"))


def test_without_javascript_the_room_is_a_snapshot_in_words(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    page = new_context(as_user=MOBILITY_AGENT, java_script_enabled=False).new_page()
    page.goto("/sensors/operations")
    expect(page.locator("#ops-map")).to_be_hidden()
    expect(page.locator("#ops-status")).to_have_attribute("data-state", "snapshot")
    rows = page.locator("#ops-summary tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator('#ops-summary tr[data-layer="traffic"]')).to_contain_text(tr(LANG, "Traffic"))
    expect(page.locator('#ops-summary tr[data-layer="parking"]')).to_contain_text(tr(LANG, "Parking"))


def test_the_live_room_has_no_serious_accessibility_violation(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = new_context(as_user=MOBILITY_AGENT).new_page()
    page.goto("/sensors/operations")
    expect(page.locator("#ops-map")).to_have_attribute("data-ready", re.compile(r"^\d+$"))
    expect(page.locator("#ops-status")).to_have_attribute("data-state", "live")
    violations = Axe().run(page).response["violations"]
    blocking = [f"{v['id']}: {v['help']} -> {[n.get('target') for n in v['nodes'][:3]]}"
                for v in violations if v.get("impact") in ("serious", "critical")]
    assert not blocking, "\n".join(blocking)


def test_the_room_comes_back_by_itself_after_an_error_answer(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    """A browser's EventSource gives up for good on an answer other than 200 (a proxy's 502 while
    the server restarts): the page must try again itself, and say it is live once it is."""
    page = new_context(as_user=MOBILITY_AGENT).new_page()
    calls: list[str] = []

    def stream(route) -> None:
        calls.append(route.request.url)
        if len(calls) == 1:
            route.fulfill(status=502, body="Bad Gateway")
        else:
            route.continue_()

    page.route("**/sensors/operations/stream*", stream)
    page.goto("/sensors/operations")
    expect(page.locator("#ops-status")).to_have_attribute("data-state", "live", timeout=15_000)
    assert len(calls) >= 2 and "since=" in calls[-1]  # from the cursor it had: nothing missed


def test_the_room_follows_again_when_shown_from_the_history_cache(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    """Leaving the page closes its stream; coming back to it from the browser's back-forward cache
    must follow the stream again, not show a frozen map that says it is live."""
    page = new_context(as_user=MOBILITY_AGENT).new_page()
    calls: list[str] = []
    page.route("**/sensors/operations/stream*", lambda route: (calls.append(route.request.url), route.continue_()))
    page.goto("/sensors/operations")
    expect(page.locator("#ops-status")).to_have_attribute("data-state", "live")
    opened = len(calls)
    page.evaluate("""() => {
      window.dispatchEvent(new PageTransitionEvent("pagehide", {persisted: true}));
      window.dispatchEvent(new PageTransitionEvent("pageshow", {persisted: true}));
    }""")
    page.wait_for_timeout(1000)
    assert len(calls) > opened and "since=" in calls[-1]
    expect(page.locator("#ops-status")).to_have_attribute("data-state", "live")


def _event(n: int, severity: str = "moderate") -> dict:
    return {"id": n, "kind": "congestion", "kind_label": "Congestion", "severity": severity,
            "severity_label": severity, "summary": f"Event {n}", "department": "Mobility", "place": "",
            "entity_id": f"urn:ngsi-ld:TrafficFlowObserved:e{n}", "raised_at": "2026-11-30T00:00:00Z",
            "time": "07:00", "geometry": None}


def test_a_new_event_is_announced_alone_not_the_whole_list_again(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    """The events list is a live region: an update keeps the items of the events still open, so a
    screen reader announces the new event (or the graver one), not every open event again."""
    page = new_context(as_user=MOBILITY_AGENT).new_page()
    page.add_init_script("""document.addEventListener("DOMContentLoaded", () => {
      window.__added = [];
      new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => {
        if (n.nodeType === 1 && n.matches("li")) { window.__added.push(n.getAttribute("data-event-id")); }
      }))).observe(document.getElementById("ops-events"), {childList: true});
    });""")
    messages = [[_event(1), _event(2)], [_event(3), _event(1), _event(2, "severe")]]
    body = "retry: 3000\n\n" + "".join(
        f"event: events\ndata: {orjson.dumps({'events': m, 'opened': [], 'closed': []}).decode()}\n"
        f"id: 2026-11-30T00:00:0{i}.000000Z\n\n" for i, m in enumerate(messages))
    served: list[int] = []

    def stream(route) -> None:
        served.append(1)
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"},
                      body=body if len(served) == 1 else "retry: 3000\n\n")

    page.route("**/sensors/operations/stream*", stream)
    page.goto("/sensors/operations")
    items = page.locator("#ops-events li")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_have_attribute("data-event-id", "3")
    assert page.evaluate("window.__added") == ["1", "2", "3", "2"]  # 2 again: it became severe
