"""The hub's statements through the driver run in the session's own transaction, in each of the
transactions a session goes through (the driver connection is kept only while one lasts), and
lists of ids reach PostgreSQL whole, whatever they hold."""

from __future__ import annotations

from sqlalchemy import func, select

from parvis.kernel.db import Database, utcnow
from parvis.modules.sensors import actions, entity_rows, live, raw_sql
from parvis.modules.sensors.models import FeedLog
from parvis.modules.sensors.standards.ngsi_ld import EntityIn


def _log_sql(db: Database) -> str:
    return live._SQLITE_LOG if db.is_sqlite else live._PG_LOG


def _logged(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(FeedLog)) or 0


def test_a_statement_after_the_sessions_first_transaction_commits_with_its_second(db: Database) -> None:
    with db.read() as session:
        raw_sql.execute(session, "SELECT 1", ())
        session.commit()  # the first transaction ends: its connection goes back to the pool
        with db.engine.connect() as other:  # takes that connection: the session gets another one
            other.exec_driver_sql("SELECT 1")
            raw_sql.execute(session, _log_sql(db), (utcnow(), '["urn:ngsi-ld:X:1"]'))
            session.commit()
            other.rollback()
    assert _logged(db) == 1


def test_a_statement_rolled_back_with_its_transaction_leaves_nothing(db: Database) -> None:
    with db.read() as session:
        raw_sql.execute(session, _log_sql(db), (utcnow(), '["urn:ngsi-ld:X:1"]'))
        session.rollback()
        raw_sql.execute(session, _log_sql(db), (utcnow(), '["urn:ngsi-ld:X:2"]'))
        session.commit()
    assert _logged(db) == 1


def test_entities_are_read_by_ids_holding_quotes_commas_and_braces(db: Database) -> None:
    odd = ['urn:ngsi-ld:X:a,b', 'urn:ngsi-ld:X:"q"', "urn:ngsi-ld:X:{c}", "urn:ngsi-ld:X:back\\slash",
           "urn:ngsi-ld:X:é"]
    for entity_id in odd:
        actions.create_entity(db, EntityIn(id=entity_id, type=actions.type_iri("X"), attrs={}))
    with db.transaction() as session:
        found = entity_rows.read(session, [*odd, "urn:ngsi-ld:X:missing"])
    assert sorted(found) == sorted(odd)
