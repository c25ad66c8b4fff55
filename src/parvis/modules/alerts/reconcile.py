"""Delivery records catch up with the outbox when its news did not reach them.

The outbox tells the alerts module what became of each message through events published after
its commit (``notify.sent`` per batch, ``notify.delivered`` and ``notify.failed`` per message).
Those events live in the process that committed: a worker killed between its commit and the
handlers, or a handler that failed (a locked database), leaves delivery records "queued" or
"sent" that the gateway has long accepted or delivered, and the dashboard and the after-action
CSV would say so forever.

``catch_up`` walks the records still queued (and, for SMS, sent: a delivery report may follow)
of the alerts approved in the last ``WINDOW`` (reports rarely come later), one alert and state at
a time, a page at a time in id order (the deliveries' (alert, state, id) index), asks the outbox
for the status of their messages (``notify.statuses``) and applies what it says with the same
rules as the events (``actions.record_outcome``: a record only moves forward). A record updated
in the last ``GRACE`` is left to its event. The worker tick does a few pages every 2 minutes and
resumes where it stopped, going round every recent alert in turn.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from parvis.kernel import notify
from parvis.kernel.db import Database, utcnow
from parvis.kernel.jobs import Tick
from parvis.modules.alerts import actions
from parvis.modules.alerts.models import Alert, Delivery, DeliveryState

WINDOW = timedelta(days=7)
GRACE = timedelta(seconds=60)
PAGE = 5000
PAGES_PER_TICK = 10
TICK_SECONDS = 120.0  # a crash is rare: a slow walk costs the senders little (~0.1 s a page)
_PENDING = (str(DeliveryState.QUEUED), str(DeliveryState.SENT))
# Channels whose messages get a delivery report: a "sent" e-mail or push has nothing more coming.
_WITH_RECEIPTS = ("sms",)
# What an outbox status means for a delivery record (queued and sending: nothing new yet).
_OUTCOMES = {str(notify.MessageStatus.SENT): DeliveryState.SENT,
             str(notify.MessageStatus.DELIVERED): DeliveryState.DELIVERED,
             str(notify.MessageStatus.FAILED): DeliveryState.FAILED}

Walk = tuple[int, str]  # (alert id, state of the records)


@dataclass
class Cursor:
    """Where the walk is: per (alert, state), the last record looked at; and which (alert, state)
    the next bounded pass starts with, so that one big alert does not keep the others waiting."""

    after: dict[Walk, int] = field(default_factory=dict)
    next: Walk | None = None


def _walks(db: Database) -> list[Walk]:
    """The (alert, state) ranges to look at: the alerts approved within ``WINDOW``."""
    with db.read() as session:
        alerts = session.scalars(select(Alert.id).where(Alert.approved_at >= utcnow() - WINDOW)
                                 .order_by(Alert.id)).all()
    return [(alert_id, state) for alert_id in alerts for state in _PENDING]


def catch_up_page(db: Database, walk: Walk, after: int) -> tuple[int, int | None]:
    """One page of one alert's records in one state, with an id above ``after``: returns how
    many records changed, and the id to resume after (None: the last record was reached)."""
    alert_id, state = walk
    query = (select(Delivery.id, Delivery.outbox_id)
             .where(Delivery.alert_id == alert_id, Delivery.state == state, Delivery.id > after,
                    Delivery.outbox_id.is_not(None), Delivery.updated_at < utcnow() - GRACE)
             .order_by(Delivery.id).limit(PAGE))
    if state == DeliveryState.SENT:
        query = query.where(Delivery.channel.in_(_WITH_RECEIPTS))
    with db.read() as session:
        rows = session.execute(query).all()
        news = notify.statuses(session, [outbox_id for _id, outbox_id in rows])
    moves: dict[tuple[str, str], list[int]] = defaultdict(list)
    for _id, outbox_id in rows:
        status = news.get(outbox_id)
        outcome = _OUTCOMES.get(status.status) if status is not None else None
        if status is not None and outcome is not None and outcome != state:
            moves[outcome, status.error if outcome == DeliveryState.FAILED else ""].append(outbox_id)
    changed = 0
    for (outcome, reason), ids in moves.items():
        actions.record_outcome(db, ids, outcome, reason)
        changed += len(ids)
    return changed, (rows[-1].id if len(rows) == PAGE else None)


def catch_up(db: Database, cursor: Cursor | None = None, *, pages: int | None = None) -> int:
    """Walk the records waiting for news, from ``cursor`` (from the start when there is none),
    for at most ``pages`` pages in all (None: everything); returns how many records changed."""
    cursor = cursor or Cursor()
    walks = _walks(db)
    if not walks:
        return 0
    first = walks.index(cursor.next) if cursor.next in walks else 0
    changed = 0
    budget = pages
    for walk in walks[first:] + walks[:first]:
        while budget is None or budget > 0:
            if budget is not None:
                budget -= 1
            moved, resume = catch_up_page(db, walk, cursor.after.get(walk, 0))
            changed += moved
            if resume is None:
                cursor.after.pop(walk, None)
                break
            cursor.after[walk] = resume
        else:  # out of pages: the next pass resumes this walk
            cursor.next = walk
            return changed
    cursor.next = None
    cursor.after = {w: a for w, a in cursor.after.items() if w in walks}
    return changed


def catch_up_tick() -> Tick:
    """The worker tick: a bounded slice of ``catch_up`` every ``TICK_SECONDS``."""
    cursor = Cursor()
    last = {"at": -TICK_SECONDS}

    def alerts_catch_up(db: Database) -> int:
        if time.monotonic() - last["at"] < TICK_SECONDS:
            return 0
        last["at"] = time.monotonic()
        catch_up(db, cursor, pages=PAGES_PER_TICK)
        return 0  # bookkeeping, not work: the worker keeps its idle pace

    return alerts_catch_up
