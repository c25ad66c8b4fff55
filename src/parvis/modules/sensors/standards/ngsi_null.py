"""NGSI-LD's Null (``urn:ngsi-ld:null``) inside attributes, and the merge (CIM 009 5.5.4, 5.5.12).

Null stands for a whole value: an attribute written with it is deleted (``ngsi_ld.is_null``). As
a part of one (an object's member, an array's item, a language's text, a sub-attribute) it is
refused, except where a merge removes what it names: a member of a Property's object value
(merged as RFC 7396 merges JSON), a language of a LanguageProperty, a sub-attribute.
"""

from __future__ import annotations

from typing import Any

from parvis.modules.sensors.standards.context import Context
from parvis.modules.sensors.standards.ngsi_ld import META, NULL, bad, is_null


def holds_null(attr: dict[str, Any]) -> bool:
    """NGSI-LD's Null anywhere in a parsed attribute: its own value (``is_null``), a
    sub-attribute's, or inside a compound value. A new entity has no attribute to delete."""
    return is_null(attr) or null_within(attr)


def null_within(attr: dict[str, Any], *, merge: bool = False) -> bool:
    """NGSI-LD's Null as a part of an attribute (an object's member or an array's item in its
    value, one of a Relationship's objects, a language's text, a sub-attribute): Null stands for
    a whole value, never a part of one (CIM 009 5.5.4). ``merge``: except where a merge removes
    what it names (5.5.12): a member of a Property's object value (not inside an array), a
    language of a LanguageProperty, a sub-attribute."""
    def inside(value: Any, members: bool) -> bool:
        if isinstance(value, dict):
            return any((item == NULL and not members) or inside(item, members) for item in value.values())
        if isinstance(value, list):
            return any(item == NULL or inside(item, False) for item in value)
        return False
    kind = attr.get("type", "Property")
    if inside(attr.get("value"), merge and kind == "Property") or inside(attr.get("object"), False):
        return True
    languages = attr.get("languageMap")
    if isinstance(languages, dict) and languages != {"@none": NULL} and inside(languages, merge):
        return True
    return any((is_null(sub) and not merge) or null_within(sub, merge=merge)
               for key, sub in attr.items() if key not in META and isinstance(sub, dict))


def merge_value(old: Any, patch: Any) -> Any:
    """A Property's value merged as RFC 7396 merges JSON (CIM 009 5.5.12): an object's members
    given replace those stored, recursively, those given NGSI-LD's Null are removed, the others
    kept; anything but an object (or a JSON-LD typed literal, ``@value``) replaces what was
    stored."""
    if not isinstance(patch, dict) or "@value" in patch:
        return patch
    out = dict(old) if isinstance(old, dict) and "@value" not in old else {}
    for key, item in patch.items():
        if item == NULL:
            out.pop(key, None)
        else:
            out[key] = merge_value(out.get(key), item)
    return out


def merge_attribute(old: dict[str, Any] | None, attr: dict[str, Any]) -> dict[str, Any]:
    """An attribute as a merge leaves it (CIM 009 5.5.12): the members not given kept; a
    Property's object value and a LanguageProperty's languages merged into those stored (a
    member or language given NGSI-LD's Null removed); a sub-attribute given Null removed."""
    out = {**old, **attr} if old else dict(attr)
    kind = out.get("type", "Property")
    if kind == "Property" and isinstance(attr.get("value"), dict):
        out["value"] = merge_value(old.get("value") if old else None, attr["value"])
    if kind == "LanguageProperty" and isinstance(attr.get("languageMap"), dict):
        out["languageMap"] = merge_value(old.get("languageMap") if old else None, attr["languageMap"])
    for key, sub in attr.items():
        if key not in META and isinstance(sub, dict):
            if is_null(sub):
                out.pop(key)
            elif old and isinstance(old.get(key), dict):
                out[key] = merge_attribute(old[key], sub)
    return out


def refuse_null_within(attrs: dict[str, dict[str, Any]], ctx: Context, *, merge: bool = False) -> None:
    """400 naming the attributes that hold Null where it cannot stand (``null_within``)."""
    found = [ctx.compact(iri) for iri, attr in attrs.items() if null_within(attr, merge=merge)]
    if found:
        raise bad(f"NGSI-LD's Null ({NULL}) stands for a whole value, not a part of one: "
                  f"{', '.join(found)} holds it inside its value.")
