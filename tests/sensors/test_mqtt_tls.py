"""The listener over TLS (``mqtts://``): a throwaway Mosquitto on a free loopback port, with a
certificate authority made for the test, that asks the listener for a client certificate; and
the broker URLs and TLS settings read or refused."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from parvis.modules import sensors
from parvis.modules.sensors.models import Observation
from parvis.modules.sensors.mqtt import Broker, Listener, broker, publish, tls_context


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[str, str]:
    path.with_suffix(".key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path.with_suffix(".pem")), str(path.with_suffix(".key"))


def _certificate(name: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool = False,
                 hosts: tuple[str, ...] = ()) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), *(x509.IPAddress(ipaddress.ip_address(h)) for h in hosts)]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class _Pki:
    def __init__(self, folder: Path) -> None:
        ca_key = _key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Parvis test CA")])
        self.ca, _ = _write(folder / "ca", ca_key, _certificate("Parvis test CA", ca_key, ca_name, ca_key, ca=True))
        server_key, client_key = _key(), _key()
        self.server, self.server_key = _write(folder / "server", server_key, _certificate(
            "localhost", server_key, ca_name, ca_key, hosts=("127.0.0.1",)))
        self.client, self.client_key = _write(folder / "client", client_key, _certificate(
            "parvis-sensors", client_key, ca_name, ca_key))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory):
    """(port, certificates) of a Mosquitto speaking only TLS, client certificates required."""
    if shutil.which("mosquitto") is None:
        pytest.fail("no mosquitto binary to run a TLS broker (scripts/test installs it)")
    folder = tmp_path_factory.mktemp("mqtt-tls")
    pki, port = _Pki(folder), _free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"user root\npersistence false\nlog_dest stderr\nallow_anonymous true\n"
                    f"listener {port} 127.0.0.1\ncafile {pki.ca}\ncertfile {pki.server}\n"
                    f"keyfile {pki.server_key}\nrequire_certificate true\n")
    process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mosquitto did not start: {process.stderr.read().decode() if process.stderr else ''}")
                time.sleep(0.05)
        yield port, pki
    finally:
        process.terminate()
        process.wait(10)


def _tls_settings(settings, port: int, pki: _Pki, **update):
    return settings.model_copy(update={
        "sensors_mqtt_url": f"mqtts://localhost:{port}", "sensors_mqtt_ca_file": pki.ca,
        "sensors_mqtt_cert_file": pki.client, "sensors_mqtt_key_file": pki.client_key, **update})


def _count(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Observation)) or 0


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_tls_broker_feeds_the_hub(db, settings, tls_broker, protocol):
    port, pki = tls_broker
    key = f"t{uuid.uuid4().hex[:10]}"
    for i in range(10):
        sensors.provision_device(db, api_key=key, device_id=f"d{i}",
                                 entity_id=f"urn:ngsi-ld:TrafficFlowObserved:{key}-{i}",
                                 entity_type="TrafficFlowObserved", attributes={"f": "intensity"})
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = [(f"/{key}/d{i}/attrs", {"f": m, "t": (start + timedelta(minutes=m)).isoformat()})
             for m in range(30) for i in range(10)]  # 300 messages
    tls = _tls_settings(settings, port, pki, sensors_mqtt_protocol=protocol)
    listener = Listener(db, tls, client_id=f"parvis-test-{key}", topic=f"/{key}/+/attrs")
    listener.start()
    try:
        assert listener.connected.wait(10), "the listener did not connect over TLS"
        assert publish(tls.sensors_mqtt_url, items, client_id=f"pub-{key}", ssl_context=tls_context(tls)) == 300
        deadline = time.monotonic() + 30
        while _count(db) < len(items) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listener.stop()
    assert _count(db) == len(items)
    assert listener.totals["stored"] == len(items)


def test_a_tls_broker_whose_certificate_is_not_trusted_is_never_used(db, settings, tls_broker, caplog):
    port, pki = tls_broker
    untrusted = _tls_settings(settings, port, pki, sensors_mqtt_ca_file="")  # the system's CAs only
    listener = Listener(db, untrusted, client_id=f"parvis-test-{uuid.uuid4().hex[:8]}", topic="/x/+/attrs")
    listener.start()
    try:
        assert not listener.connected.wait(1.5)
    finally:
        listener.stop()
    assert any("CERTIFICATE_VERIFY_FAILED" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(("url", "expected"), [
    ("mqtt://127.0.0.1:1883", Broker("127.0.0.1", 1883, False)),
    ("broker.example", Broker("broker.example", 1883, False)),
    ("mqtts://broker.example", Broker("broker.example", 8883, True)),
    ("mqtts://hub:s%40cret@broker.example:18883", Broker("broker.example", 18883, True, "hub", "s@cret")),
    ("ssl://broker.example", Broker("broker.example", 8883, True)),
])
def test_broker_urls_are_read_with_their_tls_and_default_port(url, expected):
    assert broker(url) == expected


def test_a_websocket_broker_url_is_refused_plainly(db, settings):
    with pytest.raises(ValueError, match="does not speak ws://"):
        Listener(db, settings.model_copy(update={"sensors_mqtt_url": "ws://broker.example/mqtt"}))


def test_tls_settings_make_a_verifying_context_and_name_the_setting_when_a_file_is_unusable(settings, tmp_path):
    context = tls_context(settings)  # no files: the system's CAs, names checked
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    missing = str(tmp_path / "nowhere.pem")
    with pytest.raises(ValueError, match="PARVIS_SENSORS_MQTT_CA_FILE"):
        tls_context(settings.model_copy(update={"sensors_mqtt_ca_file": missing}))
    with pytest.raises(ValueError, match="PARVIS_SENSORS_MQTT_CERT_FILE"):
        tls_context(settings.model_copy(update={"sensors_mqtt_cert_file": missing}))
