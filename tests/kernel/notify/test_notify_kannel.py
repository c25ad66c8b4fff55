"""End to end through a real Kannel (bearerbox + smsbox) and its fake SMSC (``fakesmsc``).

Outbound: Parvis -> sendsms -> bearerbox -> fakesmsc (printed on its stdout).
Delivery reports: fakesmsc acknowledges -> bearerbox -> smsbox -> dlr-url -> Parvis.
Inbound: fakesmsc -> bearerbox -> smsbox ``get-url`` -> Parvis's inbound webhook.
Needs the Debian packages ``kannel`` and ``kannel-extras``; skipped when they are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote_plus, unquote_to_bytes

import pytest
from notify_helpers import (
    SMS_TOKEN,
    LiveServer,
    build_app,
    free_port,
    make_settings,
    message,
    wait_for,
    wait_port,
)
from sqlalchemy import select

from parvis.kernel.db import Database
from parvis.kernel.events import Event
from parvis.kernel.notify import Channel, MessageStatus, build_adapters, dispatch_due, enqueue
from parvis.kernel.notify.models import InboundSms

pytestmark = pytest.mark.integration

BEARERBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox"
SMSBOX = shutil.which("smsbox") or "/usr/sbin/smsbox"
FAKESMSC_CANDIDATES = ("/usr/lib/kannel/test/fakesmsc", "/usr/lib/kannel/fakesmsc")
FAKESMSC = next((p for p in FAKESMSC_CANDIDATES if os.access(p, os.X_OK)),
                shutil.which("fakesmsc"))
if not (FAKESMSC and os.access(BEARERBOX, os.X_OK) and os.access(SMSBOX, os.X_OK)):
    pytest.skip("Kannel (packages kannel, kannel-extras) is not installed",
                allow_module_level=True)

# smsbox fills in: %p sender, %P receiver, %a text, %I Kannel's message id, %c coding, %C charset
INBOUND_QUERY = "&from=%p&to=%P&text=%a&id=%I&coding=%c&charset=%C"
KANNEL_CONF = """
group = core
admin-port = {admin}
admin-password = parvis-admin
smsbox-port = {smsbox}
box-allow-ip = 127.0.0.1
log-level = 1
log-file = "{log_dir}/bearerbox.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {smsc}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
global-sender = 1022
log-level = 1
log-file = "{log_dir}/smsbox.log"

