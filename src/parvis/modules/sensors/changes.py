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
    (every attribute for a creation or a deletion); ``removed_attrs`` each attribute removed as it
    was, by its NGSI-LD type (``Relationship``, ``LanguageProperty``...) and its ``createdAt`` and
    ``modifiedAt``: a notification shows it as NGSI-LD's Null in its type's form (with those
    stamps when it asks for sysAttrs). One not there was a Property. A deletion carries the
    entity's own ``createdAt`` and ``modifiedAt`` (``entity_created``, ``entity_modified``) when
    the writer knew them: its notification shows them with sysAttrs."""
    entity_id: str
    type: str  # full IRI
    attrs: dict[str, Any] | None
    changed: set[str] = field(default_factory=set)
    created: bool = False
    deleted: bool = False
    at: datetime = field(default_factory=utcnow)
    removed_attrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    entity_created: datetime | None = None
    entity_modified: datetime | None = None

    def removed_attr(self, iri: str) -> dict[str, Any]:
        """A removed attribute as it was: its type (``Property`` if unknown) and stamps."""
        return self.removed_attrs.get(iri) or {"type": "Property"}


Reaction = Callable[[Session, list[Change]], None]


def note(session: Session, entity_id: str, type_iri: str, attrs: dict[str, Any] | None,
         changed: set[str] | frozenset[str] | list[str] | Any, *, created: bool = False,
         deleted: bool = False, at: datetime | None = None,
         before: Mapping[str, Any] | None = None,
         stamps: tuple[datetime | None, datetime | None] | None = None) -> None:
    """Record that an entity changed in this session's transaction (``at``: now). ``before``, the
    attributes the entity had, gives the types and stamps of those the write removed (for a
    deletion, all of them; writes that never remove one, such as device readings, need not pass
    it). ``stamps``: a deletion's entity ``createdAt`` and ``modifiedAt``."""
    changed = set(changed)
    removed: dict[str, dict[str, Any]] = {}
    if before:
        for iri in changed:
            old = before.get(iri) if attrs is None or iri not in attrs else None
            if isinstance(old, dict):
                removed[iri] = {"type": old.get("type") or "Property",
                                **{k: old[k] for k in ("createdAt", "modifiedAt") if k in old}}
    entity_created, entity_modified = stamps or (None, None)
    session.info.setdefault(KEY, []).append(
        Change(entity_id, type_iri, attrs, changed, created=created, deleted=deleted,
               at=at or utcnow(), removed_attrs=removed, entity_created=entity_created,
               entity_modified=entity_modified))


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
        seen.removed_attrs.update(c.removed_attrs)  # the latest removal of an attribute says what it was
        if c.deleted:
            seen.entity_created, seen.entity_modified = c.entity_created, c.entity_modified
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
