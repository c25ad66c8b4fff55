"""Builders for the alerts tests: a two-district city with its staff, alert bodies as the API
takes them, subscribers, and running the fan-out job the way a worker does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

import factories
from parvis.kernel.auth import Principal, Role
from parvis.kernel.db import Database
from parvis.kernel.jobs import JobRegistry, Worker, claim_one
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.alerts import actions
from parvis.modules.alerts.models import Delivery
from parvis.modules.alerts.schemas import AlertCreate, SubscriptionCreate
from parvis.settings import Settings

# Two districts side by side, 0.02 degrees (about 2 km) square each: West then East.
WEST_LON, EAST_LON, SOUTH_LAT, SIZE = 106.70, 106.72, 10.77, 0.02
IN_WEST = (106.71, 10.78)
IN_EAST = (106.73, 10.78)


@dataclass
class AlertCity:
    west: int
    east: int
    agent: Principal
    supervisor: Principal
    admin: Principal


def alert_city(db: Database, settings: Settings) -> AlertCity:
    west = factories.district(db, "W", lon=WEST_LON, lat=SOUTH_LAT, size=SIZE)
    east = factories.district(db, "E", lon=EAST_LON, lat=SOUTH_LAT, size=SIZE)
    dep = factories.department(db, "crisis", "Protection civile")
    agent = factories.staff(db, settings, "agent@example.org", "agent", [dep])
    supervisor = factories.staff(db, settings, "supervisor@example.org", "supervisor", [dep])
    admin = factories.staff(db, settings, "admin@example.org", "admin")
    return AlertCity(west, east, Principal(agent, Role.AGENT, "agent"),
                     Principal(supervisor, Role.SUPERVISOR, "supervisor"), Principal(admin, Role.ADMIN, "admin"))


def body(*, status: str = "Actual", area: dict[str, Any] | None = None, infos: list[dict[str, Any]] | None = None,
         expires_in: timedelta | None = timedelta(hours=12), **extra: Any) -> dict[str, Any]:
    """A flood warning as the API takes it (French and Vietnamese)."""
    out = {
        "status": status, "event": "Inondation", "categories": ["Met", "Safety"],
        "response_types": ["Evacuate"], "urgency": "Expected", "severity": "Severe", "certainty": "Likely",
        "web": "https://city.example/alerts", "contact": "Hotline 1022",
        "expires": (datetime.now(UTC) + expires_in).isoformat() if expires_in else None,
        "infos": infos or [
            {"language": "fr", "headline": "Crue attendue ce soir", "description": "La rivière monte.",
             "instruction": "Quittez les rez-de-chaussée."},
            {"language": "vi", "headline": "Lũ tối nay", "description": "Nước sông dâng.",
             "instruction": "Rời khỏi tầng trệt."}],
        "area": area or {"description": "Ouest", "district_ids": []},
    }
    out.update(extra)
    return out


def compose(db: Database, settings: Settings, author: Principal, **kwargs: Any) -> int:
    return actions.compose(db, settings, author, AlertCreate.model_validate(body(**kwargs))).id


def sent_alert(db: Database, settings: Settings, city: AlertCity, **kwargs: Any) -> int:
    """An alert composed by the agent and approved by the supervisor (not yet fanned out)."""
    alert_id = compose(db, settings, city.agent, **kwargs)
    actions.approve(db, settings, city.supervisor, alert_id)
    return alert_id


def subscriber(db: Database, *, phone: str | None = None, email: str | None = None,
               point: tuple[float, float] | None = None, district_id: int | None = None,
               channels: tuple[str, ...] = ("sms",), language: str | None = None,
               categories: tuple[str, ...] = (), tester: bool = False, actor: Principal | None = None) -> int:
    """A place someone is warned about: a person without an account (phone or e-mail) or ``actor``."""
    data = SubscriptionCreate(lon=point[0] if point else None, lat=point[1] if point else None,
                              district_id=district_id, channels=list(channels), language=language,
                              categories=list(categories), tester=tester)
    return actions.subscribe(db, actor, data, phone=phone, email=email).id


def run_jobs(db: Database, registry: JobRegistry) -> int:
    """Run every due job once, as a worker does, without its periodic ticks (nothing is sent)."""
    worker = Worker(db, registry)
    done = 0
    while (job := claim_one(db, "test-worker", 60)) is not None:
        worker.run_job(job)
        done += 1
    return done


def deliveries(db: Database, alert_id: int) -> list[Delivery]:
    with db.read() as session:
        return list(session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)
                                    .order_by(Delivery.person, Delivery.channel)))


def outbox(db: Database, alert_id: int) -> list[OutboxMessage]:
    with db.read() as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key.like(f"alert:{alert_id}:%")).order_by(OutboxMessage.id)))


def outbox_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
