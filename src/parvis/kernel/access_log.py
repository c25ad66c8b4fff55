"""One line per HTTP request, written by Parvis rather than by uvicorn, so that it can be selective.

A city's sensors write through the hub's machine-to-machine APIs (NGSI-LD, device HTTP ingestion)
thousands of times a second: a line for each would flood the journal and cost each request
~30-60 µs of the server's CPU (``docs/sensors-write-performance.md``). The ``access_log`` setting:

- ``people`` (default): every request, except the successful ones (status under 400) under the
  machine-to-machine prefixes (reads as well as writes: what machines send); their failures are
  still logged, as context brokers do;
- ``all``: every request; ``off``: none.

The line keeps uvicorn's shape (``client - "METHOD /path?query HTTP/1.1" status``, the path
percent-encoded again so that a request cannot write a line of its own) and adds the time taken.
Query parameters that carry a secret (a device's ``k`` API key, tokens, a confirmation ``code``)
are written as ``***``. The logger has its own handler, on the standard output: the web processes
that uvicorn starts for ``--workers`` have no logging configured otherwise.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO, get_args
from urllib.parse import parse_qsl, quote, urlencode

from starlette.types import Scope

from parvis.settings import Settings

LOGGER = logging.getLogger("parvis.access")
MODES = get_args(Settings.model_fields["access_log"].annotation)  # the setting's own values
SECRET_PARAMETERS = frozenset({"k", "key", "apikey", "api_key", "token", "access_token", "code",
                               "password"})
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Stdout(logging.StreamHandler):
    """A handler writing to whatever ``sys.stdout`` is when a line is written."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _install_handler() -> None:
    """One handler of our own on the logger (``create_app`` may run several times in a process)."""
    if not any(isinstance(h, _Stdout) for h in LOGGER.handlers):
        handler = _Stdout()
        handler.setFormatter(logging.Formatter(FORMAT))
        LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False  # not twice where the root logger writes too (``parvis serve``)


class AccessLog:
    """``log(scope, status, started)`` after each request; ``machine_prefixes``: path prefixes of
    the machine-to-machine APIs whose successes are not logged in the ``people`` mode."""

    def __init__(self, mode: str, machine_prefixes: tuple[str, ...] = ()) -> None:
        if mode not in MODES:
            raise ValueError(f"access_log is one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.machine_prefixes = machine_prefixes
        if mode != "off":
            _install_handler()

    def wants(self, path: str, status: int) -> bool:
        if self.mode == "off":
            return False
        if self.mode == "all" or status >= 400:
            return True
        return not (self.machine_prefixes and path.startswith(self.machine_prefixes))

    def log(self, scope: Scope, status: int, started: float) -> None:
        if not self.wants(scope["path"], status) or not LOGGER.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        who = f"{client[0]}:{client[1]}" if client else "-"
        target = quote(scope.get("root_path", "") + scope["path"], safe="/:@!$&'()*+,;=~")
        query = scope.get("query_string", b"")
        if query:
            target += "?" + redacted(query.decode("latin-1"))
        LOGGER.info('%s - "%s %s HTTP/%s" %d %.1f ms', who, scope.get("method", ""), target,
                    scope.get("http_version", "1.1"), status, (time.perf_counter() - started) * 1000)


def redacted(query: str) -> str:
    """The query string with the values of secret-bearing parameters replaced by ``***``."""
    pairs: list[tuple[str, Any]] = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in SECRET_PARAMETERS for name, _value in pairs):
        return query
    return urlencode([(name, "***" if name.lower() in SECRET_PARAMETERS else value)
                      for name, value in pairs], safe="*:/,;[]")
