"""A lean MQTT 5 subscriber for the ingestion listener: one topic filter at QoS 1, a persistent
session, acknowledgements sent by the caller once it has stored the messages.

Why not paho here (``parvis simulate`` still publishes with paho): a listener spends most of its
time receiving, and paho's receive path costs several system calls and a dozen Python objects per
message (properties, message info, topic matcher, one PUBACK packet and one wake-up per
acknowledgement). This client reads the socket in large chunks, parses every packet of a chunk in
one loop, hands the chunk's messages over at once, and sends a batch's PUBACKs in one write.

What it speaks (MQTT 5.0, OASIS standard): CONNECT (clean start off, Session Expiry Interval,
Receive Maximum, user name and password from the URL), SUBSCRIBE (one filter, QoS 1; ``$share/...``
filters work like any other), PUBLISH received at QoS 0 or 1 (a QoS 2 subscription is never asked
for), PUBACK, PINGREQ/PINGRESP, DISCONNECT. Lost connections are reopened with a growing delay;
an acknowledgement of a message received on an earlier connection is not sent (its packet id
means nothing on the new one): the broker sends that message again and the store finds it a repeat.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

log = logging.getLogger(__name__)

CONNACK, PUBLISH, SUBACK, PINGRESP, DISCONNECT = 2, 3, 9, 13, 14
_PUBACK = struct.Struct("!BBH").pack
_PINGREQ = b"\xc0\x00"
_DISCONNECT = b"\xe0\x00"  # normal disconnection: the session stays (its expiry interval)


class Received(NamedTuple):
    topic: str
    payload: bytes
    mid: int
    qos: int


class ProtocolError(Exception):
    pass


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def connect_packet(client_id: str, *, keepalive: int, session_expiry: int, receive_maximum: int,
                   username: str | None = None, password: str | None = None) -> bytes:
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0)  # clean start: off
    properties = b"\x11" + struct.pack("!I", session_expiry) + b"\x21" + struct.pack("!H", receive_maximum)
    body = (_text("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive) + _varint(len(properties))
            + properties + _text(client_id))
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _text(password)
    return _packet(0x10, body)


def subscribe_packet(mid: int, topic: str) -> bytes:
    return _packet(0x82, struct.pack("!H", mid) + b"\x00" + _text(topic) + b"\x01")


def parse(buf: bytearray, on_publish: Callable[[Received], None],
          on_other: Callable[[int, bytes], None]) -> int:
    """Handle every complete packet at the start of ``buf``; how many bytes were used."""
    pos, size = 0, len(buf)
    while size - pos >= 2:
        first = buf[pos]
        i, length, shift = pos + 1, 0, 0
        while True:  # the remaining length: a variable byte integer
            if i >= size:
                return pos
            digit = buf[i]
            i += 1
            length |= (digit & 0x7F) << shift
            if digit < 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("malformed remaining length")
        end = i + length
        if end > size:
            return pos
        if first >> 4 == PUBLISH:
            qos = (first >> 1) & 3
            j = i + 2 + ((buf[i] << 8) | buf[i + 1])
            topic = buf[i + 2:j].decode("utf-8", "replace")
            mid = 0
            if qos:
                mid = (buf[j] << 8) | buf[j + 1]
                j += 2
            plen, shift = 0, 0
            while True:  # properties: skipped (no topic alias is allowed us: we announce none)
                digit = buf[j]
                j += 1
                plen |= (digit & 0x7F) << shift
                if digit < 0x80:
                    break
                shift += 7
            on_publish(Received(topic, bytes(buf[j + plen:end]), mid, qos))
        else:
            on_other(first, bytes(buf[i:end]))
        pos = end
    return pos


class Subscriber:
    """Keep a subscription open and hand over what arrives: ``on_messages(generation, messages)``
    is called on the subscriber's thread for each chunk read; ``ack(generation, mids)`` (any
    thread) acknowledges them."""

    def __init__(self, host: str, port: int, client_id: str, topic: str,
                 on_messages: Callable[[int, list[Received]], None], *, keepalive: int = 30,
                 session_expiry: int = 7 * 24 * 3600, receive_maximum: int = 5000,
                 username: str | None = None, password: str | None = None) -> None:
        self.host, self.port, self.client_id, self.topic = host, port, client_id, topic
        self.on_messages = on_messages
        self.keepalive = keepalive
        self._connect = connect_packet(client_id, keepalive=keepalive, session_expiry=session_expiry,
                                       receive_maximum=receive_maximum, username=username, password=password)
        self.connected = threading.Event()  # set once subscribed: from then on the broker keeps our messages
        self.generation = 0  # one per connection
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._last_sent = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sensors-mqtt", daemon=True)

    # ------------------------------------------------------------------ any thread
    def ack(self, generation: int, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages of connection ``generation`` (those of an older connection
        are left: the broker sends them again)."""
        if not mids:
            return
        with self._send_lock:
            if generation != self.generation or self._sock is None:
                return
            try:
                self._sock.sendall(b"".join([_PUBACK(0x40, 2, mid) for mid in mids]))
                self._last_sent = time.monotonic()
            except OSError:  # a write cut short leaves the stream unusable: start a new connection
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._send_lock:
            if self._sock is not None:
                try:
                    self._sock.sendall(_DISCONNECT)
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the subscriber's thread
    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._session()
                delay = 0.5
            except (OSError, ProtocolError) as exc:
                if self._stop.is_set():
                    break
                log.warning("MQTT connection to %s:%s lost or refused (%s); again in %.1f s",
                            self.host, self.port, exc, delay)
            except Exception:  # never a silent end of the listening thread
                log.exception("MQTT listening failed; connecting again in %.1f s", delay)
            finally:
                self._close()
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, 10.0)

    def _close(self) -> None:
        with self._send_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            if self._sock is None:
                raise OSError("not connected")
            self._sock.sendall(data)
            self._last_sent = time.monotonic()

    def _session(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(1.0)
        with self._send_lock:
            self._sock = sock
            self.generation += 1
        generation = self.generation
        self._send(self._connect)
        state = {"connack": False}
        batch: list[Received] = []

        def other(first: int, body: bytes) -> None:
            kind = first >> 4
            if kind == CONNACK:
                if len(body) < 2 or body[1] >= 0x80:
                    raise ProtocolError(f"the broker refused the connection (reason {body[1:2].hex()})")
                state["connack"] = True
                self._send(subscribe_packet(1, self.topic))
            elif kind == SUBACK:
                plen, j, shift = 0, 2, 0
                while True:
                    digit = body[j]
                    j += 1
                    plen |= (digit & 0x7F) << shift
                    if digit < 0x80:
                        break
                    shift += 7
                codes = body[j + plen:]
                if not codes or any(code >= 0x80 for code in codes):
                    log.error("MQTT broker refused the subscription to %s: %s", self.topic, codes.hex())
                    return
                self.connected.set()
            elif kind == DISCONNECT:
                raise ProtocolError(f"the broker disconnected (reason {body[:1].hex() or '00'})")

        buf = bytearray()
        last_received = time.monotonic()
        while not self._stop.is_set():
            try:
                data = sock.recv(1 << 18)
            except TimeoutError:
                data = None
            now = time.monotonic()
            if data is not None:
                if not data:
                    raise OSError("the broker closed the connection")
                last_received = now
                buf += data
                used = parse(buf, batch.append, other)
                del buf[:used]
                if batch:
                    self.on_messages(generation, batch)
                    batch = []
            if now - last_received > 1.5 * self.keepalive:
                raise OSError("the broker stopped answering")
            if state["connack"] and now - self._last_sent > self.keepalive / 2:
                self._send(_PINGREQ)
