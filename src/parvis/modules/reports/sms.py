"""Reports by SMS, for people without a smartphone: `<category code> <district or landmark> <text>`.

A message whose first word is a category code and whose second word names a district (its code
or the start of its name) becomes a located report; anything else still becomes a report, in
the "to be located" queue for staff. The sender always gets an answer in their language.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from parvis.modules import city
from parvis.modules.reports.models import Category
from parvis.settings import Settings


@dataclass(frozen=True)
class ParsedSms:
    category_code: str | None
    district_id: int | None
    place: str
    text: str


def _fold(value: str) -> str:
    """Lower case without accents, so that "thanh co" matches "Thành Cổ"."""
    decomposed = unicodedata.normalize("NFKD", value.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def parse(session: Session, text: str, categories: list[Category]) -> ParsedSms:
    words = text.strip().split()
    if not words:
        return ParsedSms(None, None, "", "")
    codes = {c.code.upper(): c for c in categories}
    first = words[0].upper().strip(".,:;")
    if first not in codes:
        return ParsedSms(None, None, "", text.strip())
    rest = words[1:]
    if not rest:
        return ParsedSms(first, None, "", "")
    features = city.districts_geojson(session)["features"]
    by_code = {f["properties"]["code"].upper(): f for f in features}
    candidate = rest[0].upper().strip(".,:;")
    if candidate in by_code:
        return ParsedSms(first, by_code[candidate]["id"], rest[0], " ".join(rest[1:]))
    folded = _fold(" ".join(rest))
    for f in features:
        for name in (f["properties"]["name"], f["properties"].get("name_local") or ""):
            if name and folded.startswith(_fold(name)):
                size = len(name.split())
                return ParsedSms(first, f["id"], " ".join(rest[:size]), " ".join(rest[size:]))
    return ParsedSms(first, None, "", " ".join(rest))


def for_alerts(text: str, settings: Settings) -> bool:
    """Whether the SMS starts with an alerts keyword (``alerts_sms_keywords``,
    ``alerts_sms_stop_keywords``, without case or diacritics): the alerts module answers it as a
    subscription command, so it is never a report."""

    def words(value: str) -> list[str]:
        return [w for w in (w.strip(".,:;!?") for w in _fold(value).split()) if w]

    tokens = words(text)
    phrases = [p for table in (settings.alerts_sms_keywords, settings.alerts_sms_stop_keywords)
               for group in table.values() for p in group]
    return any(keyword and tokens[:len(keyword)] == keyword for keyword in map(words, phrases))
