"""sensors: on SQLite, entities are stored side by side with the others of their type

A SQLite table keeps its rows in ``rowid`` order, that is in the order they were inserted: the
entities of a city's types interleaved as devices were provisioned. A batch from an IoT agent or a
platform updates entities of one type, and with interleaved rows its 1,000 updates touched ~700
pages of the table (each rewritten to the WAL) instead of the ~170 that hold them when they are
together: measured on the bench's 100,000 entities of four types, 34,000-36,000 entity updates a
second against 51,000-59,000 once stored by type (docs/sensors-write-performance.md). Queries by
type read fewer pages too.

Each type gets a range of 2^32 rowids (``sensors_entity_ranges``: type -> slot, slot n holding
rowids n * 2^32 to (n + 1) * 2^32 - 1). A trigger moves each new entity to the end of its type's
range right after its insert (SQLite gives a new row the table's largest rowid plus one, which is
at the end of the last range). The entities already stored are copied, type by type and in their
former order, into a rebuilt table (the same columns, constraints and indexes, read from SQLite's
own schema). An entity whose type later changes stays where it is: that only costs locality.

Nothing changes on PostgreSQL, whose batches do not share one writer (the heap and its
``fillfactor`` keep updates on their page, migration 0018). A later migration that rebuilds
``sensors_entities`` on SQLite (Alembic's batch mode does) drops the trigger with the old table
and must create it again.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 17:40:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPAN = 2 ** 32  # rowids a type's range holds
_COLUMNS = 'id, type, created_at, modified_at, lon_min, lat_min, lon_max, lat_max, location, attrs'
_SLOT_OF_NEW = 'SELECT slot FROM sensors_entity_ranges WHERE type = NEW.type'
_END_OF_RANGE = f'SELECT e.rowid + 1 FROM sensors_entities AS e, sensors_entity_ranges AS r ' \
    f'WHERE r.type = NEW.type AND e.rowid >= r.slot * {SPAN} AND e.rowid < (r.slot + 1) * {SPAN} ' \
    'AND e.rowid <> NEW.rowid ORDER BY e.rowid DESC LIMIT 1'
_TARGET = f'coalesce(({_END_OF_RANGE}), ({_SLOT_OF_NEW}) * {SPAN})'
# The range is created without INSERT OR IGNORE: an outer INSERT OR ABORT/REPLACE... would impose
# its own conflict clause on the trigger's statements. A full range (2^32 rows created, deleted
# ones included) leaves new rows where SQLite put them: only their neighbourhood suffers.
TRIGGER = f"""CREATE TRIGGER sensors_entities_by_type AFTER INSERT ON sensors_entities
BEGIN
  INSERT INTO sensors_entity_ranges (type, slot)
    SELECT NEW.type, (SELECT coalesce(max(slot), 0) + 1 FROM sensors_entity_ranges)
     WHERE NOT EXISTS ({_SLOT_OF_NEW});
  UPDATE sensors_entities SET rowid = {_TARGET}
   WHERE rowid = NEW.rowid
     AND NEW.rowid NOT BETWEEN ({_SLOT_OF_NEW}) * {SPAN} AND (({_SLOT_OF_NEW}) + 1) * {SPAN} - 1
     AND {_TARGET} < (({_SLOT_OF_NEW}) + 1) * {SPAN};
END"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    bind = op.get_bind()
    table_sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sensors_entities'").scalar_one()
    index_sql = [sql for (sql,) in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sensors_entities' "
        "AND sql IS NOT NULL")]
    op.execute('CREATE TABLE sensors_entity_ranges (type VARCHAR(256) NOT NULL PRIMARY KEY, '
               'slot INTEGER NOT NULL UNIQUE)')
    op.execute('INSERT INTO sensors_entity_ranges (type, slot) '
               'SELECT type, row_number() OVER (ORDER BY type) FROM sensors_entities GROUP BY type')
    op.execute(table_sql.replace('sensors_entities', 'sensors_entities_by_type', 1))
    picked = ', '.join(f'e.{name}' for name in _COLUMNS.split(', '))
    op.execute(f'INSERT INTO sensors_entities_by_type (rowid, {_COLUMNS}) '
               f'SELECT r.slot * {SPAN} + row_number() OVER (PARTITION BY e.type ORDER BY e.rowid) - 1 '
               f'AS moved, {picked} FROM sensors_entities AS e '
               'JOIN sensors_entity_ranges AS r ON r.type = e.type ORDER BY moved')
    op.execute('DROP TABLE sensors_entities')
    op.execute('ALTER TABLE sensors_entities_by_type RENAME TO sensors_entities')
    for sql in index_sql:
        op.execute(sql)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.execute('DROP TRIGGER sensors_entities_by_type')
    op.execute('DROP TABLE sensors_entity_ranges')
