"""Web push reaches the service worker with the page closed, and its notification leads to the
alert's page. Chromium cannot reach a real push service here: the payload Parvis encrypts for the
push service (``push.payload_of``, whose encryption is tested against a local push endpoint in
tests/kernel/notify) is handed to the service worker through the DevTools protocol's
``ServiceWorker.deliverPushMessage``, as a push service would."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from browser_helpers import LiveCity
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select

from parvis.kernel.notify import Channel, OutgoingMessage
from parvis.kernel.notify.push import payload_of
from parvis.modules.alerts import targeting
from parvis.modules.alerts.models import Alert, AlertInfo, State

pytestmark = pytest.mark.browser


def _demo_alert_message(live_city: LiveCity) -> tuple[int, targeting.Message]:
    """The words Parvis pushes for the demo city's active alert, in the city's language."""
    with live_city.db.read() as session:
        alert = session.scalars(select(Alert).where(Alert.state == State.APPROVED).order_by(Alert.id)).first()
        assert alert is not None, "the demo city has an active alert"
        infos = {i.language: i for i in session.scalars(select(AlertInfo).where(AlertInfo.alert_id == alert.id))}
        info = targeting.choose_info(infos, None, live_city.settings.default_language)
        return alert.id, targeting.message_for(alert, info, live_city.settings)


def _until(page: Page, probe: Callable[[], Any], seconds: float = 10.0) -> Any:
    """Ask again until ``probe`` gives something (waiting through the page, which also lets
    Playwright deliver DevTools events meanwhile)."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(200)


def test_a_push_reaches_the_service_worker_with_the_page_closed(
        new_context: Callable[..., BrowserContext], live_city: LiveCity) -> None:
    context = new_context(permissions=["notifications"])
    page = context.new_page()
    page.goto("/alerts")
    assert _until(page, lambda: page.evaluate("navigator.serviceWorker.ready.then(r => r.active.state)")
                  == "activated")
    page.close()  # the citizen closed the site

    # A DevTools session needs a target of the site's origin: the health check, no page of the site.
    probe = context.new_page()
    probe.goto("/healthz")
    cdp = context.new_cdp_session(probe)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    ours = _until(probe, lambda: [r for r in registrations if r["scopeURL"] == f"{live_city.url}/" and not r["isDeleted"]])
    assert ours, f"no service worker registered for the city: {registrations}"

    alert_id, message = _demo_alert_message(live_city)
    pushed = OutgoingMessage(id=1, channel=Channel.PUSH, recipient="endpoint", subject=message.subject,
                             body=message.body, data={"url": message.link, "urgency": "high"})
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_city.url,
                                                   "registrationId": ours[0]["registrationId"],
                                                   "data": payload_of(pushed)})

    # The worker showed a notification while no page of the site was open; read it back.
    reader = context.new_page()
    reader.goto("/static/offline.html")
    shown = _until(reader, lambda: reader.evaluate(
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(ns => ns.map(n => ({title: n.title, body: n.body, url: n.data && n.data.url})))"))
    assert shown, "the service worker showed no notification"
    assert shown[0]["title"] == message.subject
    assert shown[0]["body"] == message.body
    assert shown[0]["url"] == f"{live_city.settings.base_url}/alerts/{alert_id}"  # where a tap leads
