"""Watchers for hostile input in the alerts tests: a named pipe that notices being opened (the
file an external entity names) and a loopback web server that counts what it is asked (the URL
one names, or a CAP feed to poll)."""

from __future__ import annotations

import contextlib
import http.server
import os
import threading
import time
from collections.abc import Iterator


class PipeWatch:
    """A named pipe whose opening for reading is noticed (a reader blocks until a writer comes)."""

    def __init__(self, path: str) -> None:
        self.path, self.opened = path, 0
        self._stop = threading.Event()
        os.mkfifo(path)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader yet
                time.sleep(0.001)
                continue
            self.opened += 1
            with contextlib.suppress(OSError):
                os.write(fd, b"root:x:0:0:SECRET")
            os.close(fd)

    def stop(self) -> None:
        time.sleep(0.05)
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def serving(routes: dict[str, tuple[bytes, str]], *, etag: str | None = None,
            ) -> Iterator[tuple[str, list[str]]]:
    """A web server on loopback serving ``routes`` (path -> body, content type), counting requests;
    with ``etag``, a request carrying it in If-None-Match gets 304."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            if etag and self.path in routes and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            body, content_type = routes.get(self.path, (b'<!ENTITY leak "SECRET">', "text/plain"))
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        thread.join()
