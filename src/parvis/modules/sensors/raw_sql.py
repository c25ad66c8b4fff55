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

from sqlalchemy.orm import Session


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def driver(session: Session) -> Any:
    """The DB-API connection of the session's transaction."""
    return session.connection().connection.driver_connection


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
