"""Every write of the alerts module: compose and edit a draft, approve it (two people for an
``Actual`` alert), update and cancel a sent alert, subscribe to places.

Approval queues the fan-out job in the same transaction, so an approved alert is always
delivered, even if the process stops right after. A cancel stops what is still queued and tells
the people already reached.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from parvis.kernel import audit, geo, jobs, notify
from parvis.kernel.auth import Principal
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, Conflict, Forbidden, NotFound, ValidationFailed
from parvis.kernel.events import emit
from parvis.modules import accounts, city
from parvis.modules.alerts import followup, rules, targeting
from parvis.modules.alerts.area import AreaOutsideCity
from parvis.modules.alerts.models import (
    Alert,
    AlertInfo,
    Delivery,
    DeliveryState,
    State,
    Subscription,
    category_bits,
)
from parvis.modules.alerts.schemas import AlertCreate, SubscriptionCreate
from parvis.modules.alerts.standards import cap
from parvis.settings import Settings

FAN_OUT_JOB = rules.FAN_OUT_JOB


class SameApprover(Forbidden):
    type_slug = "alert-approver-is-author"
    title = N_("An actual alert must be approved by someone other than its author.")


class MissingLanguage(ValidationFailed):
    type_slug = "alert-missing-language"
    title = N_("The alert has no text in the city's default language.")


class AlertNotDraft(Conflict):
    type_slug = "alert-not-draft"
    title = N_("Only a draft can be changed or approved.")


class AlertNotActive(Conflict):
    type_slug = "alert-not-active"
    title = N_("Only a sent alert that is still current can be updated or cancelled.")


def sender(settings: Settings) -> str:
    """The CAP sender of the city's alerts: the setting, or ``alerts@<host of base_url>``."""
    return settings.alerts_sender or f"alerts@{urlsplit(settings.base_url).hostname or 'localhost'}"


def _check_times(data: AlertCreate, now: datetime) -> None:
    info = cap.Info(categories=list(data.categories), event=data.event, urgency=data.urgency,
                    severity=data.severity, certainty=data.certainty, effective=data.effective,
                    onset=data.onset, expires=data.expires)
    probe = cap.Alert(identifier="x", sender="x", sent=now, infos=[info])
    rules.check_not_expired(probe, now)
    rules.check_times(probe)


def _fill(alert: Alert, data: AlertCreate, drawn: targeting.DrawnArea) -> None:
    """Copy a composed alert onto its row (the infos are replaced separately)."""
    for name in ("status", "event", "urgency", "severity", "certainty", "web", "contact", "note",
                 "effective", "onset", "expires"):
        setattr(alert, name, getattr(data, name))
    alert.categories = list(data.categories)
    alert.response_types = list(data.response_types)
    alert.area_desc = data.area.description.strip()
    alert.district_ids = drawn.district_ids
    alert.polygon = drawn.polygon
    alert.circle_lon, alert.circle_lat, alert.circle_radius_km = drawn.circle or (None, None, None)
    alert.area = geo.dumps(drawn.shape)
    alert.min_lon, alert.min_lat, alert.max_lon, alert.max_lat = drawn.shape.bounds
    alert.updated_at = utcnow()


def _set_infos(session: Session, alert: Alert, data: AlertCreate) -> None:
    session.execute(delete(AlertInfo).where(AlertInfo.alert_id == alert.id))
    for info in data.infos:
        session.add(AlertInfo(alert_id=alert.id, language=info.language, headline=info.headline.strip(),
                              description=info.description.strip(), instruction=info.instruction.strip()))


def _checked(session: Session, data: AlertCreate) -> targeting.DrawnArea:
    _check_times(data, utcnow())
    return targeting.check_area(data.area, targeting.city_map(session))


def _new_alert(session: Session, settings: Settings, actor: Principal, data: AlertCreate, *,
               msg_type: str = "Alert", references: Alert | None = None) -> Alert:
    drawn = _checked(session, data)
    alert = Alert(identifier=f"urn:uuid:{uuid.uuid4()}", sender=sender(settings), msg_type=msg_type,
                  references_id=references.id if references else None, state=State.DRAFT,
                  author_id=actor.user_id, created_at=utcnow())
    _fill(alert, data, drawn)
    session.add(alert)
    session.flush()
    _set_infos(session, alert, data)
    return alert


