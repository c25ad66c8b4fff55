"""Every write of the accounts module: sign-up, confirmation, sign-in, reset, profile, erasure.

Each function is one user intent in one transaction; messages to people go through the
notification outbox in that same transaction, so a code is sent if and only if it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from parvis.kernel import audit, notify, privacy
from parvis.kernel.auth import (
    Principal,
    Role,
    hash_password,
    needs_rehash,
    new_code,
    new_token,
    token_digest,
    verify_password,
)
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import (
    N_,
    Conflict,
    Forbidden,
    InvalidCredentials,
    NotFound,
    ParvisError,
    TooManyRequests,
    ValidationFailed,
)
from parvis.kernel.events import emit
from parvis.kernel.i18n import Translator
from parvis.kernel.identifiers import (
    Identifier,
    normalise_email,
    normalise_phone,
    parse_identifier,
)
from parvis.modules.accounts.models import (
    ApiToken,
    LoginFailure,
    Membership,
    OneTimeCode,
    User,
    UserSession,
)
from parvis.modules.accounts.schemas import ProfileUpdate, SignUp, StaffCreate, StaffUpdate
from parvis.settings import Settings


@dataclass(frozen=True)
class NewSession:
    token: str
    user_id: int
    expires_at: datetime


def _find(session: Any, ident: Identifier) -> User | None:
    column = User.phone if ident.kind == "phone" else User.email
    return session.scalar(select(User).where(column == ident.value))


def _send_code(session: Any, settings: Settings, user: User, ident: Identifier, purpose: str) -> None:
    code = new_code()
    session.execute(delete(OneTimeCode).where(OneTimeCode.user_id == user.id,
                                              OneTimeCode.purpose == purpose,
                                              OneTimeCode.used_at.is_(None)))
    otp = OneTimeCode(user_id=user.id, purpose=purpose, code_hash=hash_password(code),
                      expires_at=utcnow() + timedelta(seconds=settings.otp_ttl_seconds))
    session.add(otp)
    session.flush()
    tr = Translator(user.language or settings.default_language)
    minutes = settings.otp_ttl_seconds // 60
    if purpose == "signup":
        body = tr.gettext("%(city)s: your confirmation code is %(code)s. It expires in %(minutes)s minutes.",
                          city=settings.city_name, code=code, minutes=minutes)
    else:
        body = tr.gettext(
            "%(city)s: your password reset code is %(code)s. It expires in %(minutes)s minutes.",
                          city=settings.city_name, code=code, minutes=minutes)
    notify.enqueue(session, channel=notify.Channel.SMS if ident.kind == "phone" else notify.Channel.EMAIL,
                   to=ident.value, subject=tr.gettext("Your code"), body=body, user_id=user.id,
                   key=f"otp:{otp.id}", purpose=f"accounts.{purpose}")


def sign_up(db: Database, settings: Settings, data: SignUp, ident: Identifier) -> int:
    """Create an unconfirmed account and send a code. Same answer whether or not it existed."""
    with db.transaction() as session:
        user = _find(session, ident)
        if user is not None and user.confirmed_at is not None:
            tr = Translator(user.language or settings.default_language)
            notify.enqueue(session, channel=notify.Channel.SMS if ident.kind == "phone"
                           else notify.Channel.EMAIL, to=ident.value, user_id=user.id,
                           subject=tr.gettext("Your account"),
                           body=tr.gettext("%(city)s: someone tried to create an account with this "
                                           "number or address. You already have one: sign in or "
                                           "reset your password.", city=settings.city_name),
                           purpose="accounts.signup_existing")
            return user.id
        if user is None:
            user = User(role=Role.CITIZEN)
            setattr(user, ident.kind, ident.value)
            session.add(user)
        user.password_hash = hash_password(data.password)
        user.display_name = data.display_name.strip()
        user.language = data.language or user.language
        session.flush()
        _send_code(session, settings, user, ident, "signup")
        return user.id


def _check_code(session: Any, settings: Settings, user: User | None, purpose: str, code: str) -> None:
    otp = None
    if user is not None:
        otp = session.scalar(select(OneTimeCode).where(
            OneTimeCode.user_id == user.id, OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None)).order_by(OneTimeCode.id.desc()).limit(1))
    if otp is None or otp.expires_at < utcnow():
        raise ValidationFailed(N_("This code is wrong or has expired. Ask for a new one."),
                               errors=[{"field": "code", "code": "invalid_code"}])
    if otp.attempts >= settings.otp_max_attempts:
        raise TooManyRequests(N_("Too many wrong codes. Ask for a new one."))
    if not verify_password(otp.code_hash, code):
        otp.attempts += 1
        raise ValidationFailed(N_("This code is wrong or has expired. Ask for a new one."),
                               errors=[{"field": "code", "code": "invalid_code"}])
    otp.used_at = utcnow()


def _consume_code(db: Database, settings: Settings, ident: Identifier, purpose: str, code: str,
                  then: Any) -> Any:
    """Check a one-time code and run ``then(session, user)`` in the same transaction.

    A wrong code still commits its attempt counter before the error is raised.
    """
    failed: ParvisError | None = None
    with db.transaction() as session:
        user = _find(session, ident)
        try:
            _check_code(session, settings, user, purpose, code)
        except (ValidationFailed, TooManyRequests) as exc:
            failed = exc
        else:
            return then(session, user)
    raise failed


def confirm(db: Database, settings: Settings, ident: Identifier, code: str) -> User:
    """Check the sign-up code and confirm the account (the caller then signs the person in)."""

    def confirmed(session: Any, user: User) -> User:
        user.confirmed_at = user.confirmed_at or utcnow()
        emit(session, "accounts.user.confirmed", user_id=user.id)
        return user

    return _consume_code(db, settings, ident, "signup", code, confirmed)


def _open_session(session: Any, settings: Settings, user: User, ip: str, ua: str) -> NewSession:
    token = new_token()
    expires = utcnow() + timedelta(days=settings.session_days)
    session.add(UserSession(digest=token_digest(token), user_id=user.id, expires_at=expires,
                            ip=ip[:64], user_agent=ua[:300]))
    return NewSession(token, user.id, expires)


def _throttle_keys(ident_value: str, ip: str) -> list[str]:
    return [f"id:{ident_value}"] + ([f"ip:{ip}"] if ip else [])


def _check_throttle(session: Any, settings: Settings, keys: list[str]) -> None:
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    for key in keys:
        failures = session.scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.key == key, LoginFailure.at >= since)) or 0
        limit = settings.login_max_failures * (4 if key.startswith("ip:") else 1)
        if failures >= limit:
            raise TooManyRequests(headers={"Retry-After": str(settings.login_window_seconds)})


def authenticate(db: Database, settings: Settings, raw_identifier: str, password: str,
                 ip: str = "") -> User:
    """Check an identifier and password, with throttling per account and per address.

    Unknown identifier, wrong password and unreadable identifier get the same answer.
    """
    try:
        ident_value = parse_identifier(raw_identifier, settings.phone_region).value
    except ParvisError:
        ident_value = (raw_identifier or "").strip().lower()[:254]
    keys = _throttle_keys(ident_value, ip)
    with db.read() as session:
        _check_throttle(session, settings, keys)
        user = session.scalar(select(User).where(
            (User.phone == ident_value) | (User.email == ident_value)))
    stored = user.password_hash if user is not None and user.is_active else None
    if not verify_password(stored, password):
        with db.transaction() as session:
            session.add_all([LoginFailure(key=k) for k in keys])
        raise InvalidCredentials()
    assert user is not None
    if needs_rehash(user.password_hash or ""):
        with db.transaction() as session:
            fresh = session.get(User, user.id)
            if fresh is not None:
                fresh.password_hash = hash_password(password)
    with db.transaction() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.key == f"id:{ident_value}"))
    return user


def sign_in(db: Database, settings: Settings, user: User, *, ip: str = "",
            user_agent: str = "") -> NewSession:
    with db.transaction() as session:
        fresh = session.get(User, user.id)
        if fresh is None:
            raise InvalidCredentials()
        if fresh.role != Role.CITIZEN:
            audit.record(session, Principal(user_id=fresh.id, role=Role(fresh.role),
                                            display_name=fresh.display_name),
                         "accounts.sign_in", object_type="user", object_id=fresh.id, ip=ip)
        return _open_session(session, settings, fresh, ip, user_agent)


def resend_code(db: Database, settings: Settings, ident: Identifier) -> None:
    with db.transaction() as session:
        user = _find(session, ident)
        if user is not None and user.confirmed_at is None and user.is_active:
            _send_code(session, settings, user, ident, "signup")


def sign_out(db: Database, session_token: str) -> None:
    with db.transaction() as session:
        session.execute(delete(UserSession).where(UserSession.digest == token_digest(session_token)))


def issue_token(db: Database, settings: Settings, user: User) -> tuple[str, int]:
    token = new_token()
    with db.transaction() as session:
        session.add(ApiToken(digest=token_digest(token), user_id=user.id,
                             expires_at=utcnow() + timedelta(seconds=settings.token_ttl_seconds)))
    return token, settings.token_ttl_seconds


def request_password_reset(db: Database, settings: Settings, ident: Identifier) -> None:
    """Sends a code if such a confirmed account exists; the caller answers the same either way."""
    with db.transaction() as session:
        user = _find(session, ident)
        if user is not None and user.is_active and user.confirmed_at is not None:
            _send_code(session, settings, user, ident, "reset")


def reset_password(db: Database, settings: Settings, ident: Identifier, code: str,
                   password: str) -> None:
    """Set a new password with the code sent; every session and token of the person ends."""

    def reset(session: Any, user: User) -> None:
        user.password_hash = hash_password(password)
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))

    _consume_code(db, settings, ident, "reset", code, reset)


def update_profile(db: Database, actor: Principal, data: ProfileUpdate) -> None:
    with db.transaction() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotFound()
        changes = data.model_dump(exclude_unset=True)
        for field, value in changes.items():
            setattr(user, field, value.strip() if field == "display_name" and value else value)
        if actor.is_staff:
            audit.record(session, actor, "accounts.profile.update", object_type="user",
                         object_id=user.id, changes=changes)


def export_personal_data(db: Database, actor: Principal) -> dict[str, Any]:
    with db.read() as session:
        return {"user_id": actor.user_id, "exported_at": utcnow().isoformat(),
                **privacy.export_all(session, actor.user_id or 0)}


def erase_account(db: Database, actor: Principal, password: str, ip: str = "") -> None:
    """Remove personal data everywhere; keep the anonymous records the city must keep."""
    if actor.user_id is None:
        raise Forbidden()
    with db.read() as session:
        user = session.get(User, actor.user_id)
        stored = user.password_hash if user else None
    if not verify_password(stored, password):
        raise InvalidCredentials()
    with db.transaction() as session:
        privacy.erase_all(session, actor.user_id)
        audit.record(session, actor, "accounts.erase", object_type="user",
                     object_id=actor.user_id, ip=ip)
        emit(session, "accounts.user.erased", user_id=actor.user_id)


# --------------------------------------------------------------------- staff management

def _check_departments(session: Any, department_ids: list[int]) -> None:
    from parvis.modules import city

    known = city.department_ids(session)
    unknown = sorted(set(department_ids) - known)
    if unknown:
        raise ValidationFailed(N_("Unknown department."),
                               errors=[{"field": "department_ids", "code": "unknown", "ids": unknown}])


def create_staff(db: Database, actor: Principal | None, settings: Settings, data: StaffCreate,
                 ip: str = "") -> User:
    if not data.email and not data.phone:
        raise ValidationFailed(N_("Enter a phone number or an e-mail address."),
                               errors=[{"field": "email", "code": "missing"}])
    email = normalise_email(data.email) if data.email else None
    phone = normalise_phone(data.phone, settings.phone_region) if data.phone else None
    with db.transaction() as session:
        _check_departments(session, data.department_ids)
        clash = session.scalar(select(User.id).where(
            (User.email == email) if email else (User.phone == phone)))
        if clash:
            raise Conflict(N_("An account already exists with this phone number or e-mail."))
        user = User(role=data.role, display_name=data.display_name, email=email, phone=phone,
                    password_hash=hash_password(data.password), language=data.language,
                    all_departments=data.all_departments, confirmed_at=utcnow())
        user.memberships = [Membership(department_id=d) for d in sorted(set(data.department_ids))]
        session.add(user)
        session.flush()
        audit.record(session, actor, "accounts.staff.create", object_type="user",
                     object_id=user.id, ip=ip,
                     changes={"role": data.role, "department_ids": sorted(set(data.department_ids)),
                              "all_departments": data.all_departments})
        return user


def update_staff(db: Database, actor: Principal, user_id: int, data: StaffUpdate,
                 ip: str = "") -> User:
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None or user.role == Role.CITIZEN:
            raise NotFound()
        if user_id == actor.user_id and (data.role not in (None, "admin") or data.is_active is False):
            raise Conflict(N_("You cannot remove your own administrator access."))
        changes = data.model_dump(exclude_unset=True)
        if data.department_ids is not None:
            _check_departments(session, data.department_ids)
            wanted = set(data.department_ids)
            user.memberships = [m for m in user.memberships if m.department_id in wanted]
            have = {m.department_id for m in user.memberships}
            user.memberships += [Membership(department_id=d) for d in sorted(wanted - have)]
        for field in ("display_name", "role", "all_departments", "is_active"):
            if field in changes:
                setattr(user, field, changes[field])
        if data.is_active is False:
            session.execute(delete(UserSession).where(UserSession.user_id == user_id))
            session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
        audit.record(session, actor, "accounts.staff.update", object_type="user",
                     object_id=user_id, ip=ip, changes=changes)
        return user


def seed_citizens(db: Database, settings: Settings, people: list[dict[str, str]],
                  password: str, progress: Any = None) -> int:
    """Create confirmed demo citizens that do not exist yet (one hash shared: same password)."""
    shared_hash = hash_password(password)
    created = 0
    with db.transaction() as session:
        existing = set(session.scalars(select(User.phone).where(User.phone.is_not(None))))
        for person in people:
            phone = normalise_phone(person["phone"], settings.phone_region)
            if phone not in existing:
                session.add(User(role=Role.CITIZEN, phone=phone, display_name=person["name"],
                                 language=person.get("language"), password_hash=shared_hash,
                                 confirmed_at=utcnow()))
                existing.add(phone)
                created += 1
            if progress is not None:
                progress(1)
    return created


def staff_exists(db: Database, email: str) -> bool:
    with db.read() as session:
        return session.scalar(select(User.id).where(User.email == email.lower())) is not None
