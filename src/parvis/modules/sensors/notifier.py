"""Delivery of NGSI-LD subscription notifications (the outbox ``subscriptions.py`` fills).

A sender claims subscriptions that have pending changes and may send (not within their
``throttling`` window nor waiting for a retry), holds a lease on each, POSTs one notification per
subscription with the latest state of each entity that changed, then deletes what it sent and
updates the subscription's delivery state. Claims are safe with any number of workers:
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite; a sender that dies
leaves a lease that runs out, and another sends again.

Latency: the worker's idle loop looks for work every second, too slow for notifications; so the
sender is a worker *service* (``JobRegistry.add_service``), a thread the worker runs beside its
jobs until it stops, that waits for work: woken at once by commits of this process, by
``LISTEN/NOTIFY`` on PostgreSQL, and by polling every ``PARVIS_SENSORS_NOTIFY_POLL_SECONDS`` on
SQLite. One pass of the worker (``parvis worker --once``, tests) sends in its tick instead.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session

from parvis.kernel.db import Database, utcnow
from parvis.kernel.events import EventBus
from parvis.kernel.jobs import JobRegistry
from parvis.kernel.outbound import OutboundPolicy, OutboundRefused, guarded_client
from parvis.modules.sensors import subscriptions
from parvis.modules.sensors.models import ApiKey, Entity
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards import ngsi_ld as ngsi
from parvis.modules.sensors.standards.subscription_ld import stamp, status_of
from parvis.modules.sensors.subscription_models import PendingNotification, Subscription
from parvis.settings import Settings

log = logging.getLogger(__name__)
MAX_ENTITIES = 1000  # pending changes read per notification (the rest go in the next one)
HOUSEKEEPING_SECONDS = 60.0
MAX_BACKOFF = 3600.0


@dataclass
class Claimed:
    """A subscription taken for sending, and the entities to notify (latest state of each)."""

    id: str
    endpoint: str
    accept: str
    receiver_info: list[dict[str, str]]
    format: str
    sys_attrs: bool
    context: Any
    throttling: float
    ids: list[int]  # the outbox rows read (only these are deleted once sent)
    entities: list[PendingNotification]
    created: dict[str, datetime] = field(default_factory=dict)  # with sysAttrs: entities' createdAt


def _due(now: datetime) -> Any:
    pending = exists().where(PendingNotification.subscription_id == Subscription.id)
    return (pending & or_(Subscription.next_at.is_(None), Subscription.next_at <= now)
            & or_(Subscription.lease_until.is_(None), Subscription.lease_until < now))


def _coalesce(session: Session, sub_id: str | None = None, *, not_leased_at: datetime | None = None) -> None:
    """Delete the pending states superseded by a later one of the same entity (of one subscription,
    or of all): only an entity's latest state is ever sent, and a notification reads at most
    ``MAX_ENTITIES`` rows, which must be the entities' latest states, not a backlog of old ones.
    For one entity a later commit has a higher id (its writes hold the entity's row)."""
    newer = PendingNotification.__table__.alias("newer")
    latest = select(func.max(newer.c.id)).group_by(newer.c.subscription_id, newer.c.entity_id)
    query = delete(PendingNotification)
    if sub_id is not None:
        latest = latest.where(newer.c.subscription_id == sub_id)
        query = query.where(PendingNotification.subscription_id == sub_id)
    if not_leased_at is not None:  # not those being sent (their sender deletes what it read)
        sending = select(Subscription.id).where(Subscription.lease_until >= not_leased_at)
        query = query.where(PendingNotification.subscription_id.not_in(sending))
    session.execute(query.where(PendingNotification.id.not_in(latest)))


class Notifier:
    def __init__(self, db: Database, settings: Settings, client: httpx.Client | None = None) -> None:
        self.db, self.settings = db, settings
        self.client = client
        self.lease = timedelta(seconds=2 * settings.sensors_notify_timeout_seconds + 30)
        self._contexts: dict[bytes, ldctx.Context] = {}
        self._stop = threading.Event()
        self._wake: threading.Event | None = None
        self.pg_idle_seconds = 1.0  # PostgreSQL: LISTEN wakes the sender; this is a safety net
        self.listening = threading.Event()  # PostgreSQL: set while the LISTEN is in place
        self._thread: threading.Thread | None = None
        self._pool = db.engine.pool
        self._serving = False
        self._housekept = -HOUSEKEEPING_SECONDS
        self.outbound = OutboundPolicy.from_entries(settings.sensors_notify_allowed_networks)

    # ----------------------------------------------------------------------------- claims

    def has_due(self) -> bool:
        with self.db.read() as session:
            return session.scalar(select(Subscription.id).where(_due(utcnow())).limit(1)) is not None

    def claim(self, limit: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[Claimed]:
        if limit <= 0:
            return []
        now = utcnow()
        claimed: list[Claimed] = []
        with self.db.transaction() as session:
            query = select(Subscription).where(_due(now)).order_by(Subscription.next_at, Subscription.id)
            if exclude:
                query = query.where(Subscription.id.not_in(sorted(exclude)))
            query = query.limit(limit)
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True, of=Subscription)
            for row in session.scalars(query).all():
                _coalesce(session, row.id)
                pending = list(session.scalars(
                    select(PendingNotification).where(PendingNotification.subscription_id == row.id)
                    .order_by(PendingNotification.id).limit(MAX_ENTITIES)))
                if not pending:
                    continue
                ids = [item.id for item in pending]
                if not self._may_send(session, row, now):  # paused, expired, owner revoked: dropped
                    self._drop(session, ids)
                    continue
                latest: dict[str, PendingNotification] = {}
                for item in pending:
                    latest.pop(item.entity_id, None)
                    latest[item.entity_id] = item
                row.lease_until = now + self.lease
                claimed.append(Claimed(row.id, row.endpoint, row.accept, list(row.receiver_info or []),
                                       row.format, row.sys_attrs, row.context, row.throttling, ids,
                                       list(latest.values()),
                                       _created(session, list(latest)) if row.sys_attrs else {}))
            for item in claimed:
                for entity in item.entities:
                    session.expunge(entity)
        return claimed

    @staticmethod
    def _may_send(session: Session, row: Subscription, now: datetime) -> bool:
        if status_of(row.is_active, row.expires_at, now) != "active":
            return False
        if row.owner_digest is None:
            return True
        key = session.scalar(select(ApiKey).where(ApiKey.digest == row.owner_digest))
        return key is not None and key.revoked_at is None

    @staticmethod
    def _drop(session: Session, ids: list[int]) -> None:
        """Delete exactly the rows read: on PostgreSQL a transaction that took a lower id may commit
        after they were read (ids are handed out at insert, not at commit), and must still be sent."""
        session.execute(delete(PendingNotification).where(PendingNotification.id.in_(ids)))

    # ---------------------------------------------------------------------------- sending

    def _context(self, source: Any) -> ldctx.Context:
        if source is None:
            return ldctx.core()
        if isinstance(source, str) and source in ldctx.SHIPPED:
            return ldctx.shipped(source)
        key = orjson.dumps(source)
        ctx = self._contexts.get(key)
        if ctx is None:
            from parvis.modules.sensors.api import loader_for  # the allow-listed contexts' loader

            ctx = self._contexts[key] = ldctx.build(source, loader_for(self.settings))
        return ctx

    def body(self, item: Claimed, now: datetime) -> tuple[bytes, dict[str, str]]:
        """The notification of ``item`` and the headers that go with it."""
        ctx = self._context(item.context)
        data = [render(entity, ctx, item.format, item.sys_attrs, item.created.get(entity.entity_id))
                for entity in item.entities]
        document: dict[str, Any] = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}", "type": "Notification",
                                    "subscriptionId": item.id, "notifiedAt": stamp(now), "data": data}
        headers = {"Content-Type": item.accept}
        if item.accept == "application/ld+json":
            # each entity of data carries its @context (CIM 009 5.3.1, ETSI 046_14, Scorpio), and
            # the notification too, where Orion-LD's receivers have always found it
            context = document["@context"] = ngsi.context_value(ctx)
            for entity in data:
                entity["@context"] = context
        else:
            headers["Link"] = ngsi.link_header(ctx)
        for pair in item.receiver_info:
            headers[pair["key"]] = pair["value"]
        return orjson.dumps(document), headers

    def _client(self) -> httpx.Client:
        if self.client is None:  # connects only where the allow-list permits (no DNS rebinding)
            self.client = guarded_client(self.outbound, timeout=self.settings.sensors_notify_timeout_seconds)
        return self.client

    def send(self, item: Claimed) -> None:
        """POST one notification, then record the outcome."""
        now = utcnow()
        error: str | None = None
        try:
            self.outbound.check(item.endpoint)
            content, headers = self.body(item, now)
            response = self._client().post(item.endpoint, content=content, headers=headers)
            if not 200 <= response.status_code < 300:
                error = f"The endpoint answered HTTP {response.status_code}."
        except ldctx.ContextError as exc:
            error = f"The subscription's context cannot be used: {exc.detail}"
        except OutboundRefused as exc:
            error = f"Refused: {exc}"[:500]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except Exception as exc:  # never lose the lease on an unexpected failure
            log.exception("notification of %s failed", item.id)
            error = f"{type(exc).__name__}"
        try:
            self.finish(item, error)
        except Exception:  # in a pool's thread nobody would hear of it: the lease runs out, it goes again
            log.exception("the outcome of the notification of %s could not be recorded", item.id)

    def finish(self, item: Claimed, error: str | None) -> None:
        now = utcnow()
        with self.db.transaction() as session:
            row = session.get(Subscription, item.id, with_for_update=True)
            if row is None:
                return
            row.times_sent += 1
            row.last_notification, row.lease_until = now, None
            throttle = timedelta(seconds=row.throttling or 0)
            if error is None:
                self._drop(session, item.ids)
                row.last_success, row.delivery_status, row.attempts = now, "ok", 0
                row.next_at = now + throttle if row.throttling else None
                return
            row.last_failure, row.delivery_status, row.failure_reason = now, "failed", error[:500]
            row.attempts += 1
            if row.attempts >= self.settings.sensors_notify_max_attempts:
                log.warning("notification of subscription %s given up after %s attempts: %s",
                            row.id, row.attempts, error)
                self._drop(session, item.ids)
                row.attempts = 0
                row.next_at = now + throttle if row.throttling else None
                return
            wait = min(MAX_BACKOFF, self.settings.sensors_notify_retry_seconds * 2 ** (row.attempts - 1))
            row.next_at = now + max(timedelta(seconds=wait), throttle)

    def deliver_due(self) -> int:
        """Send what is due now, one subscription after the other; how many notifications."""
        if not self.has_due():
            return 0
        claimed = self.claim(self.settings.sensors_notify_concurrency)
        for item in claimed:
            self.send(item)
        return len(claimed)

    def next_due_in(self) -> float | None:
        """Seconds until a throttled or retrying subscription with pending changes may send (one
        being sent is not counted: its end wakes the sender, and counting it would spin the loop)."""
        now = utcnow()
        with self.db.read() as session:
            pending = exists().where(PendingNotification.subscription_id == Subscription.id)
            free = or_(Subscription.lease_until.is_(None), Subscription.lease_until < now)
            when = session.scalar(select(func.min(Subscription.next_at)).where(pending, free))
        return None if when is None else max(0.0, (when - now).total_seconds())

    def housekeeping(self) -> None:
        """Forget the changes queued for subscriptions deleted meanwhile (a process that had not
        seen the deletion yet may still queue some), and the states superseded by a later one (a
        throttled or failing subscription on a busy type would otherwise pile them up)."""
        with self.db.transaction() as session:
            known = exists().where(Subscription.id == PendingNotification.subscription_id)
            session.execute(delete(PendingNotification).where(~known))
        with self.db.transaction() as session:
            _coalesce(session, not_leased_at=utcnow())

    # ----------------------------------------------------------------------------- thread

    def alive(self) -> bool:
        """Not stopped, and the database this notifier serves is still in use."""
        return not self._stop.is_set() and self.db.engine.pool is self._pool

    def run(self) -> None:
        """Send notifications as they come, until stopped (``stop``) or no longer ``alive``."""
        wake = self._wake = subscriptions.waker()
        if not self.db.is_sqlite:
            threading.Thread(target=self._listen, args=(wake,), name="parvis-notify-listen",
                             daemon=True).start()
        idle = self.settings.sensors_notify_poll_seconds if self.db.is_sqlite else self.pg_idle_seconds
        concurrency = self.settings.sensors_notify_concurrency
        inflight: dict[str, Future[None]] = {}
        with ThreadPoolExecutor(concurrency, thread_name_prefix="parvis-notify") as pool:
            while self.alive():
                try:
                    for sub_id in [k for k, f in inflight.items() if f.done()]:
                        del inflight[sub_id]
                    claimed = []
                    if len(inflight) < concurrency and self.has_due():
                        claimed = self.claim(concurrency - len(inflight), frozenset(inflight))
                    for item in claimed:
                        future = pool.submit(self.send, item)
                        future.add_done_callback(lambda _f: wake.set())
                        inflight[item.id] = future
                    if claimed:
                        continue
                    timeout = idle
                    if not self.db.is_sqlite:
                        due = self.next_due_in()
                        timeout = idle if due is None else min(idle, max(due, 0.005))
                except Exception:
                    log.exception("the notification sender failed; it carries on in a second")
                    timeout = 1.0
                wake.wait(timeout)
                wake.clear()
        if self.client is not None:
            self.client.close()
            self.client = None

    def _listen(self, wake: threading.Event) -> None:
        """PostgreSQL: wake the sender as soon as a transaction that queued notifications commits."""
        import psycopg

        engine = self.db.engine  # connect as the engine does (same host, user, socket...)
        args, kwargs = engine.dialect.create_connect_args(engine.url)

        def mine() -> bool:  # a sender started again after a stop has its own listener
            return self.alive() and self._wake is wake

        while mine():
            try:
                with psycopg.connect(*args, **{**kwargs, "autocommit": True}) as conn:
                    conn.execute(f"LISTEN {subscriptions.CHANNEL}")
                    self.listening.set()
                    try:
                        while mine():
                            for _notice in conn.notifies(timeout=1.0):
                                wake.set()
                    finally:
                        self.listening.clear()
            except Exception as exc:
                if mine():
                    log.warning("LISTEN for notifications failed (%s); polling meanwhile", exc)
                self._stop.wait(1.0)

    def start(self) -> None:
        """Send from a thread of its own until ``stop`` (tests; the worker uses ``serve``)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="parvis-notify", daemon=True)
        self._thread.start()

    def serve(self, _db: Database, stopping: threading.Event) -> None:
        """The worker's service (``parvis worker``, ``parvis serve --with-worker``): send
        notifications as they come, in the worker's service thread, until the worker stops."""
        self._stop = stopping
        self._serving = True
        try:
            self.run()
        finally:
            self._serving = False

    def stop(self) -> None:
        self._stop.set()
        if self._wake is not None:
            self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def tick(self, _db: Database) -> int:
        """The worker's tick: housekeeping every minute; and the sending itself when no service
        thread sends (one pass of ``Worker.run_once``: ``parvis worker --once``, tests)."""
        now = time.monotonic()
        if now - self._housekept >= HOUSEKEEPING_SECONDS:
            self._housekept = now
            self.housekeeping()
        running = self._serving or (self._thread is not None and self._thread.is_alive())
        return 0 if running else self.deliver_due()


