"""A city that configures a signing key serves every CAP document signed (XML-DSig, enveloped)
at its usual URL: the document verifies with the city's certificate and is still valid CAP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alert_samples import key_and_certificate, xsd_valid
from alerts_factories import sent_alert
from fastapi.testclient import TestClient
from lxml import etree
from signxml import XMLVerifier
from sqlalchemy import select

from parvis.app import create_app
from parvis.modules.alerts.models import Alert
from parvis.modules.alerts.standards import cap, signature

PROBLEM = "https://parvis.city/problems/"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def city_key() -> tuple[bytes, bytes]:
    return key_and_certificate("alerts.song-xanh.example")


def _client(settings, db, **signing: str) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update=signing), database=db)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def key_files(tmp_path, city_key) -> dict[str, str]:
    key_pem, cert_pem = city_key
    (tmp_path / "city.key").write_bytes(key_pem)
    (tmp_path / "city.crt").write_bytes(cert_pem)
    return {"alerts_signing_key": str(tmp_path / "city.key"),
            "alerts_signing_certificate": str(tmp_path / "city.crt")}


@pytest.fixture
def signing_client(settings, db, key_files) -> Iterator[TestClient]:
    yield from _client(settings, db, **key_files)


def _identifier(db, alert_id: int) -> str:
    with db.read() as session:
        return session.scalar(select(Alert.identifier).where(Alert.id == alert_id))


def test_the_served_document_is_signed_verifies_and_is_still_valid_cap(signing_client, client, db, settings,
                                                                        city, city_key):
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    path = f"/cap/alerts/{_identifier(db, alert_id)}.xml"
    response = signing_client.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == cap.MEDIA_TYPE
    document = response.content
    assert signature.is_signed(document) and xsd_valid(document)
    _key, cert_pem = city_key
    verified = signature.verify(document, cert_pem)
    # An independent check with signxml itself, as a consumer would do it.
    assert XMLVerifier().verify(document, x509_cert=cert_pem.decode()).signed_xml is not None
    # The signed content is the alert the unsigned edge serves.
    assert cap.parse(verified) == cap.parse(client.get(path).content)
    assert not signature.is_signed(client.get(path).content)


def test_every_document_of_the_feed_is_signed(signing_client, db, settings, city, city_key):
    sent_alert(db, settings, city, area={"district_ids": [city.west]})
    sent_alert(db, settings, city, status="Exercise", area={"district_ids": [city.east]})
    feed = etree.fromstring(signing_client.get("/cap/alerts.atom").content)
    links = [e.find(f"{ATOM}link").get("href") for e in feed.iter(f"{ATOM}entry")]
    assert len(links) == 2
    for link in links:
        document = signing_client.get(link.removeprefix(settings.base_url)).content
        assert xsd_valid(document) and signature.verify(document, city_key[1])


def test_another_certificate_or_a_changed_word_does_not_verify(signing_client, db, settings, city, city_key):
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    document = signing_client.get(f"/cap/alerts/{_identifier(db, alert_id)}.xml").content
    _other_key, other_cert = key_and_certificate("impostor.example")
    with pytest.raises(signature.InvalidSignature):
        signature.verify(document, other_cert)
    tampered = document.replace(b"Crue attendue ce soir", b"Aucune crue ce soir")
    assert tampered != document
    with pytest.raises(signature.InvalidSignature):
        signature.verify(tampered, city_key[1])


def test_the_key_may_be_given_as_pem_text(settings, db, city, city_key):
    key_pem, cert_pem = city_key
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    for client in _client(settings, db, alerts_signing_key=key_pem.decode(),
                          alerts_signing_certificate=cert_pem.decode()):
        document = client.get(f"/cap/alerts/{_identifier(db, alert_id)}.xml").content
        assert xsd_valid(document) and signature.verify(document, cert_pem)


def test_an_unreadable_key_is_a_clear_problem_not_an_unsigned_document(settings, db, city, tmp_path):
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    for client in _client(settings, db, alerts_signing_key=str(tmp_path / "missing.key"),
                          alerts_signing_certificate=str(tmp_path / "missing.crt")):
        response = client.get(f"/cap/alerts/{_identifier(db, alert_id)}.xml",
                              headers={"Accept": "application/json"})
        assert response.status_code == 503
        assert response.json()["type"] == PROBLEM + "cap-signing-unavailable"
        assert "Traceback" not in response.text
