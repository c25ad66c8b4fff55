"""What ingestion did, counted per hour and channel in the database so that every process's
drops and refusals are visible in one place (``GET /api/v1/sensors/ingestion``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from parvis.kernel.db import Database, utcnow
from parvis.modules.sensors.models import IngestCount

OUTCOMES = ("stored", "repeated", "dead", "dropped", "throttled")


class _Outcome(Protocol):
    stored: int
    repeated: int
    dead: int


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def add(session: Session, channel: str, counts: dict[str, int], at: datetime | None = None) -> None:
    """Add to this hour's counters (an upsert per outcome)."""
    hour = _hour(at or utcnow())
    rows = [{"hour": hour, "channel": channel, "outcome": k, "count": v} for k, v in counts.items() if v]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(IngestCount)
    session.execute(statement.on_conflict_do_update(
        index_elements=["hour", "channel", "outcome"],
        set_={"count": IngestCount.count + statement.excluded.count}), rows)


def record_counts(db: Database, channel: str, outcome: _Outcome, *, dropped: int = 0) -> None:
    with db.transaction() as session:
        add(session, channel, {"stored": outcome.stored, "repeated": outcome.repeated,
                               "dead": outcome.dead, "dropped": dropped})


def totals(session: Session, *, hours: int = 24) -> dict[str, dict[str, int]]:
    """{channel: {outcome: count}} over the last ``hours`` hours."""
    since = _hour(utcnow()) - timedelta(hours=hours - 1)
    out: dict[str, dict[str, int]] = {}
    for channel, outcome, count in session.execute(
            select(IngestCount.channel, IngestCount.outcome, IngestCount.count)
            .where(IngestCount.hour >= since)):
        bucket = out.setdefault(channel, dict.fromkeys(OUTCOMES, 0))
        bucket[outcome] = bucket.get(outcome, 0) + count
    return out
