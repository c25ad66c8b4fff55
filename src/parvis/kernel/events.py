"""Domain events, delivered in-process after the transaction that raised them commits.

A module emits ``Event("reports.resolved", {...})`` inside an action; handlers registered
by other modules run only once the write is durable. Handlers that need durability enqueue a
job (``parvis.kernel.jobs``) rather than doing slow work inline.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    def publish(self, evt: Event) -> None:
        for handler in [*self._handlers.get(evt.name, []), *self._handlers.get("*", [])]:
            try:
                handler(evt)
            except Exception:  # a failing listener never undoes a committed write
                log.exception("event handler failed for %s", evt.name)


def emit(session: Session, name: str, **payload: Any) -> None:
    """Queue an event on the current transaction; it is published after commit."""
    session.info.setdefault("events", []).append(Event(name, payload))