def new_draft(session: Session, settings: Settings, actor: Principal, data: AlertCreate, *,
              msg_type: str = "Alert", references: Alert | None = None) -> Alert:
    """A checked draft added in the caller's transaction (imports relay through it)."""
    return _new_alert(session, settings, actor, data, msg_type=msg_type, references=references)


def compose(db: Database, settings: Settings, actor: Principal, data: AlertCreate, ip: str = "") -> Alert:
    """A new draft alert, checked: the area against the city, the times against the clock."""
    with db.transaction() as session:
        alert = _new_alert(session, settings, actor, data)
        audit.record(session, actor, "alerts.compose", object_type="alert", object_id=alert.id, ip=ip,
                     changes={"status": alert.status, "event": alert.event})
        emit(session, "alerts.composed", alert_id=alert.id)
        return alert


def _get(session: Session, alert_id: int, *, lock: bool = False) -> Alert:
    query = select(Alert).where(Alert.id == alert_id)
    if lock and session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    alert = session.scalar(query)
    if alert is None:
        raise NotFound()
    return alert


def edit_draft(db: Database, actor: Principal, alert_id: int, data: AlertCreate, ip: str = "") -> Alert:
    """Replace a draft's content (its identifier and author stay)."""
    with db.transaction() as session:
        alert = _get(session, alert_id, lock=True)
        if alert.state != State.DRAFT:
            raise AlertNotDraft()
        _fill(alert, data, _checked(session, data))
        _set_infos(session, alert, data)
        audit.record(session, actor, "alerts.edit", object_type="alert", object_id=alert.id, ip=ip)
        return alert


def approve(db: Database, settings: Settings, actor: Principal, alert_id: int, ip: str = "") -> Alert:
    """Send a draft: an ``Actual`` alert needs an approver who is not its author. The fan-out job
    is queued with the approval (Test and Exercise alerts reach testers only)."""
    if not actor.has("alerts.approve"):
        raise Forbidden()
    with db.transaction() as session:
        alert = _get(session, alert_id, lock=True)
        if alert.state != State.DRAFT:
            raise AlertNotDraft()
        if alert.status == "Actual" and alert.author_id == actor.user_id:
            raise SameApprover()
        languages = set(session.scalars(select(AlertInfo.language).where(AlertInfo.alert_id == alert.id)))
        if settings.default_language not in languages:
            raise MissingLanguage(N_("Add the alert's text in %(language)s before approving it."),
                                  params={"language": settings.default_language})
        now = utcnow()
        if alert.expires is not None and alert.expires <= now:
            raise rules.AlertExpired()
        if alert.references_id is not None:
            original = _get(session, alert.references_id, lock=True)
            if original.state != State.APPROVED or original.replaced_by_id is not None:
                raise AlertNotActive()
            original.replaced_by_id = alert.id
        alert.state = State.APPROVED
        alert.approver_id = actor.user_id
        alert.approved_at = alert.sent = alert.updated_at = now
        jobs.enqueue(session, FAN_OUT_JOB, {"alert_id": alert.id}, key=rules.fan_out_key(alert.id))
        if alert.msg_type == "Update":  # people the original reached outside the new area are told
            jobs.enqueue(session, followup.FOLLOW_UP_JOB, {"alert_id": alert.id},
                         key=f"{followup.FOLLOW_UP_JOB}:{alert.id}", max_attempts=followup.MAX_ATTEMPTS)
        audit.record(session, actor, "alerts.approve", object_type="alert", object_id=alert.id, ip=ip,
                     changes={"status": alert.status, "msg_type": alert.msg_type})
        emit(session, "alerts.approved", alert_id=alert.id, status=alert.status, msg_type=alert.msg_type)
        return alert


def _current(session: Session, alert_id: int) -> Alert:
    alert = _get(session, alert_id, lock=True)
    if (alert.state != State.APPROVED or alert.replaced_by_id is not None
            or alert.msg_type == "Cancel"):
        raise AlertNotActive()
    return alert


def current(session: Session, alert_id: int) -> Alert:
    """A sent alert still current (not replaced, not cancelled), locked; ``AlertNotActive`` otherwise."""
    return _current(session, alert_id)


