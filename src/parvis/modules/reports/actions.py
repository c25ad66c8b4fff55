"""Every write of the reports module: intake, the city's workflow, the citizen's follow-up,
and the configuration admins edit (categories, routing table, Open311 keys)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from parvis.kernel import audit, notify
from parvis.kernel.auth import Principal
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import (
    N_,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from parvis.kernel.events import emit
from parvis.kernel.i18n import Translator
from parvis.modules import accounts, city
from parvis.modules.reports import rules
from parvis.modules.reports.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    Category,
    Photo,
    Report,
    Route,
    Source,
    Status,
    Supporter,
    Update,
)
from parvis.modules.reports.schemas import ReportCreate, StatusChange
from parvis.settings import Settings

T = TypeVar("T")

STATUS_WORDS = {
    Status.NEW: N_("received"),
    Status.ACKNOWLEDGED: N_("acknowledged"),
    Status.IN_PROGRESS: N_("in progress"),
    Status.RESOLVED: N_("resolved"),
    Status.CLOSED: N_("closed"),
    Status.REJECTED: N_("not taken forward"),
}


class OutsideCity(ValidationFailed):
    type_slug = "outside-city"
    title = N_("This place is outside the city.")


class UnknownCategory(ValidationFailed):
    type_slug = "unknown-category"
    title = N_("This category does not exist.")


# ------------------------------------------------------------------------------- intake
# Statements run on every report filed are built once (with bound parameters): building a
# SQLAlchemy statement costs more than SQLite takes to run it.
# The category with its routing table: one row per route (or one row of NULLs without routes).
_ACTIVE_CATEGORY = (select(Category, Route.district_id, Route.department_id)
                    .outerjoin(Route, Route.category_id == Category.id)
                    .where(func.upper(Category.code) == bindparam("code"), Category.active.is_(True)))
_CATEGORY_BY_ID = (select(Category, Route.district_id, Route.department_id)
                   .outerjoin(Route, Route.category_id == Category.id).where(Category.id == bindparam("id")))
_RECENT_FROM = select(func.count()).select_from(Report).where(Report.origin == bindparam("origin"),
                                                               Report.created_at >= bindparam("since"))
# Core inserts on the tables (an ORM entity here would go through the ORM's bulk machinery).
_NEW_REPORT = insert(Report.__table__).returning(Report.__table__.c.id)
_NEW_PHOTOS = insert(Photo.__table__).returning(Photo.__table__.c.id, sort_by_parameter_order=True)
_NEW_SUPPORTER = insert(Supporter.__table__)
_NEW_UPDATE = insert(Update.__table__)
# Columns a new report leaves at their default (interest count 1, no rating...), written out so
# that the row inserted and the object answered hold the same values.
_REPORT_DEFAULTS = {c.key: c.default.arg for c in Report.__table__.columns
                    if c.default is not None and c.default.is_scalar}


class _Routed(NamedTuple):
    """A category and its routing table (district id, or None for the whole city -> department)."""

    category: Category
    routes: dict[int | None, int]

    def department_for(self, district_id: int | None) -> int:
        return self.routes.get(district_id) or self.routes.get(None) or self.category.department_id


def _category(session: Session, code: str) -> _Routed:
    rows = session.execute(_ACTIVE_CATEGORY, {"code": code.upper()}).all()
    if not rows:
        raise UnknownCategory(errors=[{"field": "category", "code": "unknown_category"}])
    return _routed(rows)


def _category_by_id(session: Session, category_id: int) -> _Routed:
    """A category (even inactive: reports of it still exist) with its routes."""
    return _routed(session.execute(_CATEGORY_BY_ID, {"id": category_id}).all())


def _routed(rows: Any) -> _Routed:
    return _Routed(rows[0][0], {district: department for _c, district, department in rows
                                if department is not None})


def _label(actor: Principal | None) -> str:
    if actor is None or not actor.is_authenticated:
        return ""
    return actor.display_name if actor.is_staff else ""


def _check_shape(settings: Settings, actor: Principal | None, data: ReportCreate, source: str,
                 photo_count: int) -> None:
    """What can be refused without the database: photo count, contact, a place."""
    if photo_count > settings.reports_max_photos:
        raise ValidationFailed(N_("At most %(count)s photos per report."),
                               params={"count": settings.reports_max_photos})
    signed_in = actor is not None and actor.is_authenticated
    if source == Source.HOTLINE and not (actor is not None and actor.is_staff):
        raise Forbidden()
    if (not signed_in or source == Source.HOTLINE) and not (data.phone or data.email):
        raise ValidationFailed(N_("Give a phone number or an e-mail address so the city can answer you."),
                               errors=[{"field": "phone", "code": "missing"}])
    if (data.lon is None or data.lat is None) and not data.address.strip():
        raise ValidationFailed(N_("Place the problem on the map or describe where it is."),
                               errors=[{"field": "lat", "code": "missing"}])


class _Sender(NamedTuple):
    """Who a burst limit counts, how many reports an hour it allows, and what to say past it."""

    origin: str
    per_hour: int
    too_many: str


def _sender(settings: Settings, ip: str, client_id: int | None) -> _Sender:
    """An API client that relays many people (an Open311 key) is one sender with its own limit;
    anyone else without an account is counted by connection."""
    if client_id is not None:
        return _Sender(rules.origin_of(f"client:{client_id}", settings.secret_key),
                       settings.reports_client_per_hour,
                       N_("Too many reports from this application this hour. Please wait or ask the city "
                          "for a higher limit."))
    return _Sender(rules.origin_of(ip, settings.secret_key), settings.reports_anonymous_per_hour,
                   N_("Too many reports from this connection. Please wait an hour or sign in."))


def _check_in_session(session: Session, settings: Settings, actor: Principal | None, data: ReportCreate,
                      source: str, sender: _Sender) -> tuple[_Routed, dict[str, Any], int | None]:
    """What needs the database: category and its questions, the burst limit of senders without an
    account, the district. Returns the category with its routes, the normalised answers and the
    district (or None)."""
    routed = _category(session, data.category)
    answers = rules.check_attributes(routed.category.attributes, data.attributes,
                                     enforce_required=source != Source.SMS)
    signed_in = actor is not None and actor.is_authenticated
    if not signed_in and source != Source.HOTLINE and sender.origin:
        since = utcnow() - timedelta(hours=1)
        recent = session.scalar(_RECENT_FROM, {"origin": sender.origin, "since": since}) or 0
        if recent >= sender.per_hour:
            raise TooManyRequests(sender.too_many, headers={"Retry-After": "3600"})
    district_id = None
    if data.lon is not None and data.lat is not None:
        district_id = city.district_id_at(session, data.lon, data.lat)
        if district_id is None:
            raise OutsideCity(N_("Place the problem inside the city's districts."),
                              errors=[{"field": "lat", "code": "outside_city"}])
    return routed, answers, district_id


def check_report(db: Database, settings: Settings, actor: Principal | None, data: ReportCreate, *,
                 source: str = Source.WEB, ip: str = "", photo_count: int = 0) -> None:
    """Refuse now what ``create_report`` would refuse, writing nothing (for a report that is
    filed later, once its sender has confirmed a phone number or an e-mail address)."""
    _check_shape(settings, actor, data, source, photo_count)
    with db.read() as session:
        _check_in_session(session, settings, actor, data, source, _sender(settings, ip, None))


def create_report(db: Database, settings: Settings, actor: Principal | None, data: ReportCreate, *,
                  source: str = Source.WEB, ip: str = "", client_id: int | None = None,
                  photos: list[Any] = (),  # type: ignore[assignment]
                  store: Any = None) -> Report:
    """File a report: locate it, route it, start its clock, tell the reporter its number.

    ``client_id`` names the API client (an Open311 key) that relays the report for someone."""
    return file_report(db, settings, actor, data, source=source, ip=ip, client_id=client_id, photos=photos,
                       store=store, present=lambda _session, report, _category: report)


def file_report(db: Database, settings: Settings, actor: Principal | None, data: ReportCreate, *,
                present: Callable[[Session, Report, Category], T], source: str = Source.WEB, ip: str = "",
                client_id: int | None = None, photos: list[Any] = (),  # type: ignore[assignment]
                store: Any = None) -> T:
    """``create_report``, answering with ``present(session, report, category)`` read in the
    same transaction (the API's answer needs names: no second session for them)."""
    _check_shape(settings, actor, data, source, len(photos))
    signed_in = actor is not None and actor.is_authenticated
    has_point = data.lon is not None and data.lat is not None
    sender = _sender(settings, ip, client_id)
    for image in photos:
        store.put(f"reports/{image.sha256}.jpg", image.data, image.content_type)
        store.put(f"reports/{image.sha256}-thumb.jpg", image.thumbnail, "image/jpeg")
    with db.transaction() as session:
        routed, answers, district_id = _check_in_session(session, settings, actor, data, source, sender)
        category = routed.category
        now = utcnow()
        due_ack, due_resolve = rules.due_dates(now, category.sla_ack_hours, category.sla_resolve_hours)
        public_lon, public_lat = (None, None)
        if has_point:
            public_lon, public_lat = (rules.fuzz(data.lon, data.lat) if category.private  # type: ignore[arg-type]
                                      else (data.lon, data.lat))
        hotline = source == Source.HOTLINE
        # On the hotline, the agent files for a caller: the contact given is the caller's.
        contact = accounts.contact_from(actor) if signed_in and not hotline else None  # type: ignore[arg-type]
        values = dict(
            _REPORT_DEFAULTS, token=secrets.token_urlsafe(12), category_id=category.id,
            department_id=routed.department_for(district_id), district_id=district_id,
            status=Status.NEW, description=data.description.strip(), address=data.address.strip(),
            lon=data.lon, lat=data.lat, public_lon=public_lon, public_lat=public_lat,
            attributes=answers, source=source,
            reporter_id=None if hotline else (actor.user_id if signed_in else None),  # type: ignore[union-attr]
            reporter_name=(data.name or (contact.display_name if contact else "")).strip(),
            reporter_phone=data.phone or (contact.phone if contact else None),
            reporter_email=data.email or (contact.email if contact else None),
            reporter_language=data.language,
            contact_channel=data.contact_channel, show_name=data.show_name,
            needs_location=not has_point, origin=sender.origin, created_at=now, updated_at=now,
            due_ack_at=due_ack, due_resolve_at=due_resolve)
        # A Core insert, then the object built from the same values (the unit of work's flush
        # cost as much as the rest of filing): nothing in this transaction loads it back.
        values["id"] = session.execute(_NEW_REPORT, values).scalar_one()
        report = Report(**values)
        photo_rows = [{"report_id": report.id, "key": f"reports/{image.sha256}.jpg",
                       "thumb_key": f"reports/{image.sha256}-thumb.jpg", "width": image.width,
                       "height": image.height, "sha256": image.sha256, "hidden": False, "created_at": now}
                      for image in photos]
        photo_ids = session.execute(_NEW_PHOTOS, photo_rows).scalars().all() if photo_rows else []
        report.photos = [Photo(id=i, **row) for i, row in zip(photo_ids, photo_rows, strict=True)]
        # Rows nobody reads back here: plain inserts, not the unit of work (this runs on every report).
        session.execute(_NEW_SUPPORTER, {"report_id": report.id, "person": _person(actor, data),
                                         "user_id": report.reporter_id, "created_at": now})
        session.execute(_NEW_UPDATE, {"report_id": report.id, "kind": "created", "status": Status.NEW,
                                      "at": now, "author_id": actor.user_id if actor else None,
                                      "author_label": _label(actor), "public": True, "text": ""})
        if actor is not None and actor.is_staff:
            audit.record(session, actor, "reports.create", object_type="report", object_id=report.id,
                         ip=ip, changes={"source": source, "category": category.code})
        _notify_reporter(session, settings, report, category,
                         N_("%(city)s: your report #%(id)s (%(category)s) is received. Follow it: %(link)s"),
                         contact=contact)
        emit(session, "reports.created", report_id=report.id, category=category.code,
             department_id=report.department_id)
        return present(session, report, category)


def _person(actor: Principal | None, data: ReportCreate) -> str:
    if actor is not None and actor.is_authenticated and not actor.is_staff:
        return f"user:{actor.user_id}"
    return f"phone:{data.phone}" if data.phone else f"email:{data.email or secrets.token_hex(8)}"


def support(db: Database, actor: Principal, report_id: int) -> int:
    """ "Me too": one more person has the same problem. Returns the interest count."""
    if not actor.is_authenticated:
        raise Forbidden()
    with db.transaction() as session:
        report = session.get(Report, report_id)
        if report is None or report.status not in OPEN_STATUSES:
            raise NotFound()
        person = f"user:{actor.user_id}"
        if session.scalar(select(Supporter.id).where(Supporter.report_id == report_id,
                                                     Supporter.person == person)) is None:
            session.add(Supporter(report_id=report_id, person=person, user_id=actor.user_id))
            report.interest_count += 1
        return report.interest_count


# ------------------------------------------------------------------------------- notifications

def _reporter(session: Session, report: Report) -> accounts.Contact | None:
    return accounts.contact_of(session, report.reporter_id) if report.reporter_id else None


def _notify_reporter(session: Session, settings: Settings, report: Report, category: Category,
                     message: str, update_id: int | None = None, *,
                     contact: accounts.Contact | None = None, **params: Any) -> None:
    """Tell the reporter, on the channel they chose, in their language. ``contact`` is the
    reporter's account, when they have one."""
    lang = (contact.language if contact else None) or report.reporter_language or settings.default_language
    tr = Translator(lang)
    values = {"city": settings.city_name, "id": report.id, "category": category.name,
              "link": f"{settings.base_url}/reports/{report.id}", **params}
    word = values.get("status")
    if word:
        values["status"] = tr.gettext(word)
    body = tr.gettext(message, **values)
    key = f"report:{report.id}:{update_id or 'created'}"
    channel = report.contact_channel
    if channel == "sms" and report.reporter_phone:
        notify.enqueue(session, channel=notify.Channel.SMS, to=report.reporter_phone, body=body,
                       user_id=report.reporter_id, key=key + ":sms", purpose="reports.update")
    elif channel == "email" and report.reporter_email:
        notify.enqueue(session, channel=notify.Channel.EMAIL, to=report.reporter_email, body=body,
                       subject=tr.gettext("Your report #%(id)s", id=report.id),
                       user_id=report.reporter_id, key=key + ":email", purpose="reports.update")
    elif channel == "push" and report.reporter_id:
        notify.enqueue_push(session, user_id=report.reporter_id, title=settings.city_name, body=body,
                            key=key + ":push", purpose="reports.update",
                            data={"url": f"/reports/{report.id}"})


# ------------------------------------------------------------------------------- the city's workflow

def _staff_report(session: Session, actor: Principal, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound()
    if not actor.can_act_for_department(report.department_id):
        raise Forbidden()
    return report


def _add_update(session: Session, report: Report, actor: Principal, kind: str, *, text: str = "",
                public: bool = True, status: str | None = None, **extra: Any) -> Update:
    entry = Update(report_id=report.id, kind=kind, text=text, public=public, status=status,
                   author_id=actor.user_id, author_label=_label(actor) or "", **extra)
    session.add(entry)
    report.updated_at = utcnow()
    session.flush()
    return entry


def change_status(db: Database, settings: Settings, actor: Principal, report_id: int,
                  change: StatusChange, ip: str = "") -> Report:
    target = Status(change.status)
    with db.transaction() as session:
        report = _staff_report(session, actor, report_id)
        current = Status(report.status)
        if target not in TRANSITIONS[current]:
            raise Conflict(N_("A report that is %(from)s cannot become %(to)s."),
                           params={"from": STATUS_WORDS[current], "to": STATUS_WORDS[target]})
        if target == Status.REJECTED and not change.reject_reason:
            raise ValidationFailed(N_("Say why the report is not taken forward."),
                                   errors=[{"field": "reject_reason", "code": "missing"}])
        now = utcnow()
        report.status = target
        if target in (Status.ACKNOWLEDGED, Status.IN_PROGRESS):
            report.acknowledged_at = report.acknowledged_at or now
        elif target == Status.RESOLVED:
            report.acknowledged_at = report.acknowledged_at or now
            report.resolved_at = now
        elif target == Status.CLOSED:
            report.closed_at = now
        elif target == Status.REJECTED:
            report.reject_reason = change.reject_reason
            report.referred_to = change.referred_to
            if change.duplicate_of:
                _merge_into(session, report, change.duplicate_of)
        entry = _add_update(session, report, actor, "status", text=change.comment, status=target)
        audit.record(session, actor, "reports.status", object_type="report", object_id=report.id, ip=ip,
                     changes={"from": current, "to": target, "reason": change.reject_reason})
        category = session.get(Category, report.category_id)
        _notify_reporter(session, settings, report, category,  # type: ignore[arg-type]
                         N_("%(city)s: your report #%(id)s is now %(status)s. %(comment)s %(link)s"),
                         update_id=entry.id, contact=_reporter(session, report), status=STATUS_WORDS[target],
                         comment=change.comment)
        emit(session, "reports.status_changed", report_id=report.id, status=target, previous=current)
        if target == Status.RESOLVED:
            emit(session, "reports.resolved", report_id=report.id)
        return report


def _merge_into(session: Session, report: Report, target_id: int) -> None:
    target = session.get(Report, target_id)
    if target is None or target.id == report.id:
        raise ValidationFailed(N_("The original report was not found."),
                               errors=[{"field": "duplicate_of", "code": "not_found"}])
    report.duplicate_of = target.id
    report.reject_reason = "duplicate"
    known = set(session.scalars(select(Supporter.person).where(Supporter.report_id == target.id)))
    for supporter in session.scalars(select(Supporter).where(Supporter.report_id == report.id)):
        if supporter.person not in known:
            session.add(Supporter(report_id=target.id, person=supporter.person, user_id=supporter.user_id))
            target.interest_count += 1


def add_comment(db: Database, settings: Settings, actor: Principal, report_id: int, text: str,
                public: bool, ip: str = "") -> Update:
    """A public comment (the reporter is told) or an internal note (never public)."""
    with db.transaction() as session:
        report = _staff_report(session, actor, report_id)
        entry = _add_update(session, report, actor, "comment" if public else "note", text=text,
                            public=public)
        audit.record(session, actor, "reports.comment" if public else "reports.note",
                     object_type="report", object_id=report.id, ip=ip)
        if public:
            category = session.get(Category, report.category_id)
            _notify_reporter(session, settings, report, category,  # type: ignore[arg-type]
                             N_("%(city)s: the city answered about your report #%(id)s: %(comment)s"),
                             update_id=entry.id, contact=_reporter(session, report), comment=text[:300])
        return entry


def transfer(db: Database, actor: Principal, report_id: int, department_id: int, reason: str,
             ip: str = "") -> Report:
    with db.transaction() as session:
        report = _staff_report(session, actor, report_id)
        if department_id not in city.department_ids(session):
            raise ValidationFailed(N_("Unknown department."),
                                   errors=[{"field": "department_id", "code": "unknown"}])
        if department_id == report.department_id:
            raise Conflict(N_("The report is already with this department."))
        previous = report.department_id
        report.department_id = department_id
        report.assigned_to = None
        _add_update(session, report, actor, "transfer", text=reason, department_from=previous,
                    department_to=department_id)
        audit.record(session, actor, "reports.transfer", object_type="report", object_id=report.id, ip=ip,
                     changes={"from": previous, "to": department_id, "reason": reason})
        emit(session, "reports.transferred", report_id=report.id, department_id=department_id)
        return report


def assign(db: Database, actor: Principal, report_id: int, user_id: int | None, ip: str = "") -> Report:
    with db.transaction() as session:
        report = _staff_report(session, actor, report_id)
        if user_id is not None and not accounts.is_staff_of(session, user_id, report.department_id):
            raise ValidationFailed(N_("This person is not an agent of the report's department."),
                                   errors=[{"field": "user_id", "code": "not_in_department"}])
        report.assigned_to = user_id
        _add_update(session, report, actor, "assign", public=False)
        audit.record(session, actor, "reports.assign", object_type="report", object_id=report.id, ip=ip,
                     changes={"user_id": user_id})
        return report


def redact(db: Database, actor: Principal, report_id: int, description: str,
           hidden_photo_ids: list[int], ip: str = "") -> Report:
    """Moderation: rewrite the public description and hide photos (kept for the city)."""
    with db.transaction() as session:
        report = _staff_report(session, actor, report_id)
        report.description = description
        for photo in report.photos:
            photo.hidden = photo.id in set(hidden_photo_ids)
        _add_update(session, report, actor, "redaction", public=False)
        audit.record(session, actor, "reports.redact", object_type="report", object_id=report.id, ip=ip,
                     changes={"hidden_photos": sorted(hidden_photo_ids)})
        return report


# ------------------------------------------------------------------------------- the citizen's follow-up

def _own_report(session: Session, actor: Principal, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound()
    if not actor.is_authenticated or report.reporter_id != actor.user_id:
        raise Forbidden()
    return report


def reopen(db: Database, settings: Settings, actor: Principal, report_id: int, reason: str) -> Report:
    with db.transaction() as session:
        report = _own_report(session, actor, report_id)
        if report.status != Status.RESOLVED or report.resolved_at is None:
            raise Conflict(N_("Only a resolved report can be reopened."))
        if utcnow() - report.resolved_at > timedelta(days=settings.reports_reopen_days):
            raise Conflict(N_("A report can be reopened within %(days)s days of its resolution."),
                           params={"days": settings.reports_reopen_days})
        report.status = Status.IN_PROGRESS
        report.resolved_at = None
        report.reopened_count += 1
        _add_update(session, report, actor, "reopen", text=reason, status=Status.IN_PROGRESS)
        emit(session, "reports.reopened", report_id=report.id, department_id=report.department_id)
        return report


def rate(db: Database, actor: Principal, report_id: int, rating: int, comment: str) -> Report:
    """The citizen's evaluation closes the loop (and the report)."""
    with db.transaction() as session:
        report = _own_report(session, actor, report_id)
        if report.status not in (Status.RESOLVED, Status.CLOSED, Status.REJECTED):
            raise Conflict(N_("You can rate the city's work once the report is resolved."))
        report.rating = rating
        report.rating_comment = comment
        if report.status == Status.RESOLVED:
            report.status = Status.CLOSED
            report.closed_at = utcnow()
        _add_update(session, report, actor, "rating", status=report.status)
        emit(session, "reports.rated", report_id=report.id, rating=rating)
        return report


# ------------------------------------------------------------------------------- scheduled work

def escalate_overdue(db: Database, settings: Settings) -> int:
    """Flag reports past their targets and tell the department's supervisors (once each)."""
    now = utcnow()
    done = 0
    with db.transaction() as session:
        overdue = list(session.scalars(select(Report).where(
            Report.escalated_at.is_(None), Report.status.in_(list(OPEN_STATUSES)),
            ((Report.status == Status.NEW) & (Report.due_ack_at < now)) | (Report.due_resolve_at < now),
        ).limit(200)))
        for report in overdue:
            report.escalated_at = now
            session.add(Update(report_id=report.id, kind="escalation", public=False, at=now))
            for supervisor in accounts.supervisors_of(session, report.department_id):
                tr = Translator(supervisor.language or settings.default_language)
                body = tr.gettext("%(city)s: report #%(id)s is overdue. %(link)s", city=settings.city_name,
                                  id=report.id, link=f"{settings.base_url}/admin/reports/{report.id}")
                if supervisor.email:
                    notify.enqueue(session, channel=notify.Channel.EMAIL, to=supervisor.email, body=body,
                                   subject=tr.gettext("Overdue report #%(id)s", id=report.id),
                                   user_id=supervisor.user_id, key=f"report:{report.id}:escalation:"
                                   f"{supervisor.user_id}", purpose="reports.escalation")
            emit(session, "reports.escalated", report_id=report.id, department_id=report.department_id)
            done += 1
        stale = now - timedelta(days=settings.reports_close_days)
        session.execute(update(Report).where(Report.status == Status.RESOLVED, Report.resolved_at < stale)
                        .values(status=Status.CLOSED, closed_at=now))
    return done


def locate_report(db: Database, actor: Principal, report_id: int, lon: float, lat: float,
                  ip: str = "") -> Report:
    """Staff place a report from the "to be located" queue on the map (it may change department)."""
    with db.transaction() as session:
        report = _staff_report(session, actor, report_id)
        district_id = city.district_id_at(session, lon, lat)
        if district_id is None:
            raise OutsideCity(N_("Place the problem inside the city's districts."))
        routed = _category_by_id(session, report.category_id)
        category = routed.category
        report.lon, report.lat, report.district_id = lon, lat, district_id
        report.public_lon, report.public_lat = (rules.fuzz(lon, lat) if category.private
                                                else (lon, lat))
        report.needs_location = False
        report.department_id = routed.department_for(district_id)
        _add_update(session, report, actor, "located", public=False)
        audit.record(session, actor, "reports.locate", object_type="report", object_id=report.id, ip=ip)
        return report
