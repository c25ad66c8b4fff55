"""Who owns which building of the twin, and who may see a house's roof heat-loss level.

A roof's thermography level says something about a household (a badly insulated roof, a heated
attic), so the city decides who may see it (setting ``twin_thermography_visibility``):

- ``"owner"`` (default): only the accounts linked to that building;
- ``"staff"``: also the city's staff (agents, supervisors, admins);
- ``"public"``: everyone, signed in or not.

The city's admins link an account (found by its e-mail or phone) to a building (found by its twin
reference or its exact address) on ``/twin/owners``; every link and unlink is written to the audit
trail in the same transaction. A link is not a title deed: the city checks ownership (or tenancy)
its own way before making one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parvis.kernel import audit
from parvis.kernel.auth import Principal
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, Conflict, NotFound, ParvisError, ValidationFailed
from parvis.kernel.identifiers import parse_identifier
from parvis.modules import accounts
from parvis.modules.twin import errors
from parvis.modules.twin.models import Building, search_key
from parvis.modules.twin.owner_models import BuildingOwner
from parvis.modules.twin.thermography import may_see_level


class BuildingNotFound(errors.BuildingNotFound):
    title = N_("No building of the twin has this reference or address.")


class AmbiguousAddress(ValidationFailed):
    type_slug = "twin-ambiguous-address"
    title = N_("Several buildings have this address: give the building's reference instead.")


class AccountNotFound(ValidationFailed):
    type_slug = "twin-account-not-found"
    title = N_("No active account has this e-mail or phone number.")


class AlreadyLinked(Conflict):
    type_slug = "twin-owner-already-linked"
    title = N_("This account is already linked to this building.")


class LinkNotFound(NotFound):
    type_slug = "twin-owner-link-not-found"
    title = N_("This owner link does not exist (any more).")


@dataclass(frozen=True)
class OwnerLink:
    """A link as the admin page lists it (the person's contact read through the accounts module)."""

    id: int
    building_id: int
    building_ref: str
    address: str | None
    user_id: int
    person: str
    contact: str
    linked_at: datetime


def find_building(session: Session, text: str) -> Building:
    """A building by its exact twin reference, else by its address (case and accents ignored)."""
    text = (text or "").strip()
    if not text:
        raise BuildingNotFound(errors=[{"field": "building", "code": "missing"}])
    row = session.scalar(select(Building).where(Building.ref == text))
    if row is not None:
        return row
    rows = list(session.scalars(select(Building).where(Building.address_key == search_key(text)).limit(2)))
    if not rows:
        raise BuildingNotFound(errors=[{"field": "building", "code": "not_found"}])
    if len(rows) > 1:
        raise AmbiguousAddress(errors=[{"field": "building", "code": "ambiguous"}])
    return rows[0]


def find_account(session: Session, identifier: str, region: str) -> accounts.Contact:
    """The active account with this e-mail or phone (read through the accounts module)."""
    try:
        ident = parse_identifier((identifier or "").strip(), region)
    except ParvisError:
        raise AccountNotFound(errors=[{"field": "identifier", "code": "invalid"}]) from None
    contact = accounts.contact_by_identifier(session, ident.kind, ident.value)
    if contact is not None:
        return contact
    raise AccountNotFound(errors=[{"field": "identifier", "code": "not_found"}])


def link_owner(db: Database, actor: Principal | None, building: str, identifier: str, region: str,
               ip: str = "") -> int:
    """Link the account with this e-mail or phone to the building with this reference or address.
    Audit-logged (``twin.owner_linked``). Returns the link's id."""
    with db.transaction() as session:
        row = find_building(session, building)
        contact = find_account(session, identifier, region)
        exists = session.scalar(select(BuildingOwner.id).where(BuildingOwner.building_id == row.id,
                                                                 BuildingOwner.user_id == contact.user_id))
        if exists is not None:
            raise AlreadyLinked()
        link = BuildingOwner(building_id=row.id, user_id=contact.user_id,
                             linked_by=actor.user_id if actor else None, linked_at=utcnow())
        session.add(link)
        try:
            session.flush()
        except IntegrityError:  # a concurrent link of the same pair
            raise AlreadyLinked() from None
        audit.record(session, actor, "twin.owner_linked", object_type="twin_building", object_id=row.id,
                     ip=ip, changes={"building_ref": row.ref, "user_id": contact.user_id})
        return link.id


def unlink_owner(db: Database, actor: Principal | None, link_id: int, ip: str = "") -> None:
    """Remove a link. Audit-logged (``twin.owner_unlinked``)."""
    with db.transaction() as session:
        link = session.get(BuildingOwner, link_id)
        if link is None:
            raise LinkNotFound()
        ref = session.scalar(select(Building.ref).where(Building.id == link.building_id))
        audit.record(session, actor, "twin.owner_unlinked", object_type="twin_building",
                     object_id=link.building_id, ip=ip,
                     changes={"building_ref": ref, "user_id": link.user_id})
        session.execute(delete(BuildingOwner).where(BuildingOwner.id == link_id))


def link_quietly(db: Database, building_id: int, user_id: int) -> None:
    """Link without an actor (the demo, scripts); nothing happens when the link exists."""
    with db.transaction() as session:
        exists = session.scalar(select(BuildingOwner.id).where(BuildingOwner.building_id == building_id,
                                                                 BuildingOwner.user_id == user_id))
        if exists is None:
            session.add(BuildingOwner(building_id=building_id, user_id=user_id, linked_at=utcnow()))
            audit.record(session, None, "twin.owner_linked", object_type="twin_building",
                         object_id=building_id, changes={"user_id": user_id})


def links(session: Session, limit: int = 500) -> list[OwnerLink]:
    """Every link, newest first, with the building and the person (name and how to reach them)."""
    stmt = (select(BuildingOwner, Building.ref, Building.address)
            .join(Building, Building.id == BuildingOwner.building_id)
            .order_by(BuildingOwner.id.desc()).limit(limit))
    rows = session.execute(stmt).all()
    contacts = accounts.contacts_of(session, [link.user_id for link, _ref, _address in rows])
    out = []
    for link, ref, address in rows:
        contact = contacts.get(link.user_id)
        out.append(OwnerLink(id=link.id, building_id=link.building_id, building_ref=ref, address=address,
                             user_id=link.user_id, person=contact.display_name if contact else "",
                             contact=(contact.email or contact.phone or "") if contact else "",
                             linked_at=link.linked_at))
    return out


def buildings_of(session: Session, user_id: int) -> list[dict[str, Any]]:
    """The buildings linked to an account, with their heat-loss level (the owner may always see it)."""
    stmt = (select(Building).join(BuildingOwner, BuildingOwner.building_id == Building.id)
            .where(BuildingOwner.user_id == user_id).order_by(Building.address_key, Building.id))
    return [{"id": b.id, "ref": b.ref, "address": b.address, "heat_loss_level": b.heat_loss_level,
             "construction_period": b.construction_period, "floor_area_m2": b.floor_area_m2}
            for b in session.scalars(stmt)]


def is_owner(session: Session, user_id: int | None, building_id: int) -> bool:
    if user_id is None:
        return False
    return session.scalar(select(BuildingOwner.id).where(BuildingOwner.building_id == building_id,
                                                          BuildingOwner.user_id == user_id)) is not None


def heat_loss_level(session: Session, building_id: int) -> int | None:
    """A building's stored level (1-6, None when unknown): check :func:`may_see` first."""
    return session.scalar(select(Building.heat_loss_level).where(Building.id == building_id))


def may_see(session: Session, policy: str, principal: Principal, building_id: int) -> bool:
    """Whether this person may see this building's heat-loss level under the city's policy."""
    if policy == "public":
        return True
    return may_see_level(policy, is_owner(session, principal.user_id, building_id), principal.is_staff)
