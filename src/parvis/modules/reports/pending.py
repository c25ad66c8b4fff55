"""Web reports from visitors without an account, confirmed by a code (as FixMyStreet does).

The page checks the report exactly as filing would (``actions.check_report``) and hands it to
``stash``: the photos go to the file store, the report waits in ``reports_pending`` and a
6-digit code leaves by SMS or e-mail in the same transaction. ``confirm`` checks the code and
files the report through ``actions.create_report``; ``resend`` sends a new code (throttled);
``purge`` (a worker tick) deletes what was never confirmed, photos included. A pending report
is never public: no list, map, queue or API reads its table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from parvis.kernel import identifiers, notify
from parvis.kernel.auth import hash_password, new_code, new_token, token_digest, verify_password
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, InvalidPhone, NotFound, ParvisError, TooManyRequests, ValidationFailed
from parvis.kernel.files import FileStore, LocalFileStore, SanitizedImage
from parvis.kernel.i18n import Translator
from parvis.modules.reports import actions, rules
from parvis.modules.reports.models import PendingReport, Photo, Report, Source
from parvis.modules.reports.schemas import ReportCreate
from parvis.settings import Settings

MAX_ATTEMPTS = 5  # wrong codes, then the pending report is void
MAX_SENDS = 4  # the first code and three new ones
PURPOSE = "reports.confirm"


class PendingGone(NotFound):
    type_slug = "pending-report-gone"
    title = N_("This report is no longer waiting for a code: it was confirmed or it has expired.")


class PendingExpired(ParvisError):
    status = 410
    type_slug = "pending-report-expired"
    title = N_("The time to confirm this report is over. Please report the problem again.")


class PendingVoid(TooManyRequests):
    type_slug = "pending-report-void"
    title = N_("Too many wrong codes: this report is cancelled. Please report the problem again.")


class WrongCode(ValidationFailed):
    type_slug = "wrong-code"
    title = N_("This code is wrong.")


# ------------------------------------------------------------------------------- the contact

def read_contact(raw: str, region: str) -> tuple[str | None, str | None]:
    """``(phone, email)`` from what the visitor typed: an E.164 number or a lower-case address.

    Nothing typed gives ``(None, None)``: ``check_report`` then asks for a contact.
    """
    raw = (raw or "").strip()
    if not raw:
        return None, None
    if "@" in raw:
        return None, identifiers.normalise_email(raw, field="contact")
    phone = identifiers.normalise_phone(raw, region, field="contact")
    if identifiers.phone_country(phone) != region.upper():
        # Codes go by SMS only to the city's own country (SMS abroad cost the city most and are
        # what SMS-pumping scripts aim at); visitors from abroad use an e-mail address.
        raise InvalidPhone(N_("Give a phone number of this country, or an e-mail address."),
                           errors=[{"field": "contact", "code": "foreign_phone"}])
    return phone, None


# ------------------------------------------------------------------------------- set aside

@dataclass(frozen=True)
class StoredPhoto:
    """A photo already in the file store, in the shape ``create_report`` reads (no bytes:
    ``_AlreadyStored`` keeps the files as they are)."""

    sha256: str
    width: int
    height: int
    content_type: str = "image/jpeg"
    data: bytes = b""
    thumbnail: bytes = b""


class _AlreadyStored:
    """The file store, for ``create_report``: the photos were put when the report was set aside."""

    def __init__(self, store: FileStore) -> None:
        self.store = store

    def put(self, key: str, data: bytes, content_type: str) -> None:
        return None


def _keys(sha256: str) -> tuple[str, str]:
    return f"reports/{sha256}.jpg", f"reports/{sha256}-thumb.jpg"


def _check_room(session: Session, settings: Settings, origin: str, phone: str | None,
                email: str | None) -> None:
    """At most ``reports_pending_per_hour`` reports awaiting a code per connection and per contact."""
    since = utcnow() - timedelta(hours=1)
    limit = settings.reports_pending_per_hour
    recent = select(func.count()).select_from(PendingReport).where(PendingReport.created_at >= since)
    if origin and (session.scalar(recent.where(PendingReport.origin == origin)) or 0) >= limit:
        raise TooManyRequests(N_("Too many reports from this connection. Please wait an hour or sign in."),
                              headers={"Retry-After": "3600"})
    if phone and (session.scalar(recent.where(PendingReport.phone.is_not(None))) or 0) \
            >= settings.reports_pending_sms_per_hour:
        raise TooManyRequests(N_("The city cannot send more codes by SMS this hour. Please give an e-mail "
                                 "address, sign in, or try again later."), headers={"Retry-After": "3600"})
    same = PendingReport.phone == phone if phone else PendingReport.email == email
    if (phone or email) and (session.scalar(recent.where(same)) or 0) >= limit:
        raise TooManyRequests(N_("Too many codes were sent to this number or address. Please wait an "
                                 "hour or sign in."), headers={"Retry-After": "3600"})


def check_room(db: Database, settings: Settings, data: ReportCreate, ip: str) -> None:
    """Refuse now a report that ``stash`` would refuse for the burst limit (before photos are read)."""
    with db.read() as session:
        _check_room(session, settings, rules.origin_of(ip, settings.secret_key), data.phone, data.email)


def _minutes_left(row: PendingReport, now: datetime) -> int:
    return max(1, math.ceil((row.expires_at - now).total_seconds() / 60))


def _send(session: Session, settings: Settings, row: PendingReport, token: str, code: str) -> None:
    """The code, by SMS to a phone or by e-mail, with a link that confirms in one click (the tab
    that asked for the code may be closed by the time it arrives)."""
    tr = Translator(row.language or settings.default_language)
    link = f"{settings.base_url}/reports/confirm/{token}?code={code}"
    body = tr.gettext("%(city)s: your code to confirm your report is %(code)s. It expires in "
                      "%(minutes)s minutes. Or open this link to confirm it: %(link)s", link=link,
                      city=settings.city_name, code=code, minutes=_minutes_left(row, utcnow()))
    key = f"reports-pending:{row.token_digest[:32]}:{row.sends}"
    if row.phone:
        notify.enqueue(session, channel=notify.Channel.SMS, to=row.phone, body=body, key=key,
                       purpose=PURPOSE)
    else:
        notify.enqueue(session, channel=notify.Channel.EMAIL, to=row.email or "", body=body, key=key,
                       subject=tr.gettext("Confirm your report"), purpose=PURPOSE)


def stash(db: Database, settings: Settings, data: ReportCreate, *, ip: str,
          photos: Sequence[SanitizedImage], store: FileStore, language: str = "") -> str:
    """Set aside a report already checked by ``actions.check_report`` and send its code.

    Returns the token of its confirmation page (``/reports/confirm/<token>``); only its digest
    is kept, and only the hash of the code.
    """
    if not (data.phone or data.email):
        raise ValidationFailed(N_("Give a phone number or an e-mail address so the city can answer you."),
                               errors=[{"field": "contact", "code": "missing"}])
    origin = rules.origin_of(ip, settings.secret_key)  # the limits are checked in the transaction
    _put_photos(store, photos)
    token, code = new_token(), new_code()
    code_hash = hash_password(code)  # slow on purpose: outside the write transaction
    now = utcnow()
    try:
        _insert(db, settings, data, photos, origin, token, code, code_hash, language, now)
    except BaseException:
        _delete_unused(db, store, {p.sha256 for p in photos})  # refused: no file left behind
        raise
    # A purge between the files and the row may have removed a file another expired report
    # shared (same photo): now that the row holds them, put back what is missing.
    _put_photos(store, photos, only_missing=True)
    return token


def _put_photos(store: FileStore, photos: Sequence[SanitizedImage], *, only_missing: bool = False) -> None:
    for image in photos:  # the same keys as create_report: a confirmed report finds them there
        key, thumb = _keys(image.sha256)
        if not (only_missing and store.exists(key)):
            store.put(key, image.data, image.content_type)
        if not (only_missing and store.exists(thumb)):
            store.put(thumb, image.thumbnail, "image/jpeg")


def _insert(db: Database, settings: Settings, data: ReportCreate, photos: Sequence[SanitizedImage],
            origin: str, token: str, code: str, code_hash: str, language: str, now: datetime) -> None:
    with db.transaction() as session:
        _check_room(session, settings, origin, data.phone, data.email)
        row = PendingReport(
            token_digest=token_digest(token), code_hash=code_hash,
            report=data.model_dump(mode="json", exclude={"phone", "email"}),
            photos=[{"sha256": p.sha256, "width": p.width, "height": p.height,
                     "content_type": p.content_type} for p in photos],
            phone=data.phone, email=data.email, language=language[:10], origin=origin,
            attempts=0, sends=1, last_sent_at=now, created_at=now,
            expires_at=now + timedelta(minutes=settings.reports_pending_minutes))
        session.add(row)
        session.flush()
        _send(session, settings, row, token, code)


# ------------------------------------------------------------------------------- the page's view

@dataclass(frozen=True)
class PendingView:
    destination: str  # masked
    by_sms: bool
    minutes_left: int
    attempts_left: int
    resend_in: int  # seconds before a new code may be asked for; 0: now
    can_resend: bool


def _row(session: Session, db: Database, token: str, *, lock: bool = False) -> PendingReport | None:
    if not token or len(token) > 100:
        return None
    query = select(PendingReport).where(PendingReport.token_digest == token_digest(token))
    if lock and not db.is_sqlite:
        query = query.with_for_update()
    return session.scalar(query)


def _usable(row: PendingReport | None, now: datetime) -> PendingReport:
    if row is None or row.claimed_at is not None:
        raise PendingGone()
    if row.expires_at <= now:
        raise PendingExpired()
    if row.attempts >= MAX_ATTEMPTS:
        raise PendingVoid()
    return row


def view(db: Database, settings: Settings, token: str) -> PendingView:
    """What the confirmation page shows; raises ``PendingGone``/``PendingExpired``/``PendingVoid``."""
    now = utcnow()
    with db.read() as session:
        row = _usable(_row(session, db, token), now)
        wait = settings.reports_pending_resend_seconds - (now - row.last_sent_at).total_seconds()
        return PendingView(destination=identifiers.mask(row.phone or row.email or ""), by_sms=bool(row.phone),
                           minutes_left=_minutes_left(row, now), attempts_left=MAX_ATTEMPTS - row.attempts,
                           resend_in=max(0, math.ceil(wait)), can_resend=row.sends < MAX_SENDS)


# ------------------------------------------------------------------------------- confirm, resend

def confirm(db: Database, settings: Settings, token: str, code: str, *, ip: str,
            store: FileStore) -> Report:
    """Check the code and file the report (``actions.create_report``); the pending row goes.

    A wrong code is counted (and committed) before its error is raised; the fifth voids the
    report. The row is claimed before filing, so a double click files the report once.
    """
    code = re.sub(r"\s", "", code or "")
    if not code:
        raise ValidationFailed(N_("Enter the code we sent you."),
                               errors=[{"field": "code", "code": "missing"}])
    # The code's hash is checked outside the write transaction (argon2 is slow on purpose, and
    # wrong codes come at an attacker's pace): nobody else waits for it.
    with db.read() as session:
        code_hash = _usable(_row(session, db, token), utcnow()).code_hash
    right = code.isdigit() and verify_password(code_hash, code)
    failed: ParvisError | None = None
    with db.transaction() as session:
        now = utcnow()
        row = _usable(_row(session, db, token, lock=True), now)
        if row.code_hash != code_hash:  # a new code was sent meanwhile: check that one
            failed = WrongCode(N_("A new code was sent: enter the last one you received."),
                               errors=[{"field": "code", "code": "code_replaced"}])
        elif not right:
            row.attempts += 1
            left = MAX_ATTEMPTS - row.attempts
            failed = PendingVoid() if left <= 0 else WrongCode(
                N_("This code is wrong. Attempts left: %(left)s."), params={"left": left},
                errors=[{"field": "code", "code": "invalid_code"}])
        else:
            row.claimed_at = now
            row_id, stored, photos = row.id, dict(row.report), list(row.photos)
            phone, email = row.phone, row.email
    if failed is not None:
        raise failed
    try:
        data = ReportCreate(**stored, phone=phone, email=email)
        kept = [StoredPhoto(sha256=p["sha256"], width=p["width"], height=p["height"],
                            content_type=p.get("content_type", "image/jpeg"))
                for p in photos if all(store.exists(k) for k in _keys(p["sha256"]))]
        report = actions.create_report(db, settings, None, data, source=Source.WEB, ip=ip, photos=kept,
                                       store=_AlreadyStored(store))
    except BaseException:  # not filed: the visitor may try again while the code is valid
        with db.transaction() as session:
            session.execute(update(PendingReport).where(PendingReport.id == row_id).values(claimed_at=None))
        raise
    with db.transaction() as session:
        session.execute(delete(PendingReport).where(PendingReport.id == row_id))
    return report


def resend(db: Database, settings: Settings, token: str) -> None:
    """A new code (the previous one stops working), at most every ``reports_pending_resend_seconds``
    and ``MAX_SENDS`` times in all."""
    code = new_code()
    code_hash = hash_password(code)
    with db.transaction() as session:
        now = utcnow()
        row = _usable(_row(session, db, token, lock=True), now)
        wait = math.ceil(settings.reports_pending_resend_seconds - (now - row.last_sent_at).total_seconds())
        if wait > 0:
            raise TooManyRequests(N_("Please wait %(seconds)s seconds before asking for a new code."),
                                  params={"seconds": wait}, headers={"Retry-After": str(wait)})
        if row.sends >= MAX_SENDS:
            raise TooManyRequests(N_("No more codes can be sent for this report. Enter the last code "
                                     "you received, or report the problem again."))
        row.code_hash = code_hash
        row.sends += 1
        row.last_sent_at = now
        session.flush()
        _send(session, settings, row, token, code)


# ------------------------------------------------------------------------------- purge

CLAIM_GRACE = timedelta(minutes=10)  # a report being filed is left alone this long


def purge(db: Database, store: FileStore | None = None) -> int:
    """Delete the pending reports past their time, and their photos that nothing else uses. A
    report being filed (claimed less than ``CLAIM_GRACE`` ago) is left alone.

    Returns how many pending reports went.
    """
    now = utcnow()
    with db.transaction() as session:
        rows = list(session.scalars(select(PendingReport).where(
            PendingReport.expires_at <= now,
            (PendingReport.claimed_at.is_(None)) | (PendingReport.claimed_at <= now - CLAIM_GRACE))))
        if not rows:
            return 0
        shas = {p["sha256"] for r in rows for p in r.photos}
        session.execute(delete(PendingReport).where(PendingReport.id.in_([r.id for r in rows])))
        shas = _unused(session, shas)
    _delete_files(store, shas)
    return len(rows)


def _unused(session: Session, shas: set[str]) -> set[str]:
    """The photos (by hash) that no report and no pending report uses."""
    if not shas:
        return set()
    shas = shas - set(session.scalars(select(Photo.sha256).where(Photo.sha256.in_(shas))))
    for photos in session.scalars(select(PendingReport.photos)):
        shas -= {p["sha256"] for p in photos or []}
    return shas


def _delete_unused(db: Database, store: FileStore, shas: set[str]) -> None:
    with db.read() as session:
        unused = _unused(session, shas)
    _delete_files(store, unused)


def _delete_files(store: FileStore | None, shas: set[str]) -> None:
    if store is not None:
        for sha in sorted(shas):
            for key in _keys(sha):
                store.delete(key)


def purge_tick(settings: Settings) -> Callable[[Database], int]:
    """The worker's tick: ``purge`` with the file store the web app uses (``<data_dir>/files``)."""
    store = LocalFileStore(settings.data_dir / "files")

    def purge_pending_reports(database: Database) -> int:
        return purge(database, store)

    return purge_pending_reports
