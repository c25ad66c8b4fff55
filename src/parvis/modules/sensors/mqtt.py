"""The MQTT side of the hub: a listener that subscribes to the broker and stores what devices
publish, and a publisher (paho-mqtt) for ``parvis simulate``.

The listener speaks MQTT 5, or 3.1.1 (``PARVIS_SENSORS_MQTT_PROTOCOL``), through
``ingest_mqtt5.Subscriber``, over TCP or TLS (``mqtts://``), with a persistent session (fixed
client id, no clean start, a session that outlives a restart) and acknowledges a QoS 1 message only once
its batch is committed: a listener killed at any moment loses nothing, the broker delivers again
what was not acknowledged, and the store ignores the repeats. Between the network thread and the
writer sits a bounded inbox (``PARVIS_SENSORS_QUEUE_MAX`` messages); when the database cannot keep
up it fills, the network thread waits (the broker holds the messages), and past
``PARVIS_SENSORS_QUEUE_WAIT_SECONDS`` a message is dropped and counted. A batch is what waits in
the inbox (up to ``batch_max``): it grows with the stream, and a quiet stream is stored at once.
Several listeners may share one subscription (``$share/<group>/<filter>``), each with its own
client id (docs/sensors-ingestion-performance.md).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.exc import InterfaceError, OperationalError

from parvis.kernel.db import Database, utcnow
from parvis.modules.sensors import ingest as ingestion
from parvis.modules.sensors.counts import record_counts
from parvis.modules.sensors.ingest_mqtt5 import MQTT5, MQTT311, Received, Subscriber
from parvis.settings import Settings

log = logging.getLogger(__name__)
SESSION_EXPIRY = 7 * 24 * 3600  # seconds the broker keeps a stopped listener's messages
RECEIVE_MAXIMUM = 5000


PROTOCOL_LEVELS = {"5": MQTT5, "3.1.1": MQTT311}
_PLAIN, _TLS = ("mqtt", "tcp"), ("mqtts", "ssl")


class Broker(NamedTuple):
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


def broker(url: str) -> Broker:
    """``mqtt://[user:password@]host[:port]`` (or ``host:port``; port 1883), or
    ``mqtts://...`` for TLS (port 8883). Other schemes (WebSockets) are refused plainly."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in _PLAIN + _TLS:
        raise ValueError(f"The MQTT broker URL {url!r} is neither mqtt://host:port nor mqtts://host:port: "
                         f"Parvis does not speak {parts.scheme}://.")
    tls = parts.scheme in _TLS
    return Broker(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls,
                  unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None)


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The TLS of an ``mqtts://`` broker: its certificate checked against the system's CAs or
    ``PARVIS_SENSORS_MQTT_CA_FILE``, its name against the URL's host; a client certificate when
    ``PARVIS_SENSORS_MQTT_CERT_FILE`` is set. Unreadable files: ValueError, naming the setting."""
    ca_file = settings.sensors_mqtt_ca_file or None
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"PARVIS_SENSORS_MQTT_CA_FILE={ca_file}: cannot be used ({exc})") from None
    if settings.sensors_mqtt_cert_file:
        try:
            context.load_cert_chain(settings.sensors_mqtt_cert_file, settings.sensors_mqtt_key_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"PARVIS_SENSORS_MQTT_CERT_FILE={settings.sensors_mqtt_cert_file} "
                             f"(key: {settings.sensors_mqtt_key_file or 'in the same file'}): cannot be "
                             f"used ({exc})") from None
    return context


class _Item(NamedTuple):
    message: ingestion.Message
    mid: int
    qos: int
    generation: int = 0  # the connection it came on: its acknowledgement goes back on that one


class _Inbox:
    """What the network thread received and the writer has not stored yet, at most ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: deque[_Item] = deque()
        self.ready = threading.Condition()

    def put(self, items: list[_Item], timeout: float) -> list[_Item]:
        """Queue ``items``, waiting at most ``timeout`` for room; those that found none."""
        deadline = None
        with self.ready:
            while items:
                room = self.limit - len(self.items)
                if room > 0:
                    self.items.extend(items[:room])
                    items = items[room:]
                    self.ready.notify_all()
                    continue
                deadline = deadline or time.monotonic() + timeout
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.ready.wait(left)
        return items

    def take(self, most: int, wait: float) -> list[_Item]:
        """What is waiting, up to ``most``, after waiting at most ``wait`` for anything."""
        with self.ready:
            if not self.items:
                self.ready.wait(wait)
            items = self.items
            taken = [items.popleft() for _ in range(min(most, len(items)))]
            if taken:
                self.ready.notify_all()
            return taken

    def empty(self) -> bool:
        return not self.items


