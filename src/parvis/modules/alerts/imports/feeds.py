"""Polling external authorities' feeds for CAP alerts to relay.

Each URL of ``alerts_import_feeds`` is an Atom feed listing CAP documents (or one CAP document).
A worker tick queues one poll job per interval (keyed by the interval, so that any number of
workers poll once); the job fetches each feed with httpx, with a timeout, no redirect, a size
limit counted on the decoded bytes, and a conditional GET (ETag, Last-Modified). The feed's
CAP documents are fetched from the feed's own origin only (scheme, host and port), so a feed
can make Parvis request nothing else; each is imported like an upload (same checks, stored once
per sender and identifier). The entries already handled are remembered, so a document is
fetched again only when its entry changes; a document refused for what it says (expired,
invalid) is not fetched again, one that could not be fetched is retried at the next poll.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from parvis.kernel import jobs
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, ParvisError
from parvis.kernel.i18n import Translator
from parvis.modules.alerts.imports import actions
from parvis.modules.alerts.models import ImportFeed
from parvis.modules.alerts.standards import atom, cap
from parvis.modules.alerts.standards.xmlsafe import parse_xml
from parvis.settings import Settings

log = logging.getLogger(__name__)

POLL_JOB = "alerts.poll_feeds"
ACCEPT = "application/atom+xml, application/cap+xml;q=0.9, application/xml;q=0.8, */*;q=0.1"
TICK_SECONDS = 15.0  # how often a worker checks whether the current interval's poll is queued
OTHER_HOST = N_("%(count)s link(s) to another host ignored, such as %(url)s")


class FetchFailed(Exception):
    """A request that brought no usable answer; ``transient`` ones are tried again later."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class Fetched:
    status: int
    body: bytes
    etag: str = ""
    last_modified: str = ""


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def client(settings: Settings) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(settings.alerts_import_timeout_seconds), follow_redirects=False,
                        headers={"User-Agent": "Parvis alerts import", "Accept": ACCEPT})


def fetch(http: httpx.Client, url: str, max_bytes: int, headers: dict[str, str] | None = None) -> Fetched:
    """One GET, reading at most ``max_bytes`` (after decompression) before giving up."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchFailed(f"only http and https URLs are fetched: {url[:200]}", transient=False)
    try:
        with http.stream("GET", url, headers=headers or {}) as response:
            if response.status_code == 304:
                return Fetched(304, b"")
            if response.status_code != 200:
                raise FetchFailed(f"HTTP {response.status_code}",
                                  transient=response.status_code >= 500 or response.status_code == 429)
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise FetchFailed(f"{length} bytes, more than {max_bytes}", transient=False)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchFailed(f"more than {max_bytes} bytes", transient=False)
            return Fetched(200, bytes(body), response.headers.get("etag", ""),
                           response.headers.get("last-modified", ""))
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{type(exc).__name__}: {exc}") from exc


def _state(db: Database, url: str) -> dict[str, Any]:
    with db.transaction() as session:
        row = session.scalar(select(ImportFeed).where(ImportFeed.url == url))
        if row is None:
            row = ImportFeed(url=url, etag="", last_modified="", seen=[], error="", imported=0)
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:
                row = session.scalar(select(ImportFeed).where(ImportFeed.url == url))
                if row is None:
                    raise
        return {"etag": row.etag, "last_modified": row.last_modified, "seen": list(row.seen or [])}


def _save(db: Database, url: str, *, ok: bool, error: str | None = "", imported: int = 0,
          **values: Any) -> None:
    """Record a poll; ``error`` None keeps the last listing's problems (the feed did not change)."""
    with db.transaction() as session:
        row = session.scalar(select(ImportFeed).where(ImportFeed.url == url))
        if row is None:
            return
        now = utcnow()
        row.polled_at = now
        if ok:
            row.ok_at = now
        if error is not None:
            row.error = error[:2000]
        row.imported = (row.imported or 0) + imported
        for name, value in values.items():
            setattr(row, name, value)


def _reason(exc: ParvisError, settings: Settings) -> str:
    return Translator(settings.default_language).gettext(exc.detail or exc.title, **exc.params)


