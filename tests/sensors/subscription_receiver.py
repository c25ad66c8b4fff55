"""A notification receiver for the subscription tests and bench: a threaded HTTP server on a
loopback port that keeps what it gets (time, headers, JSON body) and answers the status given."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


class Receiver:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200  # what the endpoint answers
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                with receiver.cond:
                    receiver.received.append({"at": time.monotonic(), "wall": time.time(),
                                              "path": self.path, "headers": dict(self.headers),
                                              "body": orjson.loads(raw) if raw else None})
                    status = receiver.status
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The notifications, once ``count`` have arrived (or the timeout is over)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.received)

    def bodies(self) -> list[dict[str, Any]]:
        with self.cond:
            return [r["body"] for r in self.received]