class Listener:
    """Subscribe, queue, store in batches, acknowledge after commit."""

    def __init__(self, db: Database, settings: Settings, *, client_id: str | None = None,
                 topic: str | None = None, batch_max: int = 5000, batch_wait: float = 0.2) -> None:
        self.db, self.settings = db, settings
        self.topic = topic or settings.sensors_mqtt_topic
        self.batch_max, self.batch_wait = batch_max, batch_wait
        self.inbox = _Inbox(settings.sensors_queue_max)
        self.totals = {"received": 0, "stored": 0, "repeated": 0, "dead": 0, "dropped": 0}
        self._dropped_since_flush = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="sensors-writer", daemon=True)
        address = broker(settings.sensors_mqtt_url)
        # How many unacknowledged messages the broker may send at once: our acknowledgements wait
        # for a commit, so a small window (MQTT 3's brokers use ~20) would cap the stream at
        # window / commit time. MQTT 3.1.1 cannot ask: the broker's setting applies.
        self.subscriber = Subscriber(address.host, address.port, client_id or settings.sensors_mqtt_client_id,
                                     self.topic, self._on_messages, session_expiry=SESSION_EXPIRY,
                                     receive_maximum=min(RECEIVE_MAXIMUM, settings.sensors_queue_max),
                                     username=address.username, password=address.password,
                                     level=PROTOCOL_LEVELS[settings.sensors_mqtt_protocol],
                                     ssl_context=tls_context(settings) if address.tls else None)
        self.connected = self.subscriber.connected

    # ---------------------------------------------------------------- network thread
    def _on_messages(self, generation: int, received: list[Received]) -> None:
        self.totals["received"] += len(received)
        items = []
        parse_topic, message, now = ingestion.parse_topic, ingestion.Message, utcnow
        for topic, payload, mid, qos in received:
            names = parse_topic(topic)
            # a topic the convention does not allow (odd characters in the key or the device id) is
            # set aside like any unusable message: ``ingest`` finds no such device
            api_key, device_id = names or ("?", topic[:128])
            items.append(_Item(message(api_key, device_id, payload, now(), "mqtt"), mid, qos, generation))
        refused = self.inbox.put(items, self.settings.sensors_queue_wait_seconds)
        if refused:
            with self._lock:
                self._dropped_since_flush += len(refused)
            log.warning("sensor queue full: %d messages dropped", len(refused))
            self._acknowledge(refused)

    # ---------------------------------------------------------------- writer thread
    def _write_loop(self) -> None:
        while not (self._stop.is_set() and self.inbox.empty()):
            # what is waiting, without waiting for more: a batch grows with the stream, and a
            # quiet stream is stored at once
            batch = self.inbox.take(self.batch_max, self.batch_wait)
            if not batch and not self._dropped_since_flush:
                continue
            self._store(batch)

    def _acknowledge(self, items: list[_Item]) -> None:
        by_connection: dict[int, list[int]] = {}
        for item in items:
            if item.qos:
                by_connection.setdefault(item.generation, []).append(item.mid)
        for generation, mids in by_connection.items():
            self.subscriber.ack(generation, mids)

    def _store(self, batch: list[_Item]) -> None:
        """Store a batch, then acknowledge it. The database away: keep the batch and try again
        (never acknowledged, so never lost). Something in the batch the database refuses: store
        its messages one at a time, setting aside the one that fails."""
        delay = 0.5
        uncounted = ingestion.Outcome()  # what was not counted in a storing transaction
        while True:
            try:
                messages = [i.message for i in batch]
                outcome = ingestion.ingest(self.db, self.settings, messages, count_as="mqtt")
                break
            except (OperationalError, InterfaceError):
                log.exception("storing %d sensor messages failed; retrying in %.1f s", len(batch), delay)
                if self._stop.wait(delay) and delay > 8:
                    return  # stopping with the database away: the broker keeps these for next time
                delay = min(delay * 2, 30.0)
            except Exception:
                log.exception("a batch of %d sensor messages was refused: one by one now", len(batch))
                outcome, uncounted = self._one_by_one(batch)
                break
        dropped = self._take_dropped()
        if dropped or uncounted.dead:
            try:
                record_counts(self.db, "mqtt", uncounted, dropped=dropped)
            except Exception:  # counting must not stop storing
                log.exception("could not count ingestion outcomes")
        for key in ("stored", "repeated", "dead"):
            self.totals[key] += getattr(outcome, key)
        self._acknowledge(batch)

    def _one_by_one(self, batch: list[_Item]) -> tuple[ingestion.Outcome, ingestion.Outcome]:
        """What the messages stored one at a time did, and what of it is not counted yet (those
        set aside)."""
        total, uncounted = ingestion.Outcome(), ingestion.Outcome()
        for item in batch:
            try:
                outcome = ingestion.ingest(self.db, self.settings, [item.message], count_as="mqtt")
            except Exception as exc:
                try:
                    ingestion.set_aside(self.db, item.message, "unstorable", str(exc).splitlines()[0])
                    outcome = ingestion.Outcome(dead=1, reasons={"unstorable": 1})
                    uncounted.dead += 1
                except Exception:
                    log.exception("message from %s could be neither stored nor set aside: dropped",
                                  item.message.device_id)
                    with self._lock:
                        self._dropped_since_flush += 1
                    continue
            total.stored += outcome.stored
            total.repeated += outcome.repeated
            total.dead += outcome.dead
            for reason, n in outcome.reasons.items():
                total.reasons[reason] = total.reasons.get(reason, 0) + n
        return total, uncounted

    def _take_dropped(self) -> int:
        with self._lock:
            dropped, self._dropped_since_flush = self._dropped_since_flush, 0
        self.totals["dropped"] += dropped
        return dropped

    # ---------------------------------------------------------------- life
    def start(self) -> None:
        self._writer.start()
        self.subscriber.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._writer.join(timeout)
        self.subscriber.stop()


def publish(url: str, items: Iterable[tuple[str, dict[str, Any]]], *, qos: int = 1,
            client_id: str = "parvis-simulate", pace: float = 0.0,
            ssl_context: ssl.SSLContext | None = None) -> int:
    """Publish (topic, measures) pairs; returns how many were published (each acknowledged by
    the broker at QoS 1). ``pace``: seconds to wait between messages. ``mqtts://``: TLS with
    ``ssl_context`` (default: the system's CAs)."""
    address = broker(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if address.tls:
        client.tls_set_context(ssl_context or ssl.create_default_context())
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    client.connect(address.host, address.port, keepalive=30)
    client.loop_start()
    sent = 0
    try:
        pending = []
        for topic, measures in items:
            pending.append(client.publish(topic, orjson.dumps(measures), qos=qos))
            sent += 1
            if pace:
                time.sleep(pace)
            if len(pending) >= 200:
                for info in pending:
                    info.wait_for_publish(timeout=30)
                pending.clear()
        for info in pending:
            info.wait_for_publish(timeout=30)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent
