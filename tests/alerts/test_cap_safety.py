"""Hostile XML never reaches the disk or the network: external entities, external DTDs,
entity bombs, DOCTYPEs, broken XML and huge uploads all end in a clear, translatable 422."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import pytest
from alert_samples import FLOOD_WARNING
from hostile_io import PipeWatch, serving
from lxml import etree

from parvis.kernel.errors import ValidationFailed
from parvis.modules.alerts.standards import atom, cap, signature, xmlsafe

CAP_BODY = FLOOD_WARNING.split(b"?>", 1)[1]  # the document without its XML declaration


@pytest.fixture
def pipe(tmp_path) -> Iterator[PipeWatch]:
    watch = PipeWatch(str(tmp_path / "passwd"))
    yield watch
    watch.stop()


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    """A web server on loopback that counts the requests it gets (and serves a DTD)."""
    with serving({"/dtd": (b'<!ENTITY leak "SECRET">', "application/xml-dtd")}) as (url, hits):
        yield url, hits


def attacks(file_url: str, web_url: str) -> dict[str, bytes]:
    """Each attack wraps a valid CAP alert, so only the attack can make it fail."""
    leak = CAP_BODY.replace(b"<scope>Public</scope>", b"<scope>Public</scope><note>&xxe;</note>")
    return {
        "file entity": f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{file_url}">]>'.encode() + leak,
        "web entity": f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{web_url}/entity">]>'.encode() + leak,
        "file parameter entity": f'<!DOCTYPE alert [<!ENTITY % p SYSTEM "{file_url}"> %p;]>'.encode() + CAP_BODY,
        "web parameter entity": f'<!DOCTYPE alert [<!ENTITY % p SYSTEM "{web_url}/p"> %p;]>'.encode() + CAP_BODY,
        "file DTD": f'<!DOCTYPE alert SYSTEM "{file_url}">'.encode() + CAP_BODY,
        "web DTD": f'<!DOCTYPE alert SYSTEM "{web_url}/dtd">'.encode() + CAP_BODY,
    }


READERS = {
    "cap": lambda data: cap.parse(data),
    "atom": lambda data: atom.parse_atom(data),
    "signature": lambda data: signature.verify(data, "unused"),
}


@pytest.mark.parametrize("reader", READERS)
def test_external_entities_and_dtds_are_refused_and_nothing_is_read(reader, pipe, web):
    web_url, hits = web
    for name, document in attacks(f"file://{pipe.path}", web_url).items():
        with pytest.raises(xmlsafe.XmlDoctypeRefused) as caught:
            READERS[reader](document)
        assert "SECRET" not in repr(caught.value.__dict__), name
    pipe.stop()
    assert pipe.opened == 0, "a file named by the document was opened"
    assert hits == [], "a URL named by the document was fetched"


def test_the_watchers_do_notice_a_read(pipe, web):
    """The detectors above can fail: an unhardened parser opens the file, a client the URL."""
    web_url, hits = web
    unsafe = etree.XMLParser(resolve_entities=True, load_dtd=True)
    with pytest.raises(etree.XMLSyntaxError):  # the pipe's content is not a DTD
        etree.fromstring(f'<!DOCTYPE a SYSTEM "file://{pipe.path}"><a/>'.encode(), unsafe)
    with urllib.request.urlopen(f"{web_url}/dtd", timeout=5) as response:
        response.read()
    pipe.stop()
    assert pipe.opened >= 1 and hits == ["/dtd"]


def test_a_billion_laughs_is_refused_quickly():
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f"<!DOCTYPE alert [{entities}]>".encode() + CAP_BODY.replace(
        b"<scope>Public</scope>", b"<scope>Public</scope><note>&lol9;</note>")
    started = time.perf_counter()
    with pytest.raises(xmlsafe.XmlDoctypeRefused):
        cap.parse(bomb)
    assert time.perf_counter() - started < 1


def test_any_doctype_is_refused_even_a_harmless_one():
    with pytest.raises(xmlsafe.XmlDoctypeRefused) as caught:
        cap.parse(b"<!DOCTYPE alert>" + CAP_BODY)
    assert caught.value.status == 422 and caught.value.type_slug == "xml-doctype-refused"
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.title == "Documents with a DOCTYPE or entity declarations are refused."


@pytest.mark.parametrize("document", [b"", b"<alert", b"<alert></alrt>", b"not xml at all",
                                      FLOOD_WARNING[:-40], b"\xff\xfe<\x00a\x00"])
def test_malformed_xml_is_refused_with_its_reason(document):
    with pytest.raises(xmlsafe.MalformedXml) as caught:
        cap.parse(document)
    assert caught.value.status == 422 and caught.value.type_slug == "malformed-xml"
    assert caught.value.detail == "The document is not well-formed XML: %(reason)s"
    assert caught.value.params["reason"]


@pytest.mark.parametrize("reader", READERS)
def test_a_50_mb_upload_is_refused_before_it_is_parsed(reader, monkeypatch):
    def no_parsing(*args, **kwargs):
        raise AssertionError("the parser was called")

    monkeypatch.setattr(xmlsafe.etree, "fromstring", no_parsing)
    huge = CAP_BODY[:-10] + b" " * (50 * 1024 * 1024) + CAP_BODY[-10:]
    started = time.perf_counter()
    with pytest.raises(xmlsafe.XmlTooLarge) as caught:
        READERS[reader](huge)
    assert time.perf_counter() - started < 0.5
    assert caught.value.params == {"size": len(huge), "limit": xmlsafe.DEFAULT_MAX_BYTES}
    assert caught.value.detail % caught.value.params == \
        f"The document is {len(huge)} bytes; at most 1000000 bytes are accepted."


def test_the_size_limit_is_a_parameter():
    with pytest.raises(xmlsafe.XmlTooLarge):
        cap.parse(FLOOD_WARNING, max_bytes=len(FLOOD_WARNING) - 1)
    assert cap.parse(FLOOD_WARNING, max_bytes=len(FLOOD_WARNING)).identifier


def test_xinclude_is_not_followed(pipe):
    include = (b'<scope>Public</scope><note xmlns:xi="http://www.w3.org/2001/XInclude">'
               b'<xi:include href="file://' + pipe.path.encode() + b'" parse="text"/></note>')
    with pytest.raises(cap.InvalidCap):  # an element inside <note> is not CAP
        cap.parse(CAP_BODY.replace(b"<scope>Public</scope>", include))
    pipe.stop()
    assert pipe.opened == 0
