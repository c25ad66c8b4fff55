"""The twin's background jobs: the whole-city roof solar run, computed by ``parvis worker`` when
someone asks for it (`request_solar_run`: after the twin is provisioned or re-imported).

A request opens a ``twin_runs`` row at once (status running, 0 %, message "queued"), so the
pages say "being computed" from the moment it is asked for, and queues one job carrying the
run's id. A second request while one is still waiting to start gets the same run. The job is
tried once: a failed run says why in ``twin_runs`` (a retry would fail the same way until the
data is fixed); ask again after fixing it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from parvis.kernel.db import Database
from parvis.modules.twin import actions
from parvis.modules.twin.models import Run

log = logging.getLogger(__name__)

SOLAR_JOB = "twin.solar"
QUEUED = "queued"


def request_solar_run(db: Database) -> int:
    """Ask for a whole-city solar run; returns the run's id (that of a request still waiting, if any)."""
    with db.read() as session:
        waiting = session.scalar(
            select(Run.id)
            .where(Run.kind == "solar", Run.status == "running", Run.progress == 0.0, Run.message == QUEUED)
            .order_by(Run.id.desc())
            .limit(1)
        )
    if waiting is not None:
        return int(waiting)
    return actions.start_run(db, "solar", message=QUEUED, job=SOLAR_JOB)


def register(registry: Any, bus: Any, db: Any, settings: Any) -> None:
    """The twin's jobs: the solar run."""

    @registry.handler(SOLAR_JOB)
    def twin_solar(database: Database, payload: dict[str, Any]) -> None:
        from parvis.modules.twin.solar_run import run_solar

        try:
            run_solar(database, settings, run_id=payload.get("run_id"))
        except Exception:  # already recorded on the run, with its message
            log.exception("the solar run %s failed", payload.get("run_id"))
            raise
