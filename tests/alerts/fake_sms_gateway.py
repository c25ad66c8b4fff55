"""A fake SMS gateway on loopback, for the delivery tests and ``bench/alerts.py``.

It speaks two interfaces:

- Kannel smsbox's ``GET /cgi-bin/sendsms`` (user name, password, ``to``, ``text``, ``dlr-url``...):
  answers ``202 0: Accepted for delivery`` like Kannel, and like Kannel it has no idempotency:
  every request is a message sent to a handset. With ``--receipts`` it then calls the message's
  ``dlr-url`` with type 8 ("submitted to the SMSC"), as Kannel's bearerbox does.
- a JSON webhook ``POST /sms`` (``to``, ``text``, ``reference``...) with client-reference
  deduplication, like gateways that accept a reference once: a repeated ``reference`` is answered
  ``200 {"status": "duplicate"}`` and not sent to the handset again.

Every request it accepts is appended to the log, one line each, tab-separated:
``interface  reference  recipient  first|repeat`` (the reference is our message id, taken from
Kannel's ``dlr-url`` or the webhook's ``reference``; ``repeat`` when that reference came before).
``summary(path)`` counts requests received, distinct messages and repeats from that log.

With ``--hold-after N`` it accepts N messages, then holds every further request until the file
``<log>.release`` exists (a gateway that stalls): a test can kill a sender mid-send at a known
point, whatever the machine's speed. A held request whose client has gone by then is dropped, not
sent (the gateway never answered it).

Run: ``python tests/alerts/fake_sms_gateway.py --port 13013 --log /tmp/sms.log [--delay-ms 5]``
(aiohttp, from the ``[bench]`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

USERNAME = "parvis"
PASSWORD = "parvis"


@dataclass
class Summary:
    requests: int  # requests the gateway accepted, repeats included
    distinct: int  # distinct references (messages)
    repeats: int  # requests for a reference already seen
    handsets: int  # messages that reached a handset: every Kannel request, first webhook ones
    recipients: int  # distinct recipients
    counts: Counter[str]  # requests per reference

    def line(self) -> str:
        return (f"requests received {self.requests:,}, distinct messages {self.distinct:,}, "
                f"repeated requests {self.repeats:,}, handset deliveries {self.handsets:,}")


def read_log(path: Path) -> list[tuple[str, str, str, bool]]:
    """The log's lines as (interface, reference, recipient, first); a partial last line is skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], parts[3] == "first"))
    return out


def summary(path: Path) -> Summary:
    lines = read_log(path)
    counts = Counter(ref for _i, ref, _to, _first in lines)
    handsets = sum(1 for interface, _r, _t, first in lines if interface == "kannel" or first)
    return Summary(requests=len(lines), distinct=len(counts), repeats=len(lines) - len(counts),
                   handsets=handsets, recipients=len({to for _i, _r, to, _f in lines}), counts=counts)


