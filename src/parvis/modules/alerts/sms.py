"""Alert subscriptions by SMS, for people without a smartphone.

``ALERTE <district code> [category ...]`` (``ALERT`` in English, ``CANH BAO`` in Vietnamese...:
``alerts_sms_keywords``) subscribes the sender's phone to the alerts of a district, all
categories or those named; ``STOP`` (``ARRET``/``ARRÊT``...: ``alerts_sms_stop_keywords``)
unsubscribes it from every SMS alert. Keywords match without case or diacritics. The reply is
in the language of the keyword used, and a subscription made by SMS records that language.

Which SMS belong here is decided by keyword alone: a message whose first word(s) are one of
these keywords is an alerts command (the reports module leaves it alone), any other message is
not (it may be a report). Only numbers of the city's country are answered. The same command
from the same phone within ``alerts_sms_repeat_minutes`` is a gateway's retry and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parvis.kernel import audit, notify
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, ParvisError
from parvis.kernel.i18n import Translator
from parvis.kernel.identifiers import normalise_phone, phone_country
from parvis.modules.alerts import targeting
from parvis.modules.alerts.models import SmsCommand, Subscription, category_bits
from parvis.settings import Settings

SMS_JOB = "alerts.sms_command"
PURPOSE = "alerts.sms"
STOP = "STOP"

# Words that name a CAP category in a command, without case or diacritics.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "Met": ("met", "meteo", "weather", "thoitiet"),
    "Fire": ("fire", "feu", "incendie", "chay"),
    "Health": ("health", "sante", "yte"),
    "Geo": ("geo", "seisme", "earthquake", "dongdat"),
    "Safety": ("safety", "securite", "antoan"),
    "Security": ("security", "surete", "anninh"),
    "Rescue": ("rescue", "secours", "cuuho"),
    "Env": ("env", "environnement", "environment", "pollution", "moitruong"),
    "Transport": ("transport", "trafic", "traffic", "giaothong"),
    "Infra": ("infra", "infrastructure", "reseau"),
    "CBRNE": ("cbrne", "chimique", "chemical", "hoachat"),
    "Other": ("other", "autre", "khac"),
}
_CATEGORY_OF = {word: name for name, words in CATEGORY_WORDS.items() for word in words}
# Examples of category words given in the help, per language.
HELP_CATEGORIES = {"fr": "METEO, INCENDIE, SANTE, TRANSPORT", "en": "WEATHER, FIRE, HEALTH, TRANSPORT",
                   "vi": "THOITIET, CHAY, YTE, GIAOTHONG"}

SUBSCRIBED = N_("%(city)s: this phone will receive alerts for %(district)s (%(categories)s) by SMS. "
                "Send %(stop)s to stop.")
ALL_CATEGORIES = N_("all alerts")
STOPPED = N_("%(city)s: this phone will no longer receive alerts by SMS. To subscribe again, send "
             "%(keyword)s and your district's code.")
NOT_SUBSCRIBED = N_("%(city)s: this phone receives no alerts by SMS. To subscribe, send %(keyword)s and "
                    "your district's code.")
HELP = N_("%(city)s: to receive alerts by SMS, send %(keyword)s and your district's code (%(codes)s), "
          "and if you wish a category (%(categories)s). Send %(stop)s to stop.")


def fold(text: str) -> str:
    """Lower case without diacritics ("ARRÊT" reads "arret", "Cảnh báo" reads "canh bao")."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def words(text: str) -> list[str]:
    return [w for w in (w.strip(".,:;!?") for w in fold(text).split()) if w]


@dataclass(frozen=True)
class Command:
    kind: str  # "subscribe" | "stop"
    language: str  # of the keyword used
    rest: list[str]  # the folded words after the keyword


def read_command(text: str, settings: Settings) -> Command | None:
    """The alerts command an SMS carries, or None when it does not start with a keyword."""
    tokens = words(text)
    best: tuple[int, Command] | None = None
    tables = (("stop", settings.alerts_sms_stop_keywords), ("subscribe", settings.alerts_sms_keywords))
    for kind, table in tables:
        for language, phrases in table.items():
            for phrase in phrases:
                keyword = words(phrase)
                if keyword and tokens[:len(keyword)] == keyword and (best is None or len(keyword) > best[0]):
                    best = (len(keyword), Command(kind, language, tokens[len(keyword):]))
    return best[1] if best else None


def is_command(text: str, settings: Settings) -> bool:
    """Whether an SMS is for the alerts module (it starts with a subscription or stop keyword)."""
    return read_command(text, settings) is not None


def local_phone(sender: str, settings: Settings) -> str | None:
    """The sender's E.164 number when it is a valid number of the city's country, else None."""
    try:
        phone = normalise_phone(sender, settings.phone_region)
        return phone if phone_country(phone) == settings.phone_region else None
    except (ParvisError, ValueError):
        return None


def _keyword(settings: Settings, language: str) -> str:
    phrases = settings.alerts_sms_keywords.get(language) or settings.alerts_sms_keywords.get(
        settings.default_language) or [next(iter(settings.alerts_sms_keywords.values()), ["ALERT"])[0]]
    return phrases[0].upper()


