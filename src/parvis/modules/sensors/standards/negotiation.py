"""NGSI-LD's HTTP binding: media types, the JSON-LD ``Link`` header, ``Accept``."""

from __future__ import annotations

import re
from functools import lru_cache

from parvis.modules.sensors.standards.ngsi_ld import NgsiError

JSON = "application/json"
LD_JSON = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
_LINK = re.compile(r'^\s*<([^>]*)>\s*((?:;\s*[^;]+)*)$')


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def request_kind(content_type: str | None) -> str:
    """``json`` or ``ld`` for a request body; 415 for anything else."""
    kind = media_type(content_type)
    if kind in (JSON, MERGE_PATCH):
        return "json"
    if kind == LD_JSON:
        return "ld"
    raise NgsiError("UnsupportedMediaType", f"Send the body as {JSON} (with a Link header to the "
                    f"@context) or {LD_JSON} (with @context in the body), not {kind or 'nothing'}.")


@lru_cache(maxsize=256)  # clients send the same header again and again
def link_context(link: str | None) -> str | None:
    """The @context URL of a ``Link`` header (None when there is none)."""
    if not link:
        return None
    found = []
    for part in _split_links(link):
        m = _LINK.match(part)
        if not m:
            raise NgsiError("BadRequestData", "The Link header is not valid (RFC 8288).")
        params = {k.strip().lower(): v.strip().strip('"') for k, _, v in
                  (p.partition("=") for p in m.group(2).split(";") if p.strip())}
        if params.get("rel") == CONTEXT_REL:
            found.append(m.group(1).strip())
    if len(found) > 1:
        raise NgsiError("BadRequestData", "Give one JSON-LD context Link header, not several.")
    if found and not re.match(r"^https?://\S+$", found[0]):
        raise NgsiError("BadRequestData", "The context Link must be an http(s) URL.")
    return found[0] if found else None


def _split_links(value: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(value):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p for p in parts if p.strip()]


def weighted(header: str) -> list[tuple[str, float]]:
    """The items of an ``Accept``-like header (``a;q=0.5, b``), lower-cased, each with its
    quality (1 without ``q``, 0 for an unreadable one), in the header's order."""
    out = []
    for item in header.split(","):
        name, *params = [p.strip() for p in item.split(";")]
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((name.lower(), q))
    return out


def accepted(accept: str | None, *, geo: bool = False) -> str:
    """The media type of the answer: ``application/json`` or ``application/ld+json``, and where
    ``geo`` (entities) ``application/geo+json``."""
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int, int, str] | None = None
    for order, (kind, q) in enumerate(weighted(accept)):
        served = {JSON: JSON, LD_JSON: LD_JSON, "*/*": JSON, "application/*": JSON}.get(kind)
        if geo and kind == GEO_JSON:
            served = GEO_JSON
        if served is None or q <= 0:
            continue
        rank = (q, 0 if "*" in kind else 1, -order, served)
        if best is None or rank[:3] > best[:3]:
            best = rank
    if best is None:
        offered = f"{JSON}, {LD_JSON} or {GEO_JSON}" if geo else f"{JSON} or {LD_JSON}"
        raise NgsiError("NotAcceptable", f"This API answers {offered}; the Accept header "
                        f"asks for {accept!r}.")
    return best[3]
