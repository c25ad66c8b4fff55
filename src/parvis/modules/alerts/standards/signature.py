"""Enveloped XML signatures (XML-DSig) on CAP documents, with the city's key and certificate.

CAP 1.2 lets an ``alert`` end with any number of elements of the XML-DSig namespace
(``xs:any namespace="http://www.w3.org/2000/09/xmldsig#" processContents="lax"``), so a signed
document still validates against the CAP XSD. The signature covers the whole document
(reference URI ""), uses RSA-SHA256 with SHA-256 digests and exclusive canonicalisation (the
most widely implemented), and carries the certificate in its KeyInfo.
"""

from __future__ import annotations

from lxml import etree
from signxml import SignatureConfiguration, SignatureMethod, XMLSigner, XMLVerifier
from signxml.exceptions import SignXMLException

from parvis.kernel.errors import N_, ValidationFailed
from parvis.modules.alerts.standards.xmlsafe import DEFAULT_MAX_BYTES, parse_xml

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
EXCLUSIVE_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ACCEPTED_METHODS = frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384,
                               SignatureMethod.RSA_SHA512, SignatureMethod.ECDSA_SHA256,
                               SignatureMethod.ECDSA_SHA384, SignatureMethod.ECDSA_SHA512})


class InvalidSignature(ValidationFailed):
    type_slug = "invalid-signature"
    title = N_("The XML signature is not valid.")


class MissingSignature(InvalidSignature):
    type_slug = "missing-signature"
    title = N_("The document is not signed.")


def _text(pem: bytes | str) -> str:
    return pem.decode("ascii") if isinstance(pem, bytes) else pem


def _drop_indentation(root: etree._Element) -> None:
    """Removes whitespace-only text between elements (CAP has no mixed content), so that a
    verifier that re-indents or drops blank text still computes the same digest."""
    for element in root.iter():
        if len(element) and element.text is not None and not element.text.strip():
            element.text = None
        if element is not root and element.tail is not None and not element.tail.strip():
            element.tail = None


def sign(xml: bytes, key_pem: bytes | str, cert_pem: bytes | str) -> bytes:
    """The document, without its indentation, with an enveloped RSA-SHA256 signature appended to
    its root element."""
    root = parse_xml(xml, max(len(xml), DEFAULT_MAX_BYTES))
    _drop_indentation(root)
    signer = XMLSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256",
                       c14n_algorithm=EXCLUSIVE_C14N)
    signed = signer.sign(root, key=_text(key_pem).encode("ascii"), cert=_text(cert_pem))
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def is_signed(xml: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> bool:
    """Whether the document's root element carries an XML signature."""
    root = parse_xml(xml, max_bytes)
    return root.find(f"{{{DSIG_NS}}}Signature") is not None


def verify(xml: bytes, cert_pem: bytes | str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The signed content (the document without its signature) when the enveloped signature on the
    root element is valid for ``cert_pem``; a translated error otherwise.

    Use what this returns, not the input: only the returned bytes are covered by the signature.
    """
    root = parse_xml(xml, max_bytes)
    if root.find(f"{{{DSIG_NS}}}Signature") is None:
        raise MissingSignature()
    config = SignatureConfiguration(location="./", expect_references=1, signature_methods=_ACCEPTED_METHODS)
    try:
        result = XMLVerifier().verify(root, x509_cert=_text(cert_pem), expect_config=config)
    except (SignXMLException, ValueError) as exc:
        raise InvalidSignature(errors=[{"code": "signature", "message": str(exc)}]) from exc
    signed = result.signed_xml  # type: ignore[union-attr]
    if signed is None or signed.tag != root.tag:  # the reference must cover the whole document
        raise InvalidSignature()
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
