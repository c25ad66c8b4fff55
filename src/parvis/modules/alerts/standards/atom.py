"""Atom 1.0 (RFC 4287) feed of CAP alerts: written for ``/cap/alerts.atom``, read from an
external authority's feed to find the CAP documents it lists.

Each entry links to its CAP document with ``rel="alternate" type="application/cap+xml"``, the
convention CAP aggregators follow. When reading, only http(s) links are returned, so a feed can
never make Parvis read a local file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import urljoin, urlsplit

from lxml import etree

from parvis.kernel.errors import N_, ValidationFailed
from parvis.modules.alerts.standards import cap
from parvis.modules.alerts.standards.xmlsafe import DEFAULT_MAX_BYTES, parse_xml, xml_text

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
CAP_MEDIA_TYPES = (cap.MEDIA_TYPE, "application/common-alerting-protocol+xml")
_A = f"{{{ATOM_NS}}}"


class InvalidAtom(ValidationFailed):
    type_slug = "invalid-atom"
    title = N_("The document is not an Atom feed.")


@dataclass(kw_only=True)
class Entry:
    """One alert in the feed: its CAP document's URL, an id, a title and when it last changed."""

    id: str
    title: str
    updated: datetime
    cap_url: str
    summary: str | None = None


@dataclass(kw_only=True)
class CapLink:
    """A CAP document listed by a feed, with what the entry says about it."""

    url: str
    entry_id: str | None = None
    title: str | None = None
    updated: datetime | None = None


def rfc3339(value: datetime, tz: str | tzinfo | None = None) -> str:
    """``2026-11-25T09:30:00+07:00``: whole seconds, with an offset, ``+00:00`` for UTC (RFC 3339
    reads CAP's ``-00:00`` as "offset unknown"); a naive datetime is UTC."""
    text = cap.format_datetime(value, tz)
    return text[:-6] + "+00:00" if text.endswith(cap.UTC_OFFSET) else text


def entry_for(alert: cap.Alert, cap_url: str, language: str | None = None) -> Entry:
    """The feed entry of an alert: the info block in ``language`` (or the first) gives the title."""
    infos = [i for i in alert.infos if language and i.language.lower().startswith(language.lower())]
    info = infos[0] if infos else (alert.infos[0] if alert.infos else None)
    title = (info.headline or info.event) if info else alert.identifier
    return Entry(id=cap_url, title=title or alert.identifier, updated=alert.sent, cap_url=cap_url,
                 summary=info.description if info else alert.note)


def _add(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _A + name, **attributes)
    element.text = xml_text(text)
    return element


def atom_feed(title: str, feed_url: str, updated: datetime, entries: list[Entry], *,
              author: str | None = None, feed_id: str | None = None,
              tz: str | tzinfo | None = None) -> bytes:
    """An Atom 1.0 feed (UTF-8) listing ``entries``; its id is ``feed_id`` or the feed's URL."""
    root = etree.Element(_A + "feed", nsmap={None: ATOM_NS})
    _add(root, "id", feed_id or feed_url)
    _add(root, "title", title)
    _add(root, "updated", rfc3339(updated, tz))
    _add(etree.SubElement(root, _A + "author"), "name", author or title)
    etree.SubElement(root, _A + "link", rel="self", type=MEDIA_TYPE, href=feed_url)
    for entry in entries:
        element = etree.SubElement(root, _A + "entry")
        _add(element, "id", entry.id)
        _add(element, "title", entry.title)
        _add(element, "updated", rfc3339(entry.updated, tz))
        etree.SubElement(element, _A + "link", rel="alternate", type=cap.MEDIA_TYPE, href=entry.cap_url)
        if entry.summary:
            _add(element, "summary", entry.summary)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _child_text(element: etree._Element, name: str) -> str | None:
    child = element.find(_A + name)
    return None if child is None else "".join(child.itertext()).strip()


def _cap_href(entry: etree._Element) -> str | None:
    links = entry.findall(_A + "link")
    for link in links:
        if (link.get("type") or "").split(";")[0].strip().lower() in CAP_MEDIA_TYPES and link.get("href"):
            return link.get("href")
    for link in links:  # an untyped alternate link that names a CAP or XML file
        href = link.get("href") or ""
        if link.get("rel", "alternate") == "alternate" and href.lower().endswith((".cap", ".xml")):
            return href
    return None


def parse_atom(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
               base_url: str | None = None) -> list[CapLink]:
    """The CAP documents an untrusted Atom feed lists, as absolute http(s) URLs (relative links are
    resolved against ``base_url``, the feed's own URL); other links are left out."""
    root = parse_xml(data, max_bytes)
    if root.tag != _A + "feed":
        raise InvalidAtom()
    found = []
    for entry in root.findall(_A + "entry"):
        href = _cap_href(entry)
        if href is None:
            continue
        url = urljoin(base_url or "", href.strip())
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            continue
        found.append(CapLink(url=url, entry_id=_child_text(entry, "id"), title=_child_text(entry, "title"),
                             updated=_datetime(_child_text(entry, "updated"))))
    return found