group = sendsms-user
username = parvis
password = {password}

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "{inbound_url}"
"""


@dataclass
class Kannel:
    sendsms_url: str
    web: LiveServer
    fakesmsc: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)

    def inject(self, sender: str, receiver: str, text: str) -> None:
        """An SMS from a handset, sent by the fake SMSC as UCS-2 (URL-encoded UTF-16BE)."""
        assert self.fakesmsc.stdin is not None
        data = quote(text.encode("utf-16-be"))
        self.fakesmsc.stdin.write(f"{sender} {receiver} ucs2 {data}\n".encode())
        self.fakesmsc.stdin.flush()

    def received(self) -> list[tuple[str, str, str]]:
        """(from, to, text) of every message the fake SMSC got from Kannel."""
        out = []
        for line in list(self.lines):
            if "Got message" not in line or "<" not in line:
                continue
            inner = line[line.index("<") + 1:line.rindex(">")]
            sender, receiver, kind, data = inner.split(" ", 3)
            if kind in ("ucs-2", "ucs2"):
                text = unquote_to_bytes(data.replace("+", "%20")).decode("utf-16-be")
            else:
                text = unquote_plus(data)
            out.append((sender, receiver, text))
        return out


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def kannel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kannel]:
    tmp: Path = tmp_path_factory.mktemp("kannel")
    web = LiveServer(build_app(None, make_settings()))
    web.__enter__()
    conf = tmp / "kannel.conf"
    inbound_url = f"{web.url}/api/v1/notify/sms/inbound?token={SMS_TOKEN}{INBOUND_QUERY}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # A port found free can be taken by another process before bearerbox binds it (the
        # suite runs in parallel): bearerbox then exits. Start again on other ports.
        for attempt in range(3):
            ports = {name: free_port() for name in ("admin", "smsbox", "smsc", "sendsms")}
            conf.write_text(KANNEL_CONF.format(**ports, log_dir=tmp, inbound_url=inbound_url,
                                               password="parvis"))
            bearerbox = subprocess.Popen([BEARERBOX, str(conf)], cwd=tmp,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(ports["smsc"], timeout=20)
                wait_port(ports["smsbox"], timeout=20)
            except AssertionError:
                _stop(bearerbox)
                if attempt == 2:
                    raise
                continue
            procs.append(bearerbox)
            break
        fakesmsc = subprocess.Popen(
            [FAKESMSC, "-H", "127.0.0.1", "-r", str(ports["smsc"]), "-m", "-1"],
            cwd=tmp, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(fakesmsc)
        state = Kannel(f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms", web, fakesmsc)

        def read_output() -> None:
            assert fakesmsc.stdout is not None
            for raw in fakesmsc.stdout:
                state.lines.append(raw.decode("utf-8", errors="replace"))

        threading.Thread(target=read_output, daemon=True).start()
        procs.append(subprocess.Popen([SMSBOX, str(conf)], cwd=tmp,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(ports["sendsms"])
        yield state
    finally:
        for proc in reversed(procs):
            _stop(proc)
        web.__exit__()


@pytest.fixture
def wired(kannel: Kannel, db: Database) -> Iterator[Kannel]:
    """Point the running Parvis web server at this test's database."""
    kannel.web.app.state.db = db
    kannel.web.app.state.settings = make_settings(base_url=kannel.web.url)
    yield kannel
    kannel.web.app.state.db = None


def test_outbound_reaches_the_handset_and_delivery_comes_back(wired: Kannel,
                                                              db: Database) -> None:
    settings = make_settings(notify_sms_backend="kannel", kannel_sendsms_url=wired.sendsms_url,
                             kannel_username="parvis", kannel_password="parvis",
                             sms_sender="1022", base_url=wired.web.url)
    texts = {
        "+84901111111": "Báo cáo #42 của bạn đã được xử lý. Cảm ơn!",
        "+85512222222": "របាយការណ៍របស់អ្នកត្រូវបានដោះស្រាយ",
        "+84903333333": "Report 42 resolved (ASCII, GSM-7)",
    }
    with db.transaction() as session:
        ids = [enqueue(session, channel=Channel.SMS, to=to, body=text).id
               for to, text in texts.items()]
    assert dispatch_due(db, build_adapters(settings), settings) == 3

    got = wait_for(lambda: len(wired.received()) >= 3 and wired.received(), timeout=15)
    assert sorted((to, text) for _sender, to, text in got) == sorted(texts.items())
    assert {sender for sender, _to, _text in got} == {"1022"}
    # The fake SMSC acknowledges each message: Kannel calls our dlr-url (8 then 1).
    wait_for(lambda: all(message(db, i).status == MessageStatus.DELIVERED for i in ids),
             timeout=15)
    row = message(db, ids[0])
    assert (row.provider, row.provider_ref) == ("kannel", str(ids[0]))
    assert row.delivered_at is not None


def test_inbound_sms_arrives_through_smsbox(wired: Kannel, db: Database,
                                            events: list[Event]) -> None:
    text = "Đèn đường hỏng ở phố Lê Lợi: ភ្លើងផ្លូវខូច"
    wired.inject("0987654321", "1022", text)

    def stored() -> list[tuple[str, str, str, str | None]]:
        with db.read() as session:
            return [(r.sender, r.receiver, r.text, r.gateway_ref)
                    for r in session.scalars(select(InboundSms))]

    [(sender, receiver, got, ref)] = wait_for(stored, timeout=15)
    assert (sender, receiver, got) == ("0987654321", "1022", text)
    assert ref  # Kannel's message id, used to drop repeats
    received = [e for e in events if e.name == "sms.received"]
    assert [e.payload["text"] for e in received] == [text]
