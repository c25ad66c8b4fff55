"""Entity type selections (ETSI GS CIM 009 4.17): ``A,B`` or ``(A|B)`` (either), ``A;B``
(both), read the same in the URL's ``type`` of a query or a retrieval and in the ``type`` of a
query's or a subscription's entity selector."""

from __future__ import annotations

import re
from typing import Any

from parvis.modules.sensors.standards import query as ngsiq
from parvis.modules.sensors.standards.context import Context
from parvis.modules.sensors.standards.ngsi_ld import NgsiError, bad, expand_type

_TYPE_TOKEN = re.compile(r"\s*(?:([,;|()])|([^\s,;|()]+))")
MAX_SELECTION = 2000


def type_selection(value: Any, ctx: Context, where: str = "type") -> tuple[str, list[str]]:
    """An entity type selection (CIM 009 4.17): type names joined by ``,`` or ``|`` (OR) and
    ``;`` (AND, binding first), grouped by parentheses. Returns the selection with its names
    expanded (a single name: its IRI) and the types it selects, in their order. An entity has one
    type here, so an AND selects the types common to both sides; one that selects none (``A;B``)
    could never match, and is refused rather than kept as a subscription that never notifies.
    ``where`` begins the error messages: the URL's ``type``, a subscription's ``entities``."""
    if isinstance(value, list) and len(value) == 1:  # ["A"], as expand_type takes it
        value = value[0]
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SELECTION:
        raise bad(f"{where}: a type must be a type name or a type selection (such as "
                  f"\"(Building|Tower)\") of at most {MAX_SELECTION} characters.")
    tokens: list[tuple[str, str]] = []  # ("op", one of ,;|()) or ("name", an expanded type)
    pos = 0
    while value[pos:].strip():
        m = _TYPE_TOKEN.match(value, pos)
        if m is None:  # never: every character is blank, an operator or part of a name
            raise _TypeSelection([], value, where).error()
        tokens.append(("op", m.group(1)) if m.group(1)
                      else ("name", _type_name(m.group(2), value, ctx, where)))
        pos = m.end()
    parser = _TypeSelection(tokens, value, where)
    expanded, types = parser.any_of()
    if parser.pos != len(tokens):
        raise parser.error()
    if not types:
        raise bad(f"{where}: the type selection {value[:80]!r} selects no entity: an entity has a "
                  "single type here, so an AND (;) of different types matches nothing.")
    return expanded, list(types)


def _type_name(term: str, selection: str, ctx: Context, where: str) -> str:
    if len(term) > 256 or term.startswith("@") or any(c in term for c in "<>\"'="):
        raise bad(f"{where}: {term[:40]!r} in the type selection {selection[:80]!r} is not a valid "
                  "entity type name.")
    return expand_type(term, ctx)


class _TypeSelection:
    """A recursive-descent reader of a type selection's tokens (names already expanded):
    ``any_of`` = ``all_of`` (("," | "|") ``all_of``)*, ``all_of`` = ``one`` (";" ``one``)*,
    ``one`` = name | "(" ``any_of`` ")"; each gives its text and the set of types it selects
    (a dict: ordered)."""

    def __init__(self, tokens: list[tuple[str, str]], text: str, where: str) -> None:
        self.tokens, self.text, self.where, self.pos, self.depth = tokens, text, where, 0, 0

    def error(self) -> NgsiError:
        return bad(f"{self.where}: {self.text[:80]!r} is not a valid entity type selection (type names "
                   "joined by , or | (or) and ; (and), in parentheses where needed).")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def any_of(self) -> tuple[str, dict[str, None]]:
        text, types = self.all_of()
        while self.peek() in (("op", ","), ("op", "|")):
            op = self.tokens[self.pos][1]
            self.pos += 1
            more, other = self.all_of()
            text, types = f"{text}{op}{more}", {**types, **other}
        return text, types

    def all_of(self) -> tuple[str, dict[str, None]]:
        text, types = self.one()
        while self.peek() == ("op", ";"):
            self.pos += 1
            more, other = self.one()
            text, types = f"{text};{more}", {t: None for t in types if t in other}
        return text, types

    def one(self) -> tuple[str, dict[str, None]]:
        token = self.peek()
        if token is None or (token[0] == "op" and token[1] != "("):
            raise self.error()
        self.pos += 1
        if token[0] == "name":
            return token[1], {token[1]: None}
        self.depth += 1
        if self.depth > ngsiq.MAX_DEPTH:
            raise bad(f"{self.where}: a type selection nests at most {ngsiq.MAX_DEPTH} parentheses.")
        text, types = self.any_of()
        if self.peek() != ("op", ")"):
            raise self.error()
        self.pos += 1
        self.depth -= 1
        return f"({text})", types
