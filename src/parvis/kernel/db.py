"""Database engine, sessions and transactions, the same code for SQLite and PostgreSQL.

SQLite is tuned for an embedded server: WAL, foreign keys, ``busy_timeout``,
``synchronous=FULL`` and ``BEGIN IMMEDIATE`` for every write transaction, so that two
writers queue instead of failing half-way. Reads use deferred transactions and never block.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from parvis.kernel.checkpointer import AUTOCHECKPOINT_PAGES, checkpointer
from parvis.kernel.events import EventBus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC on every engine and always gives back an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")  # see kernel.checkpointer
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _json_text(value: Any) -> str:
    """JSON columns written by orjson: several times faster than the standard library on the
    sensor hub's attribute documents (dict keys that are not strings are written as strings)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_value(raw: Any) -> Any:
    # SQLite gives a JSON column's scalar back as a number (the column has numeric affinity)
    return raw if isinstance(raw, int | float) else orjson.loads(raw)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    json_codec = {"json_serializer": _json_text, "json_deserializer": _json_value}
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, pool_pre_ping=False,
            **json_codec,
        )
        _tune_sqlite(engine)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=10, max_overflow=20, **json_codec)
    _ping_after_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 5.0


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it sat idle (a database restart or a firewall
    dropping idle connections breaks those), not on every checkout as ``pool_pre_ping`` does:
    that round trip, twice per request, cost a fifth of the database time of filing a report.
    A connection that breaks while in use makes the pool start afresh (SQLAlchemy invalidates
    every older connection) and its request answers 503, with nothing written."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise DisconnectionError() from exc  # the pool retries with a new connection
            raise


class WriterLock:
    """One SQLite writer at a time, across the threads of this process and the other processes
    (web workers, ``parvis worker``) on the same file: a thread lock, then an exclusive ``flock``
    on a lock file beside the database. The kernel wakes the next writer as soon as the lock is
    released, in order, where SQLite's own busy handler would poll with sleeps."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        # A forked child must not share its parent's open file: flock would not tell them apart.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> WriterLock:
        self._threads.acquire()
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class Database:
    """Sessions for reads and transactions for writes; events go out after commit."""

    def __init__(self, url: str, bus: EventBus | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.bus = bus or EventBus()
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        writer_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._writer = sessionmaker(writer_bind, expire_on_commit=False)
        # One-statement reads need no transaction around them: on PostgreSQL that saves the
        # BEGIN and ROLLBACK round trips (SQLite begins nothing on the server anyway).
        self._lookup = (self._reader if self.is_sqlite else
                        sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                     expire_on_commit=False))
        # SQLite has one writer at a time: writers queue on a lock rather than in SQLite's busy
        # handler, which sleeps and retries (1, 2, 5, 10... ms: slow under load).
        self._write_lock: Any = contextlib.nullcontext()
        if self.is_sqlite:
            path = make_url(url).database
            self._write_lock = (WriterLock(f"{path}.writer-lock") if path and path != ":memory:"
                                else threading.Lock())
            if path and path != ":memory:":
                checkpointer.add(self, path)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One user intent: everything inside commits together or not at all."""
        session = self._writer()
        session.info["events"] = []
        session.info["db"] = self
        try:
            with self._write_lock, session.begin():
                yield session
            pending = list(session.info["events"])
        finally:
            session.close()
        for evt in pending:
            self.bus.publish(evt)

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._reader()
        try:
            yield session
        finally:
            session.close()  # ends the read transaction; loaded objects stay readable

    @contextmanager
    def lookup(self) -> Iterator[Session]:
        """A read of one statement (such as who is behind a request) outside any transaction.
        Several statements here may each see a different moment: use ``read`` for those."""
        session = self._lookup()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._write_lock, WriterLock):
            self._write_lock.close()
        checkpointer.remove(self)
