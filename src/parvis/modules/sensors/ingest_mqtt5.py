"""A lean MQTT 5 / 3.1.1 subscriber for the ingestion listener: one topic filter at QoS 1, a
persistent session, acknowledgements sent by the caller once it has stored the messages.

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

MQTT 3.1.1 (protocol level 4), for brokers without MQTT 5: the same packets without properties
(CONNECT with clean session off, so the broker keeps the session until its own expiry; no Receive
Maximum, so the broker's own in-flight window applies). The protocol is chosen once per
subscriber.

TLS: given an ``ssl.SSLContext``, the connection is wrapped (the broker's name checked against
its certificate). An SSL connection is not used by two threads at once: the reader waits for data
outside the lock and reads under the lock that also guards every write (one wait per chunk, none
per message); the plain TCP path is unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
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
MQTT5, MQTT311 = 5, 4  # protocol levels of CONNECT
PROTOCOL_SETTING = "PARVIS_SENSORS_MQTT_PROTOCOL"
_NAMES = {MQTT5: "5", MQTT311: "3.1.1"}
# CONNACK codes refusing the connection: MQTT 3.1.1 return codes (1-5) and MQTT 5 reason codes
_REFUSALS = {0x01: "unsupported protocol version", 0x84: "unsupported protocol version",
             0x02: "client id rejected", 0x85: "client id rejected",
             0x03: "server unavailable", 0x88: "server unavailable", 0x89: "server busy",
             0x04: "bad user name or password", 0x86: "bad user name or password",
             0x05: "not authorized", 0x87: "not authorized", 0x8A: "banned"}


class Received(NamedTuple):
    topic: str
    payload: bytes
    mid: int
    qos: int


class ProtocolError(Exception):
    pass


class Refused(ProtocolError):
    """The broker answered CONNECT with a refusal (CONNACK)."""


def refusal(code: int, level: int) -> Refused:
    """What a refusing CONNACK code means, said so that an operator can act on it."""
    reason = _REFUSALS.get(code, "refused")
    message = f"the broker refused the connection: {reason} (CONNACK code 0x{code:02x})"
    if reason == "unsupported protocol version":
        other = MQTT311 if level == MQTT5 else MQTT5
        message += (f"; it does not speak MQTT {_NAMES[level]}: set {PROTOCOL_SETTING}={_NAMES[other]}"
                    " if it speaks that")
    return Refused(message)


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
                   username: str | None = None, password: str | None = None, level: int = MQTT5) -> bytes:
    """CONNECT with clean start (3.1.1: clean session) off. MQTT 3.1.1 has no properties: the
    session lasts as long as the broker keeps sessions, and its in-flight window is its own."""
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0)  # clean start: off
    properties = b""
    if level == MQTT5:
        properties = (b"\x11" + struct.pack("!I", session_expiry)
                      + b"\x21" + struct.pack("!H", receive_maximum))
        properties = _varint(len(properties)) + properties
    elif level != MQTT311:
        raise ValueError(f"MQTT protocol level {level} is not spoken (5 or 4, that is 3.1.1)")
    body = (_text("MQTT") + bytes([level, flags]) + struct.pack("!H", keepalive) + properties
            + _text(client_id))
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _text(password)
    return _packet(0x10, body)


def subscribe_packet(mid: int, topic: str, level: int = MQTT5) -> bytes:
    properties = b"\x00" if level == MQTT5 else b""
    return _packet(0x82, struct.pack("!H", mid) + properties + _text(topic) + b"\x01")


def parse(buf: bytearray, on_publish: Callable[[Received], None],
          on_other: Callable[[int, bytes], None], properties: bool = True) -> int:
    """Handle every complete packet at the start of ``buf``; how many bytes were used.
    ``properties``: MQTT 5's PUBLISH carries properties, MQTT 3.1.1's does not."""
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
            while properties:  # skipped (no topic alias is allowed us: we announce none)
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


def _cut(sock: socket.socket) -> None:
    """End both directions of the TCP connection (under TLS too, without tearing the SSL object
    down under a reader: it then reads the end of the stream)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Subscriber:
    """Keep a subscription open and hand over what arrives: ``on_messages(generation, messages)``
    is called on the subscriber's thread for each chunk read; ``ack(generation, mids)`` (any
    thread) acknowledges them."""

    def __init__(self, host: str, port: int, client_id: str, topic: str,
                 on_messages: Callable[[int, list[Received]], None], *, keepalive: int = 30,
                 session_expiry: int = 7 * 24 * 3600, receive_maximum: int = 5000,
                 username: str | None = None, password: str | None = None, level: int = MQTT5,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.client_id, self.topic = host, port, client_id, topic
        self.on_messages = on_messages
        self.keepalive = keepalive
        self.level, self.ssl_context = level, ssl_context
        self._connect = connect_packet(client_id, keepalive=keepalive, session_expiry=session_expiry,
                                       receive_maximum=receive_maximum, username=username, password=password,
                                       level=level)
        self.refused: str | None = None  # why the broker last refused CONNECT, if it did
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
                _cut(self._sock)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._send_lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.sendall(_DISCONNECT)
                _cut(self._sock)
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the subscriber's thread
    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._session()
                delay = 0.5
            except Refused as exc:  # an answer, not a network failure: said louder
                self.refused = str(exc)
                if self._stop.is_set():
                    break
                log.error("MQTT broker %s:%s: %s; again in %.1f s", self.host, self.port, exc, delay)
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

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            try:  # the handshake, within the connection's 10 s
                sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        sock.settimeout(1.0)
        return sock

    def _tls_reader(self, sock: ssl.SSLSocket) -> Callable[[int], bytes]:
        """``recv`` for a TLS connection: wait for data without the lock, read under it (what is
        already decrypted is read at once)."""
        waiting = selectors.DefaultSelector()
        waiting.register(sock, selectors.EVENT_READ)

        def recv(size: int) -> bytes:
            if not sock.pending() and not waiting.select(1.0):
                raise TimeoutError
            with self._send_lock:
                return sock.recv(size)

        return recv

    def _session(self) -> None:
        sock = self._open()
        with self._send_lock:
            self._sock = sock
            self.generation += 1
        generation = self.generation
        recv = self._tls_reader(sock) if isinstance(sock, ssl.SSLSocket) else sock.recv
        properties = self.level == MQTT5
        self._send(self._connect)
        state = {"connack": False}
        batch: list[Received] = []

        def other(first: int, body: bytes) -> None:
            kind = first >> 4
            if kind == CONNACK:
                # a broker without MQTT 5 answers with a 3.1.1 CONNACK: code 1, never a success
                code = body[1] if len(body) >= 2 else 0xFF
                if code:
                    raise refusal(code, self.level)
                state["connack"] = True
                self.refused = None
                self._send(subscribe_packet(1, self.topic, self.level))
            elif kind == SUBACK:
                j = 2
                if self.level == MQTT5:  # properties (one SUBACK per connection)
                    plen, shift = 0, 0
                    while True:
                        digit = body[j]
                        j += 1
                        plen |= (digit & 0x7F) << shift
                        if digit < 0x80:
                            break
                        shift += 7
                    j += plen
                codes = body[j:]
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
                data = recv(1 << 18)
            except TimeoutError:
                data = None
            now = time.monotonic()
            if data is not None:
                if not data:
                    if not state["connack"] and self.level == MQTT5:
                        raise OSError("the broker closed the connection without answering CONNECT (a broker "
                                      f"that speaks only MQTT 3.1.1 may: see {PROTOCOL_SETTING})")
                    raise OSError("the broker closed the connection")
                last_received = now
                buf += data
                used = parse(buf, batch.append, other, properties)
                del buf[:used]
                if batch:
                    self.on_messages(generation, batch)
                    batch = []
            if now - last_received > 1.5 * self.keepalive:
                raise OSError("the broker stopped answering")
            if state["connack"] and now - self._last_sent > self.keepalive / 2:
                self._send(_PINGREQ)
