"""Reads of the alert imports: the review list, one import, the feeds' last polls, and the
source a relayed alert came from (its CAP document names it in ``references``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow
from parvis.modules.alerts.models import ImportedAlert, ImportFeed
from parvis.modules.alerts.standards import cap


def get(session: Session, import_id: int) -> ImportedAlert | None:
    return session.get(ImportedAlert, import_id)


def search(session: Session, *, state: str | None = None, flagged: bool | None = None, limit: int = 50,
           offset: int = 0) -> tuple[list[ImportedAlert], int]:
    """Imports, newest first; flagged ones are Updates and Cancels of alerts the city relayed."""
    query = select(ImportedAlert)
    if state:
        query = query.where(ImportedAlert.state == state)
    if flagged is not None:
        query = query.where(ImportedAlert.flag != "" if flagged else ImportedAlert.flag == "")
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(ImportedAlert.id.desc()).limit(limit).offset(offset)))
    return rows, total


def _expired(row: ImportedAlert, now: datetime) -> bool:
    return row.expires is not None and row.expires <= now


def view(row: ImportedAlert, *, now: datetime | None = None) -> dict[str, Any]:
    """An import for the API: what the source said, what the city would send, where it stands."""
    now = now or utcnow()
    return {
        "id": row.id, "sender": row.sender, "identifier": row.identifier, "sent": row.sent,
        "status": row.status, "msg_type": row.msg_type,
        "references": [{"sender": s, "identifier": i, "sent": t} for s, i, t in row.cap_references],
        "references_import_id": row.references_import_id, "source": row.source, "source_url": row.source_url,
        "state": row.state, "flag": row.flag or None, "flag_alert_id": row.flag_alert_id,
        "event": row.event, "headline": row.headline, "urgency": row.urgency, "severity": row.severity,
        "certainty": row.certainty, "expires": row.expires, "expired": _expired(row, now),
        "proposal": row.proposal,
        "area_needs_drawing": row.proposal.get("area") is None and row.msg_type != "Cancel",
        "area": json.loads(row.area) if row.area else None, "alert_id": row.alert_id,
        "reviewer_id": row.reviewer_id, "reviewed_at": row.reviewed_at, "review_note": row.review_note,
        "created_at": row.created_at, "document_url": f"/api/v1/alerts/imports/{row.id}/document",
    }


def relay_source(session: Session, alert_id: int) -> cap.Reference | None:
    """The external message a city's alert relays, if it was made from an import."""
    row = session.execute(select(ImportedAlert.sender, ImportedAlert.identifier, ImportedAlert.sent).where(
        ImportedAlert.alert_id == alert_id).limit(1)).first()
    return cap.Reference(row.sender, row.identifier, row.sent) if row is not None else None


def feeds(session: Session, urls: list[str]) -> list[dict[str, Any]]:
    """The configured feeds and how their last poll went."""
    known = ({f.url: f for f in session.scalars(select(ImportFeed).where(ImportFeed.url.in_(urls)))}
             if urls else {})
    out = []
    for url in urls:
        state = known.get(url)
        out.append({"url": url, "polled_at": state.polled_at if state else None,
                    "ok_at": state.ok_at if state else None,
                    "error": (state.error or None) if state else None,
                    "imported": state.imported if state else 0})
    return out
