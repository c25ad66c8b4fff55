"""Fixtures, constants and XML helpers of the Open311 tests.

Not a conftest.py on purpose: test modules elsewhere import ``conftest`` by name, and a second
conftest module would shadow theirs. Each test module imports the fixtures it uses from here.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

import factories
from parvis.modules.reports import configuration
from parvis.modules.reports.open311_api import router
from parvis.modules.reports.schemas import CategoryCreate

SCHEMAS = Path(__file__).resolve().parents[3] / ".." / "shared" / "standards" / "open311-georeport-v2"
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
API_KEY = "open311-test-key-0123456789"
PHONE = "+84912345678"
EMAIL = "reporter.secret@example.org"
# Inside district D1 (107.000-107.010 E, 16.000-16.010 N); the latitude is deliberately not a
# valid longitude's mirror so that a swap is visible.
LAT, LON = 16.0042, 107.0071



def parse_xml(response) -> ET.Element:
    """The XML body of an answer, after checking its content type and declaration."""
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def children(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


@pytest.fixture(name="app")
def app_fixture(settings, db):
    from parvis.app import create_app

    application = create_app(settings, database=db)
    if not any(getattr(r, "path", "").startswith("/open311/") for r in application.routes):
        application.include_router(router)  # until app.routers() mounts it
    return application


@pytest.fixture(name="open311_city")
def open311_city_fixture(db) -> dict[str, Any]:
    """Two departments, one district, a public category with questions (routed in D1 to the
    works department) and a private category."""
    roads = factories.department(db, "roads", "Voirie")
    works = factories.department(db, "works", "Travaux D1")
    social = factories.department(db, "social", "Action sociale")
    district = factories.district(db, "D1", lon=107.0, lat=16.0)
    pothole = configuration.create_category(db, None, CategoryCreate(
        code="POT", name="Pothole", name_local="Ổ gà", description="Holes in the road", group="Roads",
        department_id=roads, attributes=[
            {"code": "depth", "datatype": "number", "required": True, "description": "Depth in cm",
             "order": 1},
            {"code": "lane", "datatype": "singlevaluelist", "required": False, "description": "Lane",
             "order": 2, "values": [{"key": "left", "name": "Left"}, {"key": "right", "name": "Right"}]},
            {"code": "hazards", "datatype": "multivaluelist", "description": "Hazards", "order": 3,
             "values": [{"key": "water", "name": "Water"}, {"key": "night", "name": "Unlit"},
                        {"key": "school", "name": "Near a school"}]},
        ]))
    configuration.set_route(db, None, pothole.id, district, works)
    private = configuration.create_category(db, None, CategoryCreate(
        code="ABUSE", name="Vulnerable person", department_id=social, private=True))
    light = configuration.create_category(db, None, CategoryCreate(
        code="LIGHT", name="Street light", department_id=roads))
    configuration.issue_api_key(db, None, "Test client", key=API_KEY)
    return {"roads": roads, "works": works, "social": social, "district": district,
            "pothole": pothole.id, "private": private.id, "light": light.id}


@pytest.fixture(name="validate")
def validate_fixture() -> Callable[[Any, str], None]:
    """Validates a JSON document against one of the official Open311 schemas."""
    if not SCHEMAS.is_dir():
        pytest.fail(f"The Open311 JSON Schemas are missing: expected them in {SCHEMAS.resolve()} "
                    "(../shared/standards/open311-georeport-v2 next to the checkout).")
    names = ["request.json", "requests.json", "service.json", "services.json", "service-definition.json"]
    docs = {name: json.loads((SCHEMAS / name).read_text(encoding="utf-8")) for name in names}
    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=DRAFT7)) for name, doc in docs.items())

    def check(document: Any, schema: str) -> None:
        validator = Draft7Validator(docs[schema], registry=registry,
                                    format_checker=Draft7Validator.FORMAT_CHECKER)
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert not problems, problems
        for item in document if isinstance(document, list) else [document]:
            for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
                if isinstance(item, dict) and item.get(name) is not None:
                    assert W3C.match(item[name]), (name, item[name])

    return check


@pytest.fixture(name="post")
def post_fixture(client) -> Callable[..., Any]:
    """POST requests.{fmt} form-encoded, as a third-party client does."""

    def send(fmt: str = "json", **fields: Any) -> Any:
        body = {"api_key": API_KEY, "service_code": "POT", "lat": str(LAT), "long": str(LON),
                "attribute[depth]": "12", "phone": PHONE, "description": "Deep hole"}
        body.update({k: v for k, v in fields.items()})
        body = {k: v for k, v in body.items() if v is not None}
        return client.post(f"/open311/v2/requests.{fmt}", data=body,
                           headers={"Accept-Language": "en"})

    return send
