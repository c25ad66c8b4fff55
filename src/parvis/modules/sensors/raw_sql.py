"""The hub's hot statements, straight through the database driver.

At thousands of writes a second, SQLAlchemy's per-row type processing and statement building were
a large share of the CPU (see docs/sensors-write-performance.md): observations, entities' current
values, the operations room's feed log and the rules' look-up of open events run their own SQL on
the DB-API connection of the session's transaction (so they commit or roll back with it), in each
engine's dialect, with JSON by orjson and times as ``UTCDateTime`` stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

# A list of ids as PostgreSQL reads one JSON array given as text (``orjson.dumps(ids)``): psycopg
# dumps a Python list as an array element by element, in Python (2.1 ms of client CPU for 1,000
# ids against 0.24 ms, and 51 against 24 µs for 4); the array is built once (an InitPlan) and the
# index is searched with it as with ``= ANY(%s)``.
PG_IDS = "ARRAY(SELECT json_array_elements_text(%s::json))"
_DRIVER = "raw_sql.driver"


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def driver(session: Session) -> Any:
    """The DB-API connection of the session's transaction (kept in the session while its
    transaction lasts: asking SQLAlchemy each time cost each statement ~10 µs)."""
    conn = session.info.get(_DRIVER)
    if conn is None:
        conn = session.connection().connection.driver_connection
        session.info[_DRIVER] = conn
    return conn


@event.listens_for(Session, "after_transaction_end")
def _forget_driver(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the session's own transaction, not a savepoint
        session.info.pop(_DRIVER, None)


def sqlite_time(at: datetime) -> str:
    """A time as SQLAlchemy's SQLite DateTime stores it (``UTCDateTime``: naive UTC)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def execute(session: Session, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """One statement (in the session's engine's SQL and parameter style) on the driver; the rows
    it returns, none for a write. On SQLite, times given are written as ``sqlite_time``."""
    conn = driver(session)
    if is_postgres(session):
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    cursor = conn.cursor()
    try:
        cursor.execute(sql, [sqlite_time(p) if isinstance(p, datetime) else p for p in params])
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()
