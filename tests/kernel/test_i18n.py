"""Languages: negotiation, right-to-left Arabic, locale formatting, complete catalogs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from parvis.kernel.i18n import Translator, negotiate, parse_accept_language
from parvis.settings import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "src" / "parvis" / "locales"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_negotiation_order_is_choice_then_browser_then_city_default():
    assert negotiate("km", "vi-VN,vi;q=0.9", "fr") == "km"
    assert negotiate(None, "de-DE,de;q=0.9,vi;q=0.8,en;q=0.5", "fr") == "vi"
    assert negotiate(None, "de, it;q=0.5", "fr") == "fr"
    assert negotiate("xx", "", "ar") == "ar"
    assert parse_accept_language("en;q=0.1, ar;q=0.9") == ["ar", "en"]


def test_home_page_in_arabic_is_right_to_left(client):
    response = client.get("/", headers={"Accept-Language": "ar"})
    assert '<html lang="ar" dir="rtl">' in response.text
    response = client.get("/", headers={"Accept-Language": "vi"})
    assert '<html lang="vi" dir="ltr">' in response.text


def test_language_choice_is_remembered_in_a_cookie(client):
    from web_helpers import csrf_of

    token = csrf_of(client, "/")
    client.post("/language", data={"language": "km", "next": "/", "csrf_token": token})
    assert '<html lang="km"' in client.get("/", headers={"Accept-Language": "en"}).text


def test_french_is_the_default(client):
    assert '<html lang="fr" dir="ltr">' in client.get("/").text


def test_dates_numbers_and_currency_follow_the_locale():
    moment = datetime(2026, 3, 5, 8, 30, tzinfo=UTC)
    fr = Translator("fr", "Asia/Ho_Chi_Minh", "VND")
    en = Translator("en", "Asia/Ho_Chi_Minh", "VND")
    assert fr.format_date(moment, "long") == "5 mars 2026"
    assert en.format_date(moment, "long") == "March 5, 2026"
    assert "15:30" in fr.format_datetime(moment, "short")  # shown in the city's time zone
    assert fr.format_number(1234567.5) == "1\u202f234\u202f567,5"
    assert en.format_number(1234567.5) == "1,234,567.5"
    assert Translator("vi", currency="VND").format_currency(25000) == "25.000\xa0₫"
    assert Translator("ar").format_number(12) in ("12", "١٢")


def _catalog(lang: str):
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def extracted_messages() -> set[str]:
    """Every msgid in the code and templates, read with babel.cfg like `make messages` does."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_translates_every_string_a_person_can_see(lang):
    """Fails when a string in the code or templates is missing from a catalog."""
    wanted = extracted_messages()
    assert len(wanted) > 100
    catalog = _catalog(lang)
    missing, untranslated, broken = [], [], []
    for msgid in sorted(wanted, key=str):
        message = catalog.get(msgid)
        if message is None:
            missing.append(msgid)
        elif message.fuzzy or not all(message.string if isinstance(message.string, tuple)
                                          else [message.string]):
            untranslated.append(msgid)
        elif any(set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(form))
                 for form in (message.string if isinstance(message.string, tuple) else [message.string])):
            broken.append(msgid)
    assert not missing, f"{lang}: not in the catalog (run `make messages`): {missing[:10]}"
    assert not untranslated, f"{lang}: not translated: {untranslated[:10]}"
    assert not broken, f"{lang}: placeholders differ: {broken[:10]}"