def update_alert(db: Database, settings: Settings, actor: Principal, alert_id: int, data: AlertCreate,
                 ip: str = "") -> Alert:
    """A draft ``Update`` of a sent alert (new CAP message referencing it); approving the update
    sends it and retires the original."""
    with db.transaction() as session:
        original = _current(session, alert_id)
        alert = _new_alert(session, settings, actor, data, msg_type="Update", references=original)
        audit.record(session, actor, "alerts.update", object_type="alert", object_id=alert.id, ip=ip,
                     changes={"references": original.id})
        emit(session, "alerts.composed", alert_id=alert.id)
        return alert


def _stop_queued_messages(session: Session, alert_ids: list[int]) -> set[str]:
    """Withdraw the outbox messages of these alerts that no worker has taken yet; returns the
    delivery keys withdrawn."""
    stopped: set[str] = set()
    for alert_id in alert_ids:
        withdrawn = notify.withdraw(session, purpose=targeting.PURPOSE, key_prefix=f"alert:{alert_id}:",
                                    reason="cancelled: the alert was cancelled")
        # A push message's key is its delivery's key plus ":<subscription id>".
        stopped |= {key.rsplit(":", 1)[0] if channel == "push" else key for key, channel in withdrawn}
    return stopped


def cancel(db: Database, settings: Settings, actor: Principal, alert_id: int, note: str = "",
           ip: str = "") -> Alert:
    """Cancel a sent alert at once: a ``Cancel`` message referencing it is issued, deliveries
    still queued are withdrawn, and the people already reached are told."""
    if not actor.has("alerts.approve"):
        raise Forbidden()
    with db.transaction() as session:
        return cancel_in(session, settings, actor, alert_id, note, ip)


def cancel_in(session: Session, settings: Settings, actor: Principal, alert_id: int, note: str = "",
              ip: str = "") -> Alert:
    """``cancel`` in the caller's transaction (relaying an imported Cancel uses it)."""
    if not actor.has("alerts.approve"):
        raise Forbidden()
    original = _current(session, alert_id)
    now = utcnow()
    ids = [original.id, *targeting.chain(session, original)]
    stopped = _stop_queued_messages(session, ids)
    if stopped:
        session.execute(update(Delivery).where(
            Delivery.alert_id.in_(ids), Delivery.state == DeliveryState.QUEUED,
            Delivery.outbox_key.in_(stopped)).values(
            state=DeliveryState.CANCELLED, reason="alert cancelled", updated_at=now))
    session.execute(update(Delivery).where(  # nothing was queued for them in the outbox
        Delivery.alert_id.in_(ids), Delivery.state == DeliveryState.QUEUED,
        Delivery.outbox_id.is_(None)).values(state=DeliveryState.CANCELLED, reason="alert cancelled",
                                             updated_at=now))
    message = Alert(identifier=f"urn:uuid:{uuid.uuid4()}", sender=sender(settings), msg_type="Cancel",
                    references_id=original.id, state=State.APPROVED, author_id=actor.user_id,
                    approver_id=actor.user_id, approved_at=now, sent=now, created_at=now, updated_at=now,
                    note=note.strip())
    for name in ("status", "scope", "event", "categories", "response_types", "urgency", "severity",
                 "certainty", "web", "contact", "effective", "onset", "expires", "area_desc",
                 "district_ids", "polygon", "circle_lon", "circle_lat", "circle_radius_km", "area",
                 "min_lon", "min_lat", "max_lon", "max_lat"):
        setattr(message, name, getattr(original, name))
    session.add(message)
    session.flush()
    for info in session.scalars(select(AlertInfo).where(AlertInfo.alert_id == original.id)):
        session.add(AlertInfo(alert_id=message.id, language=info.language, headline=info.headline,
                              description=info.description, instruction=info.instruction))
    original.state = State.CANCELLED
    original.cancelled_at = original.updated_at = now
    jobs.enqueue(session, FAN_OUT_JOB, {"alert_id": message.id}, key=rules.fan_out_key(message.id))
    audit.record(session, actor, "alerts.cancel", object_type="alert", object_id=original.id, ip=ip,
                 changes={"cancel_id": message.id, "withdrawn": len(stopped)})
    emit(session, "alerts.cancelled", alert_id=original.id, cancel_id=message.id)
    return message


