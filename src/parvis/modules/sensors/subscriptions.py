"""NGSI-LD subscriptions: matching entity changes against subscriptions, inside the writing
transaction (``changes.py`` calls ``on_changes`` just before commit), and queueing the
notifications to send in ``sensors_subscription_outbox``, in the same transaction: a write that
commits has its notifications queued, one that rolls back has none.

Matching must keep pace with ingestion (thousands of changes a second), so each process keeps
the subscriptions compiled in memory (types indexed, ``q`` parsed, geometries built) and
checks whether they changed at most every ``PARVIS_SENSORS_SUBSCRIPTIONS_REFRESH_SECONDS``
(1 s) with one small query (their number and latest modification). A subscription written by
this process is seen at once; one written by another process within that delay.

A change matches a subscription when its entity matches one of ``entities`` (its type, or one
of the types of a type selection, and its id when given, else its idPattern when given: an id
takes precedence over a pattern; any entity without ``entities``), its kind is among the subscription's
``notificationTrigger`` (by default attributes created or updated), one of ``watchedAttributes``
was written (any attribute without them), and ``q`` and ``geoQ`` hold on the entity's new state.
A deleted entity is notified to subscriptions with the ``entityDeleted`` trigger, and to those with
the ``attributeDeleted`` trigger that watch an attribute it had (any attribute without
``watchedAttributes``): its attributes are deleted with it (CIM 009 v1.8 and later), and those
watched are notified as NGSI-LD's Null. ``q`` and ``geoQ`` are not evaluated: there is no state left.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry import shape
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow
from parvis.modules.sensors.changes import Change
from parvis.modules.sensors.standards import query as ngsiq
from parvis.modules.sensors.standards.ngsi_ld import LOCATION, NULL, VALUE_MEMBER, ngsi_time
from parvis.modules.sensors.standards.subscription_ld import geo_query, q_context
from parvis.modules.sensors.subscription_models import PendingNotification, Subscription

CHANNEL = "parvis_sensors_notify"  # PostgreSQL NOTIFY channel that wakes the notifier
_QUEUED = "sensors_notifications_queued"
SETTLE_SECONDS = 10.0  # longer than a subscription write's transaction: it has committed by then
_settings = {"refresh_seconds": 1.0}
# The member of an outbox row's ``attrs`` that says the entity was deleted, with its createdAt and
# modifiedAt (no attribute has a name starting with "@"); the other members are the attributes
# deleted with it that the subscription is told of. Rows without it whose attrs are None (queued
# before it existed) are deletions too.
ENTITY_DELETED = "@deleted"

log = logging.getLogger(__name__)


@dataclass
class Compiled:
    """A subscription ready to match, built from its row."""

    id: str
    selectors: list[tuple[frozenset[str], str | None, Any]]  # (type IRIs, id, compiled idPattern)
    watched: frozenset[str] | None
    triggers: frozenset[str]
    q: ngsiq.Predicate | None
    geo: ngsiq.GeoQuery | None
    attributes: frozenset[str] | None
    expires_at: datetime | None
    by_type_only: bool = field(init=False, default=False)  # bare types only: the type index decides
    on_create: bool = field(init=False, default=False)
    on_write: bool = field(init=False, default=False)
    on_remove: bool = field(init=False, default=False)
    on_delete: bool = field(init=False, default=False)
    on_attribute_delete: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.by_type_only = bool(self.selectors) and all(
            eid is None and pattern is None for _kinds, eid, pattern in self.selectors)
        triggers = self.triggers
        self.on_create = bool(triggers & {"entityCreated", "attributeCreated"})
        self.on_write = bool(triggers & {"entityUpdated", "attributeCreated", "attributeUpdated"})
        self.on_remove = bool(triggers & {"entityUpdated", "attributeDeleted"})
        self.on_delete = "entityDeleted" in triggers
        self.on_attribute_delete = "attributeDeleted" in triggers

    def matches(self, change: Change, facts: Facts, now: datetime) -> bool:
        if self.expires_at is not None and self.expires_at <= now:
            return False
        if self.selectors and not self.by_type_only and not any(
                change.type in kinds and (eid is None or eid == change.entity_id)
                and (pattern is None or pattern.search(change.entity_id))
                for kinds, eid, pattern in self.selectors):
            return False
        if facts.deleted:
            return self.on_delete or bool(self.deleted_attributes(facts))
        if not self._triggered(change, facts):
            return False
        attrs = change.attrs or {}
        if self.q is not None:
            tested = ngsiq.with_entity_times(attrs, None, change.at) if self.q.names_entity_times else attrs
            if not self.q(tested):  # the entity's modifiedAt is the change's time
                return False
        if self.geo is not None:
            if self.geo.prop is not None:  # another GeoProperty than location (geoproperty)
                found = self.geo.geometry_of(attrs)
                return found is not None and self.geo.matches(found)
            if facts.location is None:
                loc = attrs.get(LOCATION)
                facts.location = shape(loc["value"]) if loc and "value" in loc else False
            if facts.location is False or not self.geo.matches(facts.location):
                return False
        return True

    def deleted_attributes(self, facts: Facts) -> set[str]:
        """Of a deleted entity's attributes, those this subscription is told were deleted with it:
        with ``attributeDeleted``, the watched ones it had (all of them without watchedAttributes)."""
        if not self.on_attribute_delete:
            return set()
        return set(facts.removed) if self.watched is None else facts.removed & self.watched

    def _triggered(self, change: Change, facts: Facts) -> bool:
        watched = self.watched
        if change.created:
            if "entityCreated" in self.triggers and watched is None:
                return True
            return self.on_create and bool(facts.written if watched is None
                                           else not watched.isdisjoint(facts.written))
        if self.on_write and (facts.written if watched is None else not watched.isdisjoint(facts.written)):
            return True
        return self.on_remove and bool(facts.removed if watched is None
                                       else not watched.isdisjoint(facts.removed))


class Facts:
    """What every subscription asks of one change, worked out once."""

    __slots__ = ("deleted", "location", "removed", "written")

    def __init__(self, change: Change) -> None:
        attrs = change.attrs
        self.deleted = change.deleted or attrs is None
        self.written = {i for i in change.changed if i in attrs} if attrs is not None else set()
        self.removed = change.changed - self.written
        self.location: Any = None  # its shape, built by the first geoQ that needs it


def compile_row(row: Subscription) -> Compiled:
    # a selection's types (``standards.type_selection``), else the one type; a selector's
    # id takes precedence over its idPattern (CIM 009 5.2.33): the pattern is ignored beside one
    selectors = [(frozenset(s.get("types") or (s["type"],)), s.get("id"),
                  ngsiq.id_pattern(s["idPattern"]) if s.get("idPattern") and not s.get("id") else None)
                 for s in row.entities or []]
    return Compiled(
        id=row.id, selectors=selectors,
        watched=frozenset(row.watched) if row.watched else None,
        triggers=frozenset(row.triggers or ()),
        q=ngsiq.parse_q(row.q, q_context(row.q_terms or {})) if row.q else None,
        geo=geo_query(row.geo_q) if row.geo_q else None,
        attributes=frozenset(row.attributes) if row.attributes else None,
        expires_at=row.expires_at)


class _Cache:
    """The active subscriptions of one database, compiled and indexed: by entity id for those
    that name their entities, by type for the other typed ones, the rest apart."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked = -1e9
        self.stamp: tuple[Any, ...] | None = None
        self.by_id: dict[str, list[Compiled]] = {}
        self.by_type: dict[str, list[Compiled]] = {}
        self.untyped: list[Compiled] = []

    def empty(self) -> bool:
        return not (self.by_id or self.by_type or self.untyped)

    def candidates(self, type_iri: str, entity_id: str) -> list[Compiled]:
        out = self.by_type.get(type_iri) or []
        named = self.by_id.get(entity_id)
        if named:
            out = out + named
        return out + self.untyped if self.untyped else out

    def refresh(self, session: Session) -> None:
        now = time.monotonic()
        if now - self.checked < _settings["refresh_seconds"]:
            return
        with self.lock:
            if now - self.checked < _settings["refresh_seconds"]:
                return
            stamp = tuple(session.execute(select(func.count(), func.max(Subscription.modified_at))).one())
            newest = stamp[1]
            # A write stamps modified_at before it commits: on PostgreSQL two writes of different
            # subscriptions can commit out of order, the older stamp last, leaving the stamp as it was.
            # So the cache reloads while the newest write is recent, not only when the stamp moves.
            recent = newest is not None and (utcnow() - newest).total_seconds() < SETTLE_SECONDS
            if stamp != self.stamp or recent:
                self._load(session)
                self.stamp = stamp
            self.checked = now

    def _load(self, session: Session) -> None:
        by_id: dict[str, list[Compiled]] = {}
        by_type: dict[str, list[Compiled]] = {}
        untyped: list[Compiled] = []
        rows = session.scalars(select(Subscription).where(Subscription.is_active.is_(True)))
        for row in rows:
            try:
                compiled = compile_row(row)
            except Exception:  # one subscription that no longer compiles never stops the writes
                log.exception("subscription %s cannot be compiled: it is left out", row.id)
                continue
            ids = {eid for _kinds, eid, _pattern in compiled.selectors}
            if not compiled.selectors:
                untyped.append(compiled)
            elif None not in ids:  # every selector names its entity
                for eid in ids:
                    by_id.setdefault(str(eid), []).append(compiled)
            else:
                for kind in {kind for kinds, _id, _pattern in compiled.selectors for kind in kinds}:
                    by_type.setdefault(kind, []).append(compiled)
        self.by_id, self.by_type, self.untyped = by_id, by_type, untyped


