"""Enveloped XML signatures with the city's key: still valid CAP, verified, tampering caught."""

from __future__ import annotations

import capvalidator
import pytest
from alert_samples import FLOOD_WARNING, key_and_certificate, xsd_valid
from lxml import etree
from signxml import XMLSigner

from parvis.modules.alerts.standards import cap, signature

DS = "{http://www.w3.org/2000/09/xmldsig#}"


@pytest.fixture(scope="module")
def city_key() -> tuple[bytes, bytes]:
    return key_and_certificate()


@pytest.fixture(scope="module")
def signed(city_key) -> bytes:
    key_pem, cert_pem = city_key
    return signature.sign(cap.to_xml(cap.parse(FLOOD_WARNING)), key_pem, cert_pem)


def test_a_signed_alert_is_still_valid_cap_and_still_reads(signed):
    assert xsd_valid(signed)
    root = etree.fromstring(signed)
    assert root[-1].tag == DS + "Signature"  # the XSD allows it only after the last info
    assert cap.parse(signed) == cap.parse(FLOOD_WARNING)
    assert signature.is_signed(signed) and not signature.is_signed(FLOOD_WARNING)


def test_the_signature_is_rsa_sha256_over_the_whole_document_with_the_certificate(signed, city_key):
    root = etree.fromstring(signed)
    method = root.find(f"{DS}Signature/{DS}SignedInfo/{DS}SignatureMethod").get("Algorithm")
    assert method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert root.find(f"{DS}Signature/{DS}SignedInfo/{DS}Reference").get("URI") == ""
    cert = root.findtext(f"{DS}Signature/{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    assert "".join(cert.split()) in "".join(city_key[1].decode().splitlines()[1:-1])


def test_verification_returns_the_signed_alert(signed, city_key):
    content = signature.verify(signed, city_key[1])
    assert etree.fromstring(content).find(DS + "Signature") is None
    assert cap.parse(content) == cap.parse(FLOOD_WARNING)
    assert signature.verify(signed, city_key[1].decode()) == content  # PEM as text works too


def test_capvalidator_accepts_the_signature_too(signed):
    result = capvalidator.validate_cap_message(signed, strict=True)
    assert result.passed, result.message


def test_a_changed_word_breaks_the_signature(signed, city_key):
    tampered = signed.replace("Cảnh báo lũ".encode(), "Không có lũ".encode())
    assert tampered != signed
    with pytest.raises(signature.InvalidSignature) as caught:
        signature.verify(tampered, city_key[1])
    assert caught.value.status == 422 and caught.value.type_slug == "invalid-signature"


def test_a_moved_area_breaks_the_signature(signed, city_key):
    tampered = signed.replace(b"<circle>10.7769,106.7009 1.5</circle>", b"<circle>10.7769,106.7009 15</circle>", 1)
    assert tampered != signed
    with pytest.raises(signature.InvalidSignature):
        signature.verify(tampered, city_key[1])


def test_another_key_is_not_the_citys(signed):
    _, stranger = key_and_certificate("someone.else.example")
    with pytest.raises(signature.InvalidSignature):
        signature.verify(signed, stranger)


def test_an_unsigned_document_is_reported_as_such(city_key):
    with pytest.raises(signature.MissingSignature) as caught:
        signature.verify(FLOOD_WARNING, city_key[1])
    assert isinstance(caught.value, signature.InvalidSignature)


def test_a_signature_moved_inside_the_alert_is_not_accepted(signed, city_key):
    """Only a signature on the alert element itself signs the alert."""
    root = etree.fromstring(signed)
    sig = root[-1]
    root.find(f"{{{cap.NS}}}info").append(sig)
    with pytest.raises(signature.InvalidSignature):
        signature.verify(etree.tostring(root), city_key[1])


def test_a_signature_over_one_element_only_does_not_sign_the_alert(city_key):
    """A valid signature whose reference points at a single element (#part) proves nothing about
    the rest of the alert, which an attacker could then change at will."""
    key_pem, cert_pem = city_key
    doc = FLOOD_WARNING.replace(b"<scope>Public</scope>", b'<scope>Public</scope><note Id="part">ok</note>')
    partial = XMLSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256").sign(
        etree.fromstring(doc), key=key_pem, cert=cert_pem.decode(), reference_uri="#part")
    xml = etree.tostring(partial)
    assert etree.fromstring(xml)[-1].tag == DS + "Signature"
    with pytest.raises(signature.InvalidSignature):
        signature.verify(xml, cert_pem)