# ---------------------------------------------------------------------------------- render

def _created(session: Session, entity_ids: list[str]) -> dict[str, datetime]:
    """When these entities were created (those still stored), for notifications with sysAttrs."""
    rows = session.execute(select(Entity.id, Entity.created_at).where(Entity.id.in_(entity_ids)))
    return {entity_id: created for entity_id, created in rows}


def render(entity: PendingNotification, ctx: ldctx.Context, fmt: str, sysattrs: bool,
           created: datetime | None = None) -> dict[str, Any]:
    """One entity of a notification, compacted with the subscription's context. With ``sysattrs``
    the entity's ``createdAt`` (``created``) and ``modifiedAt`` (the time of the change notified)
    come with it, as its attributes' own do, and each deleted attribute's ``deletedAt``. A deleted
    entity is its id, type and ``deletedAt`` (with ``sysattrs``, the ``createdAt`` and
    ``modifiedAt`` it had), and the attributes deleted with it that the subscription watches."""
    attrs = entity.attrs
    deleted_at = ngsi.ngsi_time(entity.created_at)  # the change's time, as precise as the other stamps
    key_values = fmt == "keyValues"
    if attrs is None or subscriptions.ENTITY_DELETED in attrs:
        had = (attrs or {}).get(subscriptions.ENTITY_DELETED) or {}
        out: dict[str, Any] = {"id": entity.entity_id, "type": ctx.compact(entity.entity_type)}
        if sysattrs:
            out.update({key: had[key] for key in ("createdAt", "modifiedAt") if had.get(key)})
        out["deletedAt"] = deleted_at
        attrs = {iri: attr for iri, attr in (attrs or {}).items() if iri != subscriptions.ENTITY_DELETED}
        for iri, attr in attrs.items():
            out[ctx.compact(iri)] = ngsi.render_attribute(attr, ctx, key_values, sysattrs)
    else:
        out = ngsi.render_entity(entity.entity_id, entity.entity_type, attrs, ctx, key_values=key_values,
                                 sysattrs=sysattrs, created=created, modified=entity.created_at)
    if sysattrs and not key_values:  # a deleted attribute: when (its other stamps are those it had)
        for iri, attr in attrs.items():
            shown = out.get(ctx.compact(iri))
            if ngsi.is_null(attr) and isinstance(shown, dict):
                shown["deletedAt"] = deleted_at
    return ngsi.concise_entity(out) if fmt == "concise" else out


def register(registry: JobRegistry, bus: EventBus, db: Database, settings: Settings) -> None:
    """Add the worker's notification delivery."""
    subscriptions.configure(settings.sensors_subscriptions_refresh_seconds)
    notifier = Notifier(db, settings)
    registry.add_tick(notifier.tick)
    registry.add_service(notifier.serve)
