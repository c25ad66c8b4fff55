"""A small city for the reports back office: roads and water, one district, two categories,
their agents, an admin and a citizen who reports through the reports actions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

import factories
from factories import PASSWORD
from parvis.kernel.auth import Principal
from parvis.kernel.db import Database
from parvis.modules.accounts.queries import principal_for, user
from parvis.modules.reports import actions, configuration
from parvis.modules.reports.schemas import CategoryCreate, ReportCreate
from parvis.settings import Settings
from web_helpers import sign_in

CITIZEN_PHONE = "+84912345678"


@pytest.fixture
def app(settings: Settings, db: Database):
    from parvis.app import create_app
    from parvis.modules.reports.pages.backoffice import router

    application = create_app(settings, database=db)
    if not any(getattr(r, "path", None) == "/admin/reports" for r in application.routes):
        application.include_router(router)
    return application


@dataclass
class City:
    db: Database
    settings: Settings
    app: object
    roads: int
    water: int
    district: int
    citizen_id: int

    @property
    def citizen(self) -> Principal:
        with self.db.read() as session:
            return principal_for(user(session, self.citizen_id))  # type: ignore[arg-type]

    def report(self, category: str = "POTHOLE", *, lon: float | None = 107.005, lat: float | None = 16.005,
               description: str = "A hole in the road", address: str = "") -> int:
        data = ReportCreate(category=category, lon=lon, lat=lat, description=description,
                            address=address, contact_channel="sms")
        return actions.create_report(self.db, self.settings, self.citizen, data).id

    def client(self, identifier: str | None = None) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False,  # type: ignore[arg-type]
                            headers={"Accept-Language": "en"})
        if identifier:
            sign_in(client, identifier, PASSWORD)
        return client


@pytest.fixture
def city(app, db: Database, settings: Settings) -> Iterator[City]:
    roads = factories.department(db, "roads", "Voirie")
    water = factories.department(db, "water", "Eau")
    district = factories.district(db, "D1", 107.0, 16.0)
    for code, name, dep in (("POTHOLE", "Pothole", roads), ("LEAK", "Water leak", water)):
        configuration.create_category(db, None, CategoryCreate(code=code, name=name, department_id=dep,
                                                         sla_ack_hours=24, sla_resolve_hours=72))
    factories.staff(db, settings, "roads@example.org", "agent", [roads])
    factories.staff(db, settings, "water@example.org", "agent", [water])
    factories.staff(db, settings, "admin@example.org", "admin")
    citizen_id = factories.citizen(db, settings, CITIZEN_PHONE)
    yield City(db, settings, app, roads, water, district, citizen_id)