class Gateway:
    def __init__(self, log: Path, delay: float, receipts: bool = False, hold_after: int | None = None) -> None:
        self.delay = delay
        self.receipts = receipts
        self.hold_after = hold_after
        self.release = release_path(log)
        self.accepted = 0
        self.seen: set[str] = set()
        self.file = open(log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - one line each
        self.client: Any = None  # aiohttp.ClientSession, made in the server's loop on first use
        self.reports: set[asyncio.Task[None]] = set()

    async def report(self, dlr_url: str) -> None:
        """What Kannel's bearerbox does once the operator's SMSC took a message: call the
        ``dlr-url`` with delivery report type 8 ("submitted to the SMSC"), milliseconds later."""
        from aiohttp import ClientError, ClientSession

        if self.client is None:
            self.client = ClientSession()
        url = dlr_url.replace("%d", "8").replace("%A", "ACK%2F")
        try:
            async with self.client.get(url) as answer:
                await answer.read()
        except (ClientError, OSError) as exc:  # Kannel retries; the tests count what arrived
            print(f"fake gateway: delivery report failed: {exc}", file=sys.stderr)

    async def held(self, request: Any) -> bool:
        """Past ``hold_after`` messages, wait for the release file; True when the client left
        meanwhile (the request is then dropped unanswered)."""
        if self.hold_after is None or self.accepted < self.hold_after:
            return False
        while not self.release.exists():
            await asyncio.sleep(0.01)
        return request.transport is None or request.transport.is_closing()

    def record(self, interface: str, ref: str, to: str) -> bool:
        self.accepted += 1
        first = ref not in self.seen
        self.seen.add(ref)
        self.file.write(f"{interface}\t{ref}\t{to}\t{'first' if first else 'repeat'}\n")
        return first

    async def sendsms(self, request):  # type: ignore[no-untyped-def]
        from aiohttp import web

        query = request.query
        if query.get("username") != USERNAME or query.get("password") != PASSWORD:
            return web.Response(status=403, text="Authorization failed for sendsms")
        to, text = query.get("to", ""), query.get("text")
        if not to or text is None:
            return web.Response(status=400, text="Missing receiver number")
        dlr = parse_qs(urlsplit(query.get("dlr-url", "")).query)
        ref = (dlr.get("ref") or [""])[0]
        if self.delay:
            await asyncio.sleep(self.delay)
        if await self.held(request):
            return web.Response(status=503, text="Gateway stalled")
        self.record("kannel", ref, to)
        if self.receipts and query.get("dlr-url"):
            task = asyncio.get_running_loop().create_task(self.report(query["dlr-url"]))
            self.reports.add(task)
            task.add_done_callback(self.reports.discard)
        return web.Response(status=202, text="0: Accepted for delivery")

    async def webhook(self, request):  # type: ignore[no-untyped-def]
        from aiohttp import web

        body = await request.json()
        to, ref = str(body.get("to") or ""), str(body.get("reference") or "")
        if not to or not ref:
            return web.json_response({"error": "to and reference are required"}, status=400)
        if self.delay:
            await asyncio.sleep(self.delay)
        if await self.held(request):
            return web.json_response({"error": "gateway stalled"}, status=503)
        first = self.record("webhook", ref, to)
        return web.json_response({"status": "accepted" if first else "duplicate", "reference": ref})


def release_path(log: Path) -> Path:
    return log.with_name(log.name + ".release")


def serve(port: int, log: Path, delay_ms: float, receipts: bool = False, hold_after: int | None = None) -> None:
    from aiohttp import web

    gateway = Gateway(log, delay_ms / 1000, receipts, hold_after)
    app = web.Application()
    app.router.add_get("/cgi-bin/sendsms", gateway.sendsms)
    app.router.add_post("/sms", gateway.webhook)
    app.router.add_get("/healthz", lambda _r: _ok())
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=1024)


async def _ok():  # type: ignore[no-untyped-def]
    from aiohttp import web

    return web.Response(text="ok")


class WorkerProcesses:
    """``parvis worker`` processes with the given environment, their output appended to a log;
    ``stop`` asks them to finish (SIGTERM) and kills those that do not in ``grace`` seconds."""

    def __init__(self, env: dict[str, str], log: Path, grace: float = 30.0) -> None:
        self.env = env
        self.grace = grace
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "parvis.cli", "worker"], env=self.env,
                                stdout=self.log, stderr=self.log)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(self.grace)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck worker
                proc.kill()
        self.log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    """The gateway in its own process (so its work is not counted in the sender's): a context
    manager giving ``url`` (base), ``sendsms_url``, ``webhook_url`` and ``log``."""

    def __init__(self, log: Path, *, delay_ms: float = 0.0, port: int | None = None,
                 receipts: bool = False, hold_after: int | None = None) -> None:
        self.log = log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sendsms_url = f"{self.url}/cgi-bin/sendsms"
        self.webhook_url = f"{self.url}/sms"
        self.command = [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port),
                        "--log", str(log), "--delay-ms", str(delay_ms)] + (["--receipts"] if receipts else []) \
            + (["--hold-after", str(hold_after)] if hold_after is not None else [])
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GatewayProcess:
        self.process = subprocess.Popen(self.command, env=os.environ.copy())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                sock.settimeout(0.2)
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                raise RuntimeError("the fake SMS gateway did not start")
            time.sleep(0.05)
        raise RuntimeError("the fake SMS gateway did not open its port")

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def summary(self) -> Summary:
        return summary(self.log)

    def release(self) -> None:
        """Let a gateway started with ``hold_after`` go on accepting messages."""
        release_path(self.log).touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=13013)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="Time the gateway takes per message.")
    parser.add_argument("--receipts", action="store_true",
                        help="Report each Kannel message back as Kannel does (dlr-url, type 8).")
    parser.add_argument("--hold-after", type=int, default=None,
                        help="Hold requests after this many messages until <log>.release exists.")
    args = parser.parse_args()
    serve(args.port, args.log, args.delay_ms, args.receipts, args.hold_after)


if __name__ == "__main__":
    main()