def _entry_key(link: atom.CapLink) -> str:
    """A feed entry as remembered: its document's URL and when the entry last changed."""
    return f"{link.url}#{link.updated.isoformat()}" if link.updated else link.url


def poll_feed(db: Database, settings: Settings, url: str, http: httpx.Client) -> int:
    """Poll one feed; returns how many new alerts it brought."""
    max_bytes = settings.alerts_import_max_bytes
    state = _state(db, url)
    conditional = {}
    if state["etag"]:
        conditional["If-None-Match"] = state["etag"]
    if state["last_modified"]:
        conditional["If-Modified-Since"] = state["last_modified"]
    try:
        got = fetch(http, url, max_bytes, conditional)
    except FetchFailed as exc:
        _save(db, url, ok=False, error=str(exc))
        return 0
    if got.status == 304:
        _save(db, url, ok=True, error=None)
        return 0
    try:
        root = parse_xml(got.body, max_bytes)
        if root.tag == f"{{{cap.NS}}}alert":  # the URL is one CAP document
            links = [atom.CapLink(url=url)]
            documents = {url: got.body}
        else:
            links = atom.parse_atom(got.body, max_bytes=max_bytes, base_url=url)
            documents = {}
    except ParvisError as exc:
        _save(db, url, ok=False, error=_reason(exc, settings))
        return 0
    home = origin(url)
    problems: list[str] = []
    foreign = [link.url for link in links if origin(link.url) != home]
    if foreign:
        problems.append(Translator(settings.default_language).gettext(
            OTHER_HOST, count=len(foreign), url=foreign[0][:200]))
    listed = list(dict.fromkeys(_entry_key(link) for link in links if origin(link.url) == home))
    seen = set(state["seen"])
    new = [link for link in links if origin(link.url) == home and _entry_key(link) not in seen]
    new = list({_entry_key(link): link for link in new}.values())
    complete = len(new) <= settings.alerts_import_max_entries
    handled: set[str] = set()
    imported = 0
    for link in new[:settings.alerts_import_max_entries]:
        try:
            body = documents.get(link.url) or fetch(http, link.url, max_bytes).body
        except FetchFailed as exc:
            problems.append(f"{link.url[:200]}: {exc}")
            if exc.transient:
                complete = False
            else:
                handled.add(_entry_key(link))
            continue
        try:
            _row, created = actions.import_document(db, settings, body, actor=None, source="feed",
                                                    source_url=link.url)
            imported += created
        except ParvisError as exc:  # refused for what it says: not fetched again
            problems.append(f"{link.url[:200]}: {_reason(exc, settings)}")
        handled.add(_entry_key(link))
    # Remember only what the feed still lists; keep the validators only when nothing is left for later.
    _save(db, url, ok=True, error="\n".join(problems), imported=imported,
          seen=[key for key in listed if key in seen or key in handled],
          etag=got.etag if complete else "", last_modified=got.last_modified if complete else "")
    return imported


def poll_all(db: Database, settings: Settings, http: httpx.Client | None = None) -> int:
    """Poll every configured feed (one failing feed does not stop the others)."""
    own = http is None
    http = http or client(settings)
    imported = 0
    try:
        for url in settings.alerts_import_feeds:
            try:
                imported += poll_feed(db, settings, url, http)
            except Exception:  # a bug or a database error on one feed: log it, poll the others
                log.exception("polling the alerts feed %s failed", url)
    finally:
        if own:
            http.close()
    return imported


def poll_tick(settings: Settings) -> jobs.Tick:
    """The worker tick that queues one poll job per interval, whichever worker gets there first."""
    last = {"at": -math.inf}

    def alerts_poll_feeds(db: Database) -> int:
        if not settings.alerts_import_feeds or time.monotonic() - last["at"] < TICK_SECONDS:
            return 0
        last["at"] = time.monotonic()
        key = f"{POLL_JOB}:{int(time.time() // settings.alerts_import_interval_seconds)}"
        with db.read() as session:
            if jobs.statuses(session, [key]):
                return 0
        with db.transaction() as session:
            jobs.enqueue(session, POLL_JOB, {}, key=key, max_attempts=1)
        return 0

    return alerts_poll_feeds