_caches: dict[str, _Cache] = {}
_caches_lock = threading.Lock()
_wakers: weakref.WeakSet[threading.Event] = weakref.WeakSet()


def configure(refresh_seconds: float) -> None:
    _settings["refresh_seconds"] = refresh_seconds


def invalidate() -> None:
    """Subscriptions changed: every cache of this process reloads at its next use."""
    for cache in list(_caches.values()):
        cache.checked = -1e9


def waker() -> threading.Event:
    """An event set whenever this process commits notifications to send."""
    wake = threading.Event()
    _wakers.add(wake)
    return wake


def _cache_of(session: Session) -> _Cache:
    db = session.info.get("db")
    key = db.url if db is not None else str(session.get_bind().engine.url)
    cache = _caches.get(key)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(key, _Cache())
    return cache


def deleted(old: dict[str, Any]) -> dict[str, Any]:
    """A deleted attribute as a notification shows it (CIM 009, attributeDeleted): NGSI-LD's Null
    in the member its type holds its value in, with the stamps it had (shown with sysAttrs, beside
    its deletedAt: the time of the change)."""
    kind = old.get("type") or "Property"
    member = VALUE_MEMBER.get(kind, "value")
    out = {"type": kind, member: {"@none": NULL} if member == "languageMap" else NULL}
    return {**out, **{k: old[k] for k in ("createdAt", "modifiedAt") if k in old}}