def record_outcome(db: Database, message_ids: int | Sequence[int], state: str, reason: str = "") -> None:
    """Follow the outbox onto the delivery records, in whatever order its news arrives: ``sent``
    (the gateway took the message; one call per batch the worker sent) only moves a queued
    record, ``failed`` a queued or sent one, and ``delivered`` (a handset's receipt, final) any
    record not delivered yet."""
    ids = [message_ids] if isinstance(message_ids, int) else list(message_ids)
    values: dict[str, Any] = {"updated_at": utcnow(), "state": state}
    if state == DeliveryState.DELIVERED:
        condition = Delivery.state != DeliveryState.DELIVERED
    elif state == DeliveryState.FAILED:
        values["reason"] = reason[:300]
        condition = Delivery.state.in_([DeliveryState.QUEUED, DeliveryState.SENT])
    elif state == DeliveryState.SENT:
        condition = Delivery.state == DeliveryState.QUEUED
    else:
        raise ValueError(f"not an outcome: {state!r}")
    with db.transaction() as session:
        for start in range(0, len(ids), 5000):
            session.execute(update(Delivery).where(Delivery.outbox_id.in_(ids[start:start + 5000]), condition)
                            .values(**values).execution_options(synchronize_session=False))


# ------------------------------------------------------------------------------- subscriptions

class MissingAddress(ValidationFailed):
    type_slug = "subscription-missing-address"
    title = N_("Your account has no address for this channel.")


def subscribe(db: Database, actor: Principal | None, data: SubscriptionCreate, *, phone: str | None = None,
              email: str | None = None, ip: str = "") -> Subscription:
    """Add a place to be warned about, for a signed-in person or for a phone or e-mail address
    without an account (web push needs an account)."""
    has_point = data.lon is not None or data.lat is not None
    if has_point == (data.district_id is not None) or (has_point and (data.lon is None or data.lat is None)):
        raise ValidationFailed(N_("Choose a point on the map or a district."),
                               errors=[{"field": "district_id", "code": "place"}])
    signed_in = actor is not None and actor.is_authenticated
    with db.transaction() as session:
        if has_point and city.district_id_at(session, data.lon, data.lat) is None:  # type: ignore[arg-type]
            raise AreaOutsideCity(N_("Place the point inside the city's districts."),
                                  errors=[{"field": "lat", "code": "outside_city"}])
        if data.district_id is not None and data.district_id not in city.district_names(session):
            raise targeting.UnknownDistrict(errors=[{"field": "district_id", "code": "unknown_district"}])
        language = data.language
        if signed_in:
            contact = accounts.contact_of(session, actor.user_id)  # type: ignore[arg-type, union-attr]
            if contact is None:
                raise Forbidden()
            person, user_id = f"user:{contact.user_id}", contact.user_id
            phone, email, language = contact.phone, contact.email, language or contact.language
        elif phone or email:
            person, user_id = (f"phone:{phone}" if phone else f"email:{email}"), None
        else:
            raise Forbidden()
        channels = set(data.channels)
        for channel, address in (("sms", phone), ("email", email), ("push", user_id)):
            if channel in channels and not address:
                raise MissingAddress(errors=[{"field": "channels", "code": f"no_{channel}"}])
        row = Subscription(person=person, user_id=user_id, phone=phone if "sms" in channels else None,
                           email=email if "email" in channels else None, label=data.label.strip(),
                           lon=data.lon, lat=data.lat, district_id=data.district_id,
                           categories=category_bits(data.categories), by_sms="sms" in channels,
                           by_email="email" in channels, by_push="push" in channels, language=language,
                           tester=data.tester)
        session.add(row)
        session.flush()
        audit.record(session, actor, "alerts.subscribe", object_type="alert_subscription", object_id=row.id,
                     ip=ip)
        return row


def unsubscribe(db: Database, actor: Principal, subscription_id: int, ip: str = "") -> None:
    with db.transaction() as session:
        row = session.get(Subscription, subscription_id)
        if row is None or row.user_id is None or row.user_id != actor.user_id:
            raise NotFound()
        session.delete(row)
        audit.record(session, actor, "alerts.unsubscribe", object_type="alert_subscription",
                     object_id=subscription_id, ip=ip)
