"""Fast multi-row inserts, for the few writes of hundreds of thousands of rows at once (a city-scale
alert's outbox messages and delivery records), in the caller's transaction.

SQLAlchemy's ``executemany`` runs every parameter of every row through Python type processors:
at a quarter of a million rows that is most of the time. Here the caller gives plain tuples
already in the form the database driver takes (``stored`` converts a value shared by every row
once, such as a timestamp or a JSON document), and each engine gets its fastest plain SQL:

- SQLite: multi-row ``INSERT ... VALUES (...), (...)`` pages, up to SQLite's parameter limit
  (measured: faster than ``executemany``, and it can return rows);
- PostgreSQL: ``COPY`` into a temporary table dropped at commit, then one
  ``INSERT ... SELECT`` from it (measured: several times faster than multi-row ``VALUES`` or
  ``unnest`` of arrays, whose parameters psycopg adapts value by value).

``skip_conflicts_on`` adds ``ON CONFLICT (...) DO NOTHING`` (both engines): rows that would
break that unique index are skipped, and only inserted rows are returned. (PostgreSQL first
tries a plain insert in a savepoint, and adds the clause only when that insert conflicts.)
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Column, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

SQLITE_MAX_PARAMETERS = 32_766


def stored(session: Session, column: Column[Any], value: Any) -> Any:
    """``value`` as ``column``'s type hands it to the database driver (a UTC timestamp as
    SQLite's text, a dict as JSON text...): convert once what many rows share."""
    dialect = session.get_bind().dialect
    if isinstance(column.type, JSON) and value is not None:
        # As text: psycopg would otherwise serialise its JSON wrapper again for every row.
        return (getattr(dialect, "_json_serializer", None) or json.dumps)(value)
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor is not None else value


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], *,
                constants: Mapping[str, Any] | None = None, skip_conflicts_on: Sequence[str] | None = None,
                returning: Sequence[str] = ()) -> list[Any]:
    """Insert ``rows`` (tuples in the order of ``columns``, values as ``stored`` gives them), each
    with the ``constants`` (column: value, sent once); returns the ``returning`` columns of the
    rows inserted (in no particular order)."""
    if not rows:
        return []
    conn = session.connection()
    fixed = dict(constants or {})
    # A column with one value in every row (an alert's text, its purpose) goes once, as a constant:
    # each value sent costs more than finding the columns that repeat (zip and count run in C).
    if len(rows) > 1:
        by_column = list(zip(*rows, strict=True))
        varying = [i for i, values in enumerate(by_column) if values.count(values[0]) != len(values)] or [0]
        if len(varying) < len(columns):
            fixed.update((columns[i], by_column[i][0]) for i in range(len(columns)) if i not in varying)
            columns = [columns[i] for i in varying]
            rows = list(zip(*(by_column[i] for i in varying), strict=True))
    names = ", ".join(f'"{c}"' for c in columns)
    target = f'"{table.name}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in [*columns, *fixed])})'
    tail = ""
    if skip_conflicts_on:
        tail += f" ON CONFLICT ({', '.join(skip_conflicts_on)}) DO NOTHING"
    if returning:
        tail += f" RETURNING {', '.join(returning)}"
    if conn.dialect.name == "postgresql":
        temp = f"parvis_bulk_{table.name}_{zlib.crc32(names.encode()):08x}"
        conn.exec_driver_sql(f'CREATE TEMP TABLE IF NOT EXISTS "{temp}" ON COMMIT DROP AS '
                             f'SELECT {names} FROM "{table.name}" WITH NO DATA')
        conn.exec_driver_sql(f'TRUNCATE "{temp}"')
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f'COPY "{temp}" ({names}) FROM STDIN') as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        extra = "".join(f", %s::{table.c[c].type.compile(dialect=conn.dialect)}" for c in fixed)
        insert = f'INSERT INTO {target} SELECT {names}{extra} FROM "{temp}"'
        back = f" RETURNING {', '.join(returning)}" if returning else ""
        if skip_conflicts_on:
            # A plain insert first: checking each row for a conflict costs PostgreSQL about 60% more,
            # and conflicts are rare (a run after a crash skips what it finds done).
            try:
                with conn.begin_nested():
                    result = conn.exec_driver_sql(insert + back, tuple(fixed.values()))
                    return list(result.fetchall()) if returning else []
            except IntegrityError:
                pass
        result = conn.exec_driver_sql(insert + tail, tuple(fixed.values()))
        return list(result.fetchall()) if returning else []
    # SQLite: INSERT ... SELECT from a VALUES list, the constants bound once per statement ("WHERE
    # true" tells SQLite's parser that ON CONFLICT is the upsert clause, not a join's ON).
    out: list[Any] = []
    one = "(" + ", ".join("?" * len(columns)) + ")"
    extra = "".join(", ?" for _ in fixed)
    page = max(1, min(1000, (SQLITE_MAX_PARAMETERS - len(fixed)) // len(columns)))
    for start in range(0, len(rows), page):
        chunk = rows[start:start + page]
        sql = (f"INSERT INTO {target} SELECT *{extra} FROM (VALUES {', '.join([one] * len(chunk))}) "
               f"WHERE true{tail}")
        result = conn.exec_driver_sql(sql, (*fixed.values(), *(v for row in chunk for v in row)))
        if returning:
            out.extend(result.fetchall())
    return out
