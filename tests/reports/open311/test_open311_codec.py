"""The Open311 codec alone: W3C datetimes, attribute fields, XML that stays well-formed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from parvis.modules.reports.standards import open311


def test_datetimes_carry_the_city_offset_and_no_fraction():
    value = datetime(2026, 11, 25, 2, 30, 0, 123456, tzinfo=UTC)
    assert open311.w3c(value, "Asia/Ho_Chi_Minh") == "2026-11-25T09:30:00+07:00"
    assert open311.w3c(None, "Asia/Ho_Chi_Minh") is None


@pytest.mark.parametrize("text", ["2026-11-25T09:30:00+07:00", "2026-11-25T02:30:00Z",
                                  "2026-11-25T09:30:00 07:00",  # '+' sent unencoded in a query
                                  "2026-11-25T09:30:00"])  # no offset: the city's time
def test_w3c_datetimes_are_read_in_every_spelling(text):
    assert open311.parse_w3c(text, "Asia/Ho_Chi_Minh") == datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


def test_attribute_fields_in_both_client_spellings():
    fields = [("attribute[depth]", "3"), ("attribute[hazards][]", "water"), ("attribute[hazards][]", "night"),
              ("attribute[lane]", "left"), ("api_key", "k"), ("attribute[]", "x")]
    assert open311.attribute_answers(fields) == {"depth": "3", "hazards": ["water", "night"], "lane": "left"}


def test_xml_drops_characters_xml_cannot_carry_and_escapes_markup():
    body = open311.service_requests([{"service_request_id": "1", "description": "a\x01b <c> & d"}], "xml")
    root = ET.fromstring(body)
    assert root.find("request/description").text == "ab <c> & d"
    assert [e.tag for e in root.find("request")] == list(open311.REQUEST_FIELDS)


def test_json_keeps_the_spec_order_and_nulls():
    doc = json.loads(open311.errors([(404, "Not here")], "json"))
    assert doc == [{"code": 404, "description": "Not here"}]
    item = json.loads(open311.tokens([{"token": "t", "service_request_id": "9"}], "json"))[0]
    assert list(item) == ["service_request_id", "token"]
