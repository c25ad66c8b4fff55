"""Content negotiation and JSON-LD contexts: terms stored as full IRIs, compacted on output."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conftest import BASE, CORE, SDM, create, link
from parvis.modules.sensors.models import Entity

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
TFO = "https://smartdatamodels.org/dataModel.Transportation/TrafficFlowObserved"
INTENSITY = "https://smartdatamodels.org/dataModel.Transportation/intensity"
FLOW = {"id": "urn:ngsi-ld:TrafficFlowObserved:s1", "type": "TrafficFlowObserved",
        "intensity": {"type": "Property", "value": 320}, "speedBand": {"type": "Property", "value": "B"}}


def test_terms_are_stored_expanded_and_compacted_with_the_readers_context(client, db, w, keys):
    create(client, w, FLOW)
    with db.read() as session:
        row = session.scalar(select(Entity))
        assert row.type == TFO
        assert set(row.attrs) == {INTENSITY, "https://uri.etsi.org/ngsi-ld/default-context/speedBand"}
    core = client.get(f"{BASE}/entities/{FLOW['id']}", headers={"X-Api-Key": keys["read"]}).json()
    assert core["type"] == TFO and core[INTENSITY]["value"] == 320 and core["speedBand"]["value"] == "B"
    same = client.get(f"{BASE}/entities/{FLOW['id']}", headers={"X-Api-Key": keys["read"],
                                                                 "Link": link(SDM)}).json()
    assert same["type"] == "TrafficFlowObserved" and same["intensity"]["value"] == 320
    by_iri = client.get(f"{BASE}/entities?type=TrafficFlowObserved", headers={"Link": link(SDM)})
    assert [e["id"] for e in by_iri.json()] == [FLOW["id"]]
    # Without the Smart Data Models context, the term is another IRI (the default vocabulary's).
    default = client.get(f"{BASE}/entities?type=TrafficFlowObserved", headers={"X-Api-Key": keys["read"]})
    assert default.status_code == 200 and default.json() == []
    assert client.get(f"{BASE}/entities?type={TFO}").json()[0]["type"] == TFO


def test_a_default_context_term_the_readers_context_names_otherwise_comes_back_as_a_compact_iri(client, w, r):
    """JSON-LD compaction (ETSI 001_05_02): the reader's ``speedBand`` is another IRI, so the
    stored default-context one cannot be written ``speedBand``; ``ngsi-ld:`` makes it short."""
    create(client, w, FLOW)
    inline = {"speedBand": "https://example.org/mine#speedBand"}
    read = client.get(f"{BASE}/entities/{FLOW['id']}", headers={**r, "Accept": "application/ld+json"},
                      params={"options": "keyValues"})
    assert read.json()["speedBand"] == "B"  # a context not naming it: the vocabulary's suffix
    key = {"X-Api-Key": r["X-Api-Key"]}
    answer = client.post(f"{BASE}/entityOperations/query", headers={**key, "Content-Type": "application/ld+json"},
                         json={"type": "Query", "entities": [{"type": TFO, "id": FLOW["id"]}],
                               "@context": [inline, CORE]})
    assert answer.status_code == 200, answer.text
    entity = answer.json()[0]
    assert entity["ngsi-ld:default-context/speedBand"]["value"] == "B" and "speedBand" not in entity
    # and the compact IRI names the attribute back
    again = client.get(f"{BASE}/entities/{FLOW['id']}", headers=r,
                       params={"attrs": "ngsi-ld:default-context/speedBand"})
    assert list(again.json()) == ["id", "type", "speedBand"]


def test_ld_json_body_carries_its_context(client, keys):
    headers = {"X-Api-Key": keys["write"], "Content-Type": "application/ld+json"}
    body = {**FLOW, "@context": [SDM, CORE]}
    import json

    assert client.post(f"{BASE}/entities", content=json.dumps(body), headers=headers).status_code == 201
    got = client.get(f"{BASE}/entities/{FLOW['id']}",
                     headers={"X-Api-Key": keys["read"], "Accept": "application/ld+json", "Link": link(SDM)})
    assert got.headers["content-type"].startswith("application/ld+json")
    assert got.json()["@context"] == SDM and "link" not in got.headers
    inline = {**FLOW, "id": "urn:x:2", "@context": {"intensity": "https://example.org/flow"}}
    assert client.post(f"{BASE}/entities", content=json.dumps(inline), headers=headers).status_code == 201
    raw = client.get(f"{BASE}/entities/urn:x:2", headers={"X-Api-Key": keys["read"]}).json()
    assert raw["https://example.org/flow"]["value"] == 320


def test_ld_json_without_context_is_bad_request(client, keys):
    response = client.post(f"{BASE}/entities", content=b'{"id": "urn:x:1", "type": "T"}',
                           headers={"X-Api-Key": keys["write"], "Content-Type": "application/ld+json"})
    assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData"


def test_json_with_context_in_body_is_bad_request(client, keys):
    response = client.post(f"{BASE}/entities", json={**FLOW, "@context": SDM},
                           headers={"X-Api-Key": keys["write"]})
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_other_content_types_are_415(client, keys, content_type):
    response = client.post(f"{BASE}/entities", content=b"{}",
                           headers={"X-Api-Key": keys["write"], "Content-Type": content_type})
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/json")


def test_accept_is_negotiated(client, w, r):
    create(client, w, FLOW)
    url = f"{BASE}/entities/{FLOW['id']}"
    assert client.get(url, headers={**r, "Accept": "application/xml"}).status_code == 406
    assert client.get(url, headers={**r, "Accept": "application/xml"}).json()["type"] == ERR + "NotAcceptable"
    assert client.get(f"{BASE}/entities?type=T", headers={**r, "Accept": "text/html"}).status_code == 406
    assert client.get(url, headers={**r, "Accept": "*/*"}).headers["content-type"].startswith("application/json")
    ld = client.get(url, headers={**r, "Accept": "application/json;q=0.5, application/ld+json"})
    assert ld.headers["content-type"].startswith("application/ld+json")
    listing = client.get(f"{BASE}/entities?type=TrafficFlowObserved",
                         headers={**r, "Accept": "application/ld+json"}).json()
    assert listing[0]["@context"] == SDM


def test_unknown_contexts_are_never_fetched(client, r):
    response = client.get(f"{BASE}/entities?type=T",
                          headers={**r, "Link": link("https://example.org/ctx.jsonld")})
    assert response.status_code == 503
    assert response.json()["type"] == ERR + "LdContextNotAvailable"


def test_bad_link_header(client, r):
    assert client.get(f"{BASE}/entities?type=T", headers={**r, "Link": "nonsense"}).status_code == 400


def test_a_scoped_context_is_refused(client, keys):
    """CIM 009 5.5.7 (ETSI 557_01_01): a user @context holds no scoped context (a term with its own
    @context); Parvis reads contexts as flat term maps and says it cannot honour one."""
    import json

    headers = {"X-Api-Key": keys["write"], "Content-Type": "application/ld+json"}
    scoped = {"id": "urn:x:1", "type": "Vehicle", "@context": [
        {"Vehicle": {"@id": "https://example.org/Vehicle", "@context": {"speed": "https://example.org/hidden"}}}]}
    response = client.post(f"{BASE}/entities", content=json.dumps(scoped), headers=headers)
    assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData"
    assert "scoped context" in response.json()["detail"]
    assert client.get(f"{BASE}/entities/urn:x:1", headers={"X-Api-Key": keys["read"]}).status_code == 404
    plain = {**scoped, "@context": [{"Vehicle": {"@id": "https://example.org/Vehicle"}}]}
    assert client.post(f"{BASE}/entities", content=json.dumps(plain), headers=headers).status_code == 201


def test_an_attribute_cannot_embed_its_own_context(client, keys):
    """CIM 009 4.5.1, 5.5.7 (ETSI 451_01_04): terms are read with the payload's @context only."""
    import json

    headers = {"X-Api-Key": keys["write"], "Content-Type": "application/ld+json"}
    read = {"X-Api-Key": keys["read"], "Link": link(SDM)}
    embedded = {"id": "urn:x:1", "type": "T", "@context": [SDM],
                "speed": {"type": "Property", "value": 1, "@context": {"speed": "https://evil.example/speed"}}}
    response = client.post(f"{BASE}/entities", content=json.dumps(embedded), headers=headers)
    assert response.status_code == 400 and response.json()["type"] == ERR + "BadRequestData"
    assert "@context" in response.json()["detail"]
    assert client.get(f"{BASE}/entities/urn:x:1", headers=read).status_code == 404
    create(client, {"X-Api-Key": keys["write"], "Link": link(SDM)}, FLOW)
    url = f"{BASE}/entities/{FLOW['id']}/attrs"
    nested = {"intensity": {"type": "Property", "value": 2, "@context": {"intensity": "https://evil.example/i"}},
              "@context": SDM}
    assert client.patch(url, content=json.dumps(nested), headers=headers).status_code == 400
    # the payload's own @context, beside an attribute's members, is the payload's
    fragment = {"value": 321, "@context": SDM}
    assert client.patch(f"{url}/intensity", content=json.dumps(fragment), headers=headers).status_code == 204
    assert client.get(f"{BASE}/entities/{FLOW['id']}", headers=read).json()["intensity"]["value"] == 321
