"""Extract translatable strings and merge them into every catalog, keeping each header.

Usage: `.venv/bin/python scripts/messages.py` (or `make messages`); then translate the entries
that are still empty. tests/kernel/test_i18n.py fails while any catalog lacks a string.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "src" / "parvis" / "locales"
LANGUAGES = ("fr", "en", "vi", "km", "ar")


def template() -> Catalog:
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    pot = Catalog(project="Parvis", charset="UTF-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "N_": None}):
        pot.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return pot


def main() -> None:
    pot = template()
    for lang in LANGUAGES:
        path = LOCALES / lang / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        catalog.update(pot, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, no_location=True, omit_header=False,
                     ignore_obsolete=True)
        empty = sum(1 for m in catalog if m.id and not m.string)
        print(f"{lang}: {len(catalog)} messages, {empty} to translate")


if __name__ == "__main__":
    main()