def _entity_deleted(change: Change) -> dict[str, Any]:
    return {"createdAt": ngsi_time(change.entity_created) if change.entity_created else None,
            "modifiedAt": ngsi_time(change.entity_modified) if change.entity_modified else None}


def on_changes(session: Session, changes: list[Change]) -> None:
    """Queue a notification for every subscription an entity change matches."""
    cache = _cache_of(session)
    cache.refresh(session)
    if cache.empty():
        return
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for change in changes:
        candidates = cache.candidates(change.type, change.entity_id)
        if not candidates:
            continue
        facts = Facts(change)
        for sub in candidates:
            if not sub.matches(change, facts, now):
                continue
            attrs = change.attrs
            if facts.deleted:  # the entity's stamps, and the attributes deleted with it it is told of
                gone = sub.deleted_attributes(facts)
                attrs = {ENTITY_DELETED: _entity_deleted(change),
                         **{iri: deleted(change.removed_attr(iri)) for iri in _ordered(change, gone)}}
            elif facts.removed and sub.on_remove:  # the spec: removed ones as Null
                removed = {iri: deleted(change.removed_attr(iri)) for iri in _ordered(change, facts.removed)}
                attrs = {**(attrs or {}), **removed}
            if attrs is not None and sub.attributes is not None:
                attrs = {k: v for k, v in attrs.items() if k in sub.attributes or k == ENTITY_DELETED}
            rows.append({"subscription_id": sub.id, "entity_id": change.entity_id,
                         "entity_type": change.type, "attrs": attrs, "created_at": change.at})
    if not rows:
        return
    session.connection().execute(insert(PendingNotification.__table__), rows)  # Core: no ORM per row
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))  # delivered to listeners at commit
    session.info[_QUEUED] = True


def _ordered(change: Change, iris: set[str]) -> list[str]:
    """Removed attributes in the order the entity had them (the others after, by name)."""
    known = [iri for iri in change.removed_attrs if iri in iris]
    return known + sorted(iris.difference(known))


@event.listens_for(Session, "after_commit")
def _wake_notifier(session: Session) -> None:
    if session.info.pop(_QUEUED, None):
        for wake in list(_wakers):
            wake.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_QUEUED, None)