def _is_retry(session: Session, settings: Settings, phone: str, text: str) -> bool:
    """Whether this command repeats the phone's last one within the window (a gateway retry);
    records it otherwise. The phone's row is locked, so two copies handled at once see each other."""
    sender_key = hmac.new(settings.secret_key.encode(), phone.encode(), hashlib.sha256).hexdigest()
    text_key = hashlib.sha256(" ".join(words(text)).encode()).hexdigest()
    now = utcnow()
    query = select(SmsCommand).where(SmsCommand.sender_key == sender_key)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        try:
            with session.begin_nested():
                session.add(SmsCommand(sender_key=sender_key, text_key=text_key, at=now))
            return False
        except IntegrityError:  # another worker took the same phone's command just now
            row = session.scalar(query)
            if row is None:
                raise
    if row.text_key == text_key and now - row.at < timedelta(minutes=settings.alerts_sms_repeat_minutes):
        return True
    row.text_key, row.at = text_key, now
    return False


def _reply(session: Session, settings: Settings, phone: str, language: str, message: str, key: str,
           **params: Any) -> None:
    body = Translator(language).gettext(message, city=settings.city_name, **params)
    notify.enqueue(session, channel=notify.Channel.SMS, to=phone, body=body, key=key, purpose=PURPOSE)


def _district(rest: list[str], cmap: targeting.CityMap) -> tuple[int, int] | None:
    """The district the words start with (its code, or its name) and how many words name it."""
    if not rest:
        return None
    for district_id, code in cmap.codes.items():
        if fold(code) == rest[0]:
            return district_id, 1
    best: tuple[int, int] | None = None
    for district_id, name in cmap.names.items():
        named = words(name)
        if named and rest[:len(named)] == named and (best is None or len(named) > best[1]):
            best = (district_id, len(named))
    return best


def _help(session: Session, settings: Settings, phone: str, command: Command, cmap: targeting.CityMap,
          key: str) -> str:
    codes = ", ".join(sorted(cmap.codes.values())[:12])
    categories = HELP_CATEGORIES.get(command.language, "MET, FIRE, HEALTH, TRANSPORT")
    _reply(session, settings, phone, command.language, HELP, key,
           keyword=_keyword(settings, command.language), codes=codes, categories=categories, stop=STOP)
    return "help"


def _subscribe(session: Session, settings: Settings, phone: str, command: Command, key: str) -> str:
    cmap = targeting.city_map(session)
    found = _district(command.rest, cmap)
    if found is None:
        return _help(session, settings, phone, command, cmap, key)
    district_id, used = found
    categories = []
    for word in command.rest[used:]:
        if word not in _CATEGORY_OF:
            return _help(session, settings, phone, command, cmap, key)
        categories.append(_CATEGORY_OF[word])
    categories = list(dict.fromkeys(categories))
    person = f"phone:{phone}"
    row = session.scalar(select(Subscription).where(Subscription.person == person,
                                                    Subscription.district_id == district_id)
                         .order_by(Subscription.id).limit(1))
    if row is None:
        row = Subscription(person=person, phone=phone, district_id=district_id,
                           label=cmap.names[district_id][:100])
        session.add(row)
    row.phone, row.by_sms = phone, True
    row.categories = category_bits(categories)
    row.language = command.language
    session.flush()
    audit.record(session, None, "alerts.subscribe.sms", object_type="alert_subscription", object_id=row.id,
                 changes={"district_id": district_id, "categories": categories, "language": command.language})
    tr = Translator(command.language)
    _reply(session, settings, phone, command.language, SUBSCRIBED, key, district=cmap.names[district_id],
           categories=", ".join(categories) if categories else tr.gettext(ALL_CATEGORIES), stop=STOP)
    return "subscribed"


def _stop(session: Session, settings: Settings, phone: str, command: Command, key: str) -> str:
    rows = list(session.scalars(select(Subscription).where(Subscription.phone == phone,
                                                           Subscription.by_sms.is_(True))))
    for row in rows:
        row.by_sms, row.phone = False, None
        if row.user_id is None or not row.channels:  # a phone-only place, or one left without channel
            session.delete(row)
    keyword = _keyword(settings, command.language)
    if not rows:
        _reply(session, settings, phone, command.language, NOT_SUBSCRIBED, key, keyword=keyword)
        return "not-subscribed"
    audit.record(session, None, "alerts.unsubscribe.sms", object_type="alert_subscription",
                 object_id=",".join(str(r.id) for r in rows)[:200])
    _reply(session, settings, phone, command.language, STOPPED, key, keyword=keyword)
    return "stopped"


def handle(db: Database, settings: Settings, sender: str, text: str, message_id: int | None = None) -> str:
    """Carry out an alerts command received by SMS; returns what was done ("ignored" when the SMS
    is no command or its number is not of the city's country, "retry" for a repeat)."""
    command = read_command(text, settings)
    phone = local_phone(sender, settings) if command else None
    if command is None or phone is None:
        return "ignored"
    key = f"alerts:sms:{message_id if message_id is not None else uuid.uuid4().hex}"
    with db.transaction() as session:
        if _is_retry(session, settings, phone, text):
            return "retry"
        if command.kind == "stop":
            return _stop(session, settings, phone, command, key)
        return _subscribe(session, settings, phone, command, key)
