"""Discovery, services and service definitions, in XML and JSON, as the spec shows them."""

from __future__ import annotations

import pytest
from open311_support import children, open311_city_fixture, parse_xml, validate_fixture  # noqa: F401 (fixtures)


def test_discovery_in_both_formats(client, open311_city):
    doc = client.get("/open311/v2/discovery.json").json()
    assert list(doc) == ["changeset", "contact", "key_service", "endpoints"]
    endpoint = doc["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://127.0.0.1:8000/open311/v2"
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = parse_xml(client.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    assert children(root) == ["changeset", "contact", "key_service", "endpoints"]
    node = root.find("endpoints/endpoint")
    assert children(node) == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in node.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_json_follows_the_official_schema(client, open311_city, validate):
    response = client.get("/open311/v2/services.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    services = response.json()
    validate(services, "services.json")
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code) == {"POT", "ABUSE", "LIGHT"}
    assert by_code["POT"] == {"service_code": "POT", "service_name": "Pothole",
                              "description": "Holes in the road", "metadata": True, "type": "realtime",
                              "keywords": "Ổ gà", "group": "Roads"}
    assert by_code["LIGHT"]["metadata"] is False


def test_services_xml_structure(client, open311_city):
    root = parse_xml(client.get("/open311/v2/services.xml"))
    assert root.tag == "services"
    services = root.findall("service")
    assert len(services) == 3
    for service in services:
        assert children(service) == ["service_code", "service_name", "description", "metadata", "type",
                                     "keywords", "group"]
    pot = next(s for s in services if s.findtext("service_code") == "POT")
    assert pot.findtext("metadata") == "true" and pot.findtext("type") == "realtime"


def test_service_definition_json_and_xml(client, open311_city, validate):
    doc = client.get("/open311/v2/services/POT.json").json()
    validate(doc, "service-definition.json")
    assert doc["service_code"] == "POT"
    assert [a["code"] for a in doc["attributes"]] == ["depth", "lane", "hazards"]
    depth, lane, hazards = doc["attributes"]
    assert depth["variable"] is True and depth["required"] is True and depth["datatype"] == "number"
    assert lane["values"] == [{"key": "left", "name": "Left"}, {"key": "right", "name": "Right"}]
    assert hazards["datatype"] == "multivaluelist"
    root = parse_xml(client.get("/open311/v2/services/pot.xml"))  # codes are case-insensitive
    assert root.tag == "service_definition"
    assert children(root) == ["service_code", "attributes"]
    attribute = root.findall("attributes/attribute")[1]
    assert children(attribute) == ["variable", "code", "datatype", "required", "datatype_description",
                                   "order", "description", "values"]
    assert [children(v) for v in attribute.findall("values/value")] == [["key", "name"]] * 2
    assert attribute.findtext("values/value/key") == "left"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_unknown_service_code_is_a_404_error_list(client, open311_city, fmt):
    response = client.get(f"/open311/v2/services/NOPE.{fmt}", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    if fmt == "json":
        assert response.json() == [{"code": 404, "description": "Unknown service_code: NOPE."}]
    else:
        root = parse_xml(response)
        assert root.tag == "errors" and children(root) == ["error"]
        assert children(root[0]) == ["code", "description"] and root.findtext("error/code") == "404"


def test_jurisdiction_is_optional_and_checked_when_given(client, open311_city):
    assert client.get("/open311/v2/services.json?jurisdiction_id=127.0.0.1").status_code == 200
    response = client.get("/open311/v2/services.json?jurisdiction_id=other.city.gov")
    assert response.status_code == 404
    assert response.json()[0]["code"] == 404


def test_anything_else_under_open311_answers_in_the_spec_error_format(client, open311_city):
    response = client.get("/open311/v2/nothing.json")
    assert response.status_code == 404 and response.json()[0]["code"] == 404
    response = client.get("/open311/v2/services.csv")
    assert response.status_code == 404 and parse_xml(response).tag == "errors"
    response = client.delete("/open311/v2/services.xml")
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    assert parse_xml(response).findtext("error/code") == "405"
