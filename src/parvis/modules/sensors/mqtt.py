"""The MQTT side of the hub: a listener that subscribes to the broker and stores what devices
publish, and a publisher for ``parvis simulate``.

The listener speaks MQTT 5 with a persistent session (fixed client id, no clean start, a session
that outlives a restart) and acknowledges a QoS 1 message only once its batch is committed: a
listener killed at any moment loses nothing, the broker delivers again what was not
acknowledged, and the store ignores the repeats. Between the
network thread and the writer sits a bounded queue; when the database cannot keep up the queue
fills, the network thread waits (the broker holds the messages), and past
``PARVIS_SENSORS_QUEUE_WAIT_SECONDS`` a message is dropped and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import InterfaceError, OperationalError

from parvis.kernel.db import Database, utcnow
from parvis.modules.sensors import ingest as ingestion
from parvis.modules.sensors.counts import record_counts
from parvis.settings import Settings

log = logging.getLogger(__name__)
SESSION_EXPIRY = 7 * 24 * 3600  # seconds the broker keeps a stopped listener's messages
RECEIVE_MAXIMUM = 5000


def broker_address(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` (or ``host:port``) -> (host, port)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    return parts.hostname or "127.0.0.1", parts.port or 1883


@dataclass
class _Item:
    message: ingestion.Message
    mid: int
    qos: int


class Listener:
    """Subscribe, queue, store in batches, acknowledge after commit."""

    def __init__(self, db: Database, settings: Settings, *, client_id: str | None = None,
                 topic: str | None = None, batch_max: int = 2000, batch_wait: float = 0.2) -> None:
        self.db, self.settings = db, settings
        self.topic = topic or settings.sensors_mqtt_topic
        self.batch_max, self.batch_wait = batch_max, batch_wait
        self.queue: queue.Queue[_Item] = queue.Queue(maxsize=settings.sensors_queue_max)
        self.totals = {"received": 0, "stored": 0, "repeated": 0, "dead": 0, "dropped": 0}
        self._dropped_since_flush = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="sensors-writer", daemon=True)
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=client_id or settings.sensors_mqtt_client_id)
        self.client.manual_ack_set(True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # ---------------------------------------------------------------- network thread
    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("MQTT broker refused the connection: %s", reason)
            return
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any,
                      _props: Any) -> None:
        if all(not getattr(r, "is_failure", False) for r in reasons):
            self.connected.set()  # subscribed: from here on the broker keeps what arrives for us
        else:
            log.error("MQTT broker refused the subscription to %s: %s", self.topic, reasons)

    def _on_message(self, client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.totals["received"] += 1
        names = ingestion.parse_topic(msg.topic)
        # a topic the convention does not allow (odd characters in the key or the device id) is
        # set aside like any unusable message: ``ingest`` finds no such device
        api_key, device_id = names or ("?", msg.topic[:128])
        item = _Item(ingestion.Message(api_key=api_key, device_id=device_id, body=msg.payload,
                                       received_at=utcnow(), channel="mqtt"), msg.mid, msg.qos)
        try:
            self.queue.put(item, timeout=self.settings.sensors_queue_wait_seconds)
        except queue.Full:
            with self._lock:
                self._dropped_since_flush += 1
            log.warning("sensor queue full: message from %s dropped", device_id)
            client.ack(msg.mid, msg.qos)

    # ---------------------------------------------------------------- writer thread
    def _take_batch(self) -> list[_Item]:
        """What is waiting, up to ``batch_max``, without waiting for more: the broker sends only a
        few unacknowledged messages at a time (Mosquitto: 20), so waiting to fill a batch would
        only slow the stream down."""
        try:
            batch = [self.queue.get(timeout=self.batch_wait)]
        except queue.Empty:
            return []
        while len(batch) < self.batch_max:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        while not (self._stop.is_set() and self.queue.empty()):
            batch = self._take_batch()
            if not batch and not self._dropped_since_flush:
                continue
            self._store(batch)

    def _store(self, batch: list[_Item]) -> None:
        """Store a batch, then acknowledge it. The database away: keep the batch and try again
        (never acknowledged, so never lost). Something in the batch the database refuses: store
        its messages one at a time, setting aside the one that fails."""
        delay = 0.5
        while True:
            try:
                outcome = ingestion.ingest(self.db, self.settings, [i.message for i in batch])
                break
            except (OperationalError, InterfaceError):
                log.exception("storing %d sensor messages failed; retrying in %.1f s", len(batch), delay)
                if self._stop.wait(delay) and delay > 8:
                    return  # stopping with the database away: the broker keeps these for next time
                delay = min(delay * 2, 30.0)
            except Exception:
                log.exception("a batch of %d sensor messages was refused: one by one now", len(batch))
                outcome = self._one_by_one(batch)
                break
        dropped = self._take_dropped()
        try:
            record_counts(self.db, "mqtt", outcome, dropped=dropped)
        except Exception:  # counting must not stop storing
            log.exception("could not count ingestion outcomes")
        for key in ("stored", "repeated", "dead"):
            self.totals[key] += getattr(outcome, key)
        for item in batch:
            self.client.ack(item.mid, item.qos)

    def _one_by_one(self, batch: list[_Item]) -> ingestion.Outcome:
        total = ingestion.Outcome()
        for item in batch:
            try:
                outcome = ingestion.ingest(self.db, self.settings, [item.message])
            except Exception as exc:
                try:
                    ingestion.set_aside(self.db, item.message, "unstorable", str(exc).splitlines()[0])
                    outcome = ingestion.Outcome(dead=1, reasons={"unstorable": 1})
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
        return total

    def _take_dropped(self) -> int:
        with self._lock:
            dropped, self._dropped_since_flush = self._dropped_since_flush, 0
        self.totals["dropped"] += dropped
        return dropped

    # ---------------------------------------------------------------- life
    def start(self) -> None:
        host, port = broker_address(self.settings.sensors_mqtt_url)
        self._writer.start()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY
        # How many unacknowledged messages the broker may send at once: our acknowledgements wait
        # for a commit, so a small window (MQTT 3's brokers use ~20) would cap the stream at
        # window / commit time.
        properties.ReceiveMaximum = min(RECEIVE_MAXIMUM, self.settings.sensors_queue_max)
        self.client.connect_async(host, port, keepalive=30, clean_start=False, properties=properties)
        self.client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._writer.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()


def publish(url: str, items: Iterable[tuple[str, dict[str, Any]]], *, qos: int = 1,
            client_id: str = "parvis-simulate", pace: float = 0.0) -> int:
    """Publish (topic, measures) pairs; returns how many were published (each acknowledged by
    the broker at QoS 1). ``pace``: seconds to wait between messages."""
    host, port = broker_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect(host, port, keepalive=30)
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
