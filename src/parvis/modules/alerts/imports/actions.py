"""Writes of the alert imports: store a checked external CAP message once per (sender,
identifier), then relay it (a draft of the city's own alert, approved as usual) or dismiss it.

An imported Update or Cancel of an alert the city already relayed is flagged, naming the city's
alert concerned: relaying it drafts an Update of that alert, or cancels it (a supervisor's act,
as for the city's own alerts). One that arrives while the original still waits for review
supersedes it, so nobody relays stale words.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parvis.kernel import audit, geo
from parvis.kernel.auth import Principal
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, Conflict, Forbidden, NotFound, ValidationFailed
from parvis.kernel.events import emit
from parvis.modules.alerts import actions as alert_actions
from parvis.modules.alerts import targeting
from parvis.modules.alerts.imports import reading
from parvis.modules.alerts.models import Alert, ImportedAlert, ImportState, State
from parvis.modules.alerts.schemas import AlertCreate, RepublishIn
from parvis.settings import Settings

FLAG_UPDATE = "update-of-relayed"
FLAG_CANCEL = "cancel-of-relayed"


class ImportNotToReview(Conflict):
    type_slug = "alert-import-reviewed"
    title = N_("This imported alert was already relayed or dismissed.")


class ImportAreaNeeded(ValidationFailed):
    type_slug = "alert-import-area-needed"
    title = N_("Draw the area: the source's area cannot be used as it is (separate parts, or codes only).")


class NothingToCancel(Conflict):
    type_slug = "alert-import-nothing-to-cancel"
    title = N_("The city never relayed the alert this message cancels: dismiss it.")


class RelayIsDraft(Conflict):
    type_slug = "alert-import-relay-is-draft"
    title = N_("The city's alert relaying the original is still a draft: edit that draft instead.")


def _earlier(session: Session, alert_refs: list[tuple[str, str]]) -> list[ImportedAlert]:
    if not alert_refs:
        return []
    return list(session.scalars(select(ImportedAlert).where(or_(*(
        and_(ImportedAlert.sender == s, ImportedAlert.identifier == i) for s, i in alert_refs)))
        .order_by(ImportedAlert.sent, ImportedAlert.id)))


def current_relay(session: Session, alert_id: int) -> Alert | None:
    """The city's latest message in the story of one of its alerts (following its Updates)."""
    row = session.get(Alert, alert_id)
    seen = set()
    while row is not None and row.replaced_by_id is not None and row.id not in seen:
        seen.add(row.id)
        row = session.get(Alert, row.replaced_by_id)
    return row


def _link(session: Session, row: ImportedAlert) -> None:
    """Attach an Update or Cancel to what it replaces: the earlier imports waiting for review are
    superseded; one already relayed flags this message for an agent."""
    earlier = _earlier(session, [(s, i) for s, i, _sent in row.cap_references])
    if not earlier:
        return
    row.references_import_id = earlier[-1].id
    relayed: int | None = None
    for item in earlier:
        if item.state == ImportState.REPUBLISHED and item.alert_id is not None:
            relayed = item.alert_id
        elif item.flag_alert_id is not None:
            relayed = relayed or item.flag_alert_id
        if item.state == ImportState.TO_REVIEW and row.msg_type in ("Update", "Cancel"):
            item.state = ImportState.SUPERSEDED
            item.updated_at = utcnow()
    if relayed is not None and row.msg_type in ("Update", "Cancel"):
        head = current_relay(session, relayed)
        row.flag = FLAG_UPDATE if row.msg_type == "Update" else FLAG_CANCEL
        row.flag_alert_id = head.id if head is not None else relayed


def import_document(db: Database, settings: Settings, data: bytes, *, actor: Principal | None, source: str,
                    source_url: str = "", ip: str = "") -> tuple[ImportedAlert, bool]:
    """Check and store an external CAP document; returns (the import, whether it is new). A
    document already imported (same sender and identifier) is not stored twice. Nothing is
    stored when a check fails."""
    with db.read() as session:
        cmap = targeting.city_map(session)
    checked = reading.read(data, cmap, now=utcnow(), max_bytes=settings.alerts_import_max_bytes,
                           default_language=settings.default_language)
    alert = checked.alert
    with db.transaction() as session:
        existing = session.scalar(select(ImportedAlert).where(
            ImportedAlert.sender == alert.sender, ImportedAlert.identifier == alert.identifier))
        if existing is not None:
            return existing, False
        now = utcnow()
        row = ImportedAlert(
            sender=alert.sender, identifier=alert.identifier, sent=alert.sent, status=alert.status,
            msg_type=alert.msg_type, cap_references=[[r.sender, r.identifier, r.sent.isoformat()]
                                                     for r in alert.references],
            source=source, source_url=source_url[:1000], state=ImportState.TO_REVIEW, event=checked.event,
            headline=checked.headline, urgency=checked.proposal["urgency"],
            severity=checked.proposal["severity"], certainty=checked.proposal["certainty"],
            expires=checked.expires, proposal=checked.proposal,
            area=geo.dumps(checked.area) if checked.area is not None else None, document=bytes(data),
            digest=hashlib.sha256(data).hexdigest(), imported_by=actor.user_id if actor else None,
            created_at=now, updated_at=now)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # the same document, imported at this very moment by another worker
            existing = session.scalar(select(ImportedAlert).where(
                ImportedAlert.sender == alert.sender, ImportedAlert.identifier == alert.identifier))
            if existing is None:
                raise
            return existing, False
        _link(session, row)
        audit.record(session, actor, "alerts.import", object_type="alert_import", object_id=row.id, ip=ip,
                     changes={"source": source, "sender": row.sender, "identifier": row.identifier,
                              "msg_type": row.msg_type, "flag": row.flag})
        emit(session, "alerts.imported", import_id=row.id, msg_type=row.msg_type, flag=row.flag)
        return row, True


def _get(session: Session, import_id: int) -> ImportedAlert:
    query = select(ImportedAlert).where(ImportedAlert.id == import_id)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound()
    return row


def _body(row: ImportedAlert, data: RepublishIn) -> AlertCreate:
    proposal: dict[str, Any] = dict(row.proposal)
    if data.area is not None:
        proposal["area"] = data.area.model_dump()
    if proposal.get("area") is None:
        raise ImportAreaNeeded(errors=[{"field": "area", "code": "area_needed"}])
    if data.note.strip():
        proposal["note"] = f"{proposal.get('note', '')}\n{data.note.strip()}".strip()[:2000]
    if not proposal.get("infos"):
        raise ValidationFailed(N_("The alert has no text in a language of the city."),
                               errors=[{"field": "infos", "code": "no_city_language"}])
    try:
        return AlertCreate.model_validate(proposal)
    except ValidationError as exc:
        raise ValidationFailed(errors=[{"field": ".".join(str(p) for p in e["loc"]), "code": e["type"],
                                        "message": e["msg"]} for e in exc.errors()]) from exc


def republish(db: Database, settings: Settings, actor: Principal, import_id: int, data: RepublishIn,
              ip: str = "") -> Alert:
    """Relay an imported alert to the city's people with the source's area: an Alert becomes a
    draft of the city's own alert (approved as usual, by two people when Actual); an Update of
    an alert the city relayed becomes a draft Update of the city's alert; a Cancel of one cancels
    the city's alert at once (supervisors). Returns the city's message."""
    with db.transaction() as session:
        row = _get(session, import_id)
        if row.state != ImportState.TO_REVIEW:
            raise ImportNotToReview()
        relay = current_relay(session, row.flag_alert_id) if row.flag_alert_id is not None else None
        if row.msg_type == "Cancel":
            if not actor.has("alerts.approve"):
                raise Forbidden()
            if relay is None or relay.state == State.CANCELLED:
                raise NothingToCancel()
            message = alert_actions.cancel_in(session, settings, actor, relay.id,
                                              str(row.proposal.get("note", "")), ip)
        else:
            body = _body(row, data)
            if relay is not None and relay.state == State.DRAFT:
                raise RelayIsDraft()
            if relay is not None and relay.state == State.APPROVED:
                original = alert_actions.current(session, relay.id)
                message = alert_actions.new_draft(session, settings, actor, body, msg_type="Update",
                                                  references=original)
            else:  # an Alert, or an Update of something the city never relayed (or cancelled)
                message = alert_actions.new_draft(session, settings, actor, body)
            emit(session, "alerts.composed", alert_id=message.id)
        now = utcnow()
        row.state = ImportState.REPUBLISHED
        row.alert_id = message.id
        row.reviewer_id = actor.user_id
        row.reviewed_at = row.updated_at = now
        row.review_note = data.note.strip()
        audit.record(session, actor, "alerts.import.republish", object_type="alert_import", object_id=row.id,
                     ip=ip, changes={"alert_id": message.id, "msg_type": message.msg_type})
        return message


def dismiss(db: Database, actor: Principal, import_id: int, note: str = "", ip: str = "") -> ImportedAlert:
    """Set an imported alert aside without relaying it (one superseded by its source too)."""
    with db.transaction() as session:
        row = _get(session, import_id)
        if row.state not in (ImportState.TO_REVIEW, ImportState.SUPERSEDED):
            raise ImportNotToReview()
        row.state = ImportState.DISMISSED
        row.reviewer_id = actor.user_id
        row.reviewed_at = row.updated_at = utcnow()
        row.review_note = note.strip()
        audit.record(session, actor, "alerts.import.dismiss", object_type="alert_import", object_id=row.id,
                     ip=ip)
        return row
