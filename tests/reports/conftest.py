"""A small city for report tests: two districts, roads and water departments, categories."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import factories
from parvis.modules.reports import configuration
from parvis.modules.reports.schemas import CategoryCreate


@dataclass
class City:
    roads: int
    water: int
    north: int
    south: int


@pytest.fixture
def city(db, settings) -> City:
    roads = factories.department(db, "roads", "Voirie")
    water = factories.department(db, "water", "Eau")
    north = factories.district(db, "N", lon=107.0, lat=16.01, size=0.01)
    south = factories.district(db, "S", lon=107.0, lat=16.0, size=0.01)
    configuration.create_category(db, None, CategoryCreate(
        code="NID", name="Nid-de-poule", department_id=roads, nearby_radius_m=200,
        attributes=[{"code": "size", "datatype": "singlevaluelist", "required": True,
                     "description": "Taille", "values": [{"key": "small", "name": "Petit"},
                                                         {"key": "large", "name": "Grand"}]}]))
    configuration.create_category(db, None, CategoryCreate(code="EAU", name="Fuite d'eau", department_id=water))
    configuration.create_category(db, None, CategoryCreate(code="BRUIT", name="Bruit", department_id=roads,
                                                     private=True))
    configuration.create_category(db, None, CategoryCreate(code="AUTRE", name="Autre", department_id=roads))
    factories.staff(db, settings, "roads.agent@example.org", "agent", [roads])
    factories.staff(db, settings, "roads.supervisor@example.org", "supervisor", [roads])
    factories.staff(db, settings, "water.agent@example.org", "agent", [water])
    return City(roads, water, north, south)
