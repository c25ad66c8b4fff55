"""What changed in the sensor hub's entities, handed to whoever reacts to it, in the same transaction.

Every write of an entity (NGSI-LD requests, batch operations, device readings) notes a
``Change`` on its session; just before the transaction commits, the changes are merged per
entity and given to the hub's reactions: subscriptions (an outbox row per notification to send)
and rules (congestion and air-quality events). They write in the same transaction, so a change
that commits has its notifications and events committed with it, and one that rolls back has none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow

KEY = "sensors_changes"


@dataclass(slots=True)
class Change:
    """One entity's change in a transaction. ``attrs`` are the entity's attributes after the write
    (normalised: keys are full IRIs), ``None`` once deleted; ``changed`` the IRIs written or removed
    (every attribute for a creation or a deletion); ``removed_types`` the NGSI-LD type of each
    attribute removed (``Relationship``, ``LanguageProperty``...): a notification shows it as
    NGSI-LD's Null in its type's form. One not there was a Property."""
    entity_id: str
    type: str  # full IRI
    attrs: dict[str, Any] | None
    changed: set[str] = field(default_factory=set)
    created: bool = False
    deleted: bool = False
    at: datetime = field(default_factory=utcnow)
    removed_types: dict[str, str] = field(default_factory=dict)

    def removed_type(self, iri: str) -> str:
        return self.removed_types.get(iri, "Property")


Reaction = Callable[[Session, list[Change]], None]


def note(session: Session, entity_id: str, type_iri: str, attrs: dict[str, Any] | None,
         changed: set[str] | frozenset[str] | list[str] | Any, *, created: bool = False,
         deleted: bool = False, at: datetime | None = None,
         before: Mapping[str, Any] | None = None) -> None:
    """Record that an entity changed in this session's transaction (``at``: now). ``before``, the
    attributes the entity had, gives the types of those the write removed (writes that never
    remove one, such as device readings, need not pass it)."""
    changed = set(changed)
    removed: dict[str, str] = {}
    if before and attrs is not None:
        for iri in changed:
            old = before.get(iri) if iri not in attrs else None
            if isinstance(old, dict):
                removed[iri] = old.get("type") or "Property"
    session.info.setdefault(KEY, []).append(
        Change(entity_id, type_iri, attrs, changed, created=created, deleted=deleted,
               at=at or utcnow(), removed_types=removed))


def merged(changes: list[Change]) -> list[Change]:
    """One change per entity, in the order entities were first written: the last state, the union
    of what changed; created and then deleted in one transaction leaves nothing to say."""
    out: dict[str, Change] = {}
    for c in changes:
        seen = out.get(c.entity_id)
        if seen is None:  # the notes are the transaction's own (``_settle`` takes them): reused
            out[c.entity_id] = c
            continue
        seen.type, seen.attrs, seen.at = c.type, c.attrs, c.at
        seen.changed |= c.changed
        seen.removed_types.update(c.removed_types)  # the latest removal of an attribute says its type
        if c.created and seen.deleted:  # deleted, then created again: a replacement
            seen.deleted = False
        else:
            seen.deleted = c.deleted
    return [c for c in out.values() if not (c.created and c.deleted)]


def reactions() -> list[Reaction]:
    """The hub's reactions to changes (imported here, late, so that they may use actions)."""
    from parvis.modules.sensors import live, rules, subscriptions
    return [subscriptions.on_changes, rules.on_changes, live.on_changes]


@event.listens_for(Session, "before_commit")
def _settle(session: Session) -> None:
    pending = session.info.pop(KEY, None)
    if not pending:
        return
    changes = merged(pending)
    for react in reactions():
        react(session, changes)
