"""Languages: gettext catalogs (Babel), negotiation, locale-aware formatting.

Catalogs are the ``.po`` files under ``parvis/locales``; they are compiled in memory at
start-up, so there is no build step to forget. The current request's translator lives in a
context variable that templates, errors and e-mails read.
"""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from parvis.settings import LANGUAGES, RTL_LANGUAGES

LANGUAGE_NAMES = {
    "fr": "Français",
    "en": "English",
    "vi": "Tiếng Việt",
    "km": "ភាសាខ្មែរ",
    "ar": "العربية",
}


@cache
def catalog_translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of one language (source strings are English)."""
    po_path = resources.files("parvis") / "locales" / lang / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


@dataclass(frozen=True)
class Translator:
    lang: str
    timezone: str = "UTC"
    currency: str = "EUR"

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    @property
    def direction(self) -> str:
        return "rtl" if self.lang in RTL_LANGUAGES else "ltr"

    def gettext(self, message: str, **params: Any) -> str:
        text = catalog_translations(self.lang).gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        text = catalog_translations(self.lang).ngettext(singular, plural, n)
        return text % {"num": n, **params}

    def format_datetime(self, value: datetime, fmt: str = "medium") -> str:
        return dates.format_datetime(value, fmt, tzinfo=dates.get_timezone(self.timezone),
                                     locale=self.lang)

    def format_date(self, value: date | datetime, fmt: str = "medium") -> str:
        if isinstance(value, datetime):
            value = value.astimezone(dates.get_timezone(self.timezone)).date()
        return dates.format_date(value, fmt, locale=self.lang)

    def format_number(self, value: float | int | Decimal) -> str:
        return numbers.format_decimal(value, locale=self.lang)

    def format_currency(self, value: float | int | Decimal, currency: str | None = None) -> str:
        return numbers.format_currency(value, currency or self.currency, locale=self.lang)


_current: ContextVar[Translator | None] = ContextVar("parvis_translator", default=None)
_fallback = Translator("fr")


def set_translator(tr: Translator) -> None:
    _current.set(tr)


def current() -> Translator:
    return _current.get() or _fallback


def _(message: str, **params: Any) -> str:
    """Translate now, into the current request's language."""
    return current().gettext(message, **params)


def parse_accept_language(header: str) -> list[str]:
    """Languages from an Accept-Language header, best first, reduced to their base code."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _sep, q = piece.partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        weighted.append((-weight, index, tag.strip().split("-")[0].lower()))
    return [tag for _w, _i, tag in sorted(weighted) if tag]


def negotiate(chosen: str | None, accept_language: str | None, default: str) -> str:
    """The person's own choice, then the browser's, then the city's default."""
    if chosen in LANGUAGES:
        return chosen  # type: ignore[return-value]
    for tag in parse_accept_language(accept_language or ""):
        if tag in LANGUAGES:
            return tag
    return default
