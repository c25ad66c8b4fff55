"""Every write of the sensor hub: one function per intent, one transaction each.

Entities and attributes arrive already expanded and validated (``standards/ngsi_ld.py``);
here they are stored, merged and stamped. Errors are the kernel's (404, 409): the NGSI-LD edge
gives them the spec's problem types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import shape
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, Conflict, NotFound, ValidationFailed
from parvis.modules.sensors import changes, entity_rows, observations
from parvis.modules.sensors.models import DeadLetter, Device, Entity
from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards.ngsi_ld import (
    LOCATION,
    VALUE_MEMBER,
    EntityIn,
    NgsiError,
    check_uri,
    geometry,
    is_null,
    ngsi_time,
)
from parvis.modules.sensors.standards.ngsi_null import merge_attribute

Attrs = dict[str, dict[str, Any]]


class EntityNotFound(NotFound):
    pass


class AttributeNotFound(NotFound):
    pass


class EntityExists(Conflict):
    pass


def _stamped(attr: dict[str, Any], now: str, created: str | None = None) -> dict[str, Any]:
    out = dict(attr)
    out["createdAt"] = created or now
    out["modifiedAt"] = now
    return out


def _placed(attrs: Attrs) -> dict[str, Any]:
    """The location columns for these attributes (the ``location`` attribute's geometry and box)."""
    loc = attrs.get(LOCATION)
    if loc and "value" in loc:
        value = loc["value"]
        if value.get("type") == "Point":  # most sensors: no geometry object to build
            lon, lat = value["coordinates"][:2]
            return {"lon_min": lon, "lat_min": lat, "lon_max": lon, "lat_max": lat, "location": value}
        minx, miny, maxx, maxy = shape(value).bounds
        return {"lon_min": minx, "lat_min": miny, "lon_max": maxx, "lat_max": maxy, "location": loc["value"]}
    return {"lon_min": None, "lat_min": None, "lon_max": None, "lat_max": None, "location": None}


def _place(row: Entity, attrs: Attrs) -> None:
    """Keep the location columns in step with the ``location`` attribute."""
    for column, value in _placed(attrs).items():
        setattr(row, column, value)


def _new_row(entity: EntityIn) -> Entity:
    now = utcnow()
    stamp = ngsi_time(now)
    attrs = {iri: _stamped(a, stamp) for iri, a in entity.attrs.items()}
    row = Entity(id=entity.id, type=entity.type, created_at=now, modified_at=now, attrs=attrs)
    _place(row, attrs)
    return row


def _get(session: Session, entity_id: str) -> Entity:
    row = session.get(Entity, entity_id, with_for_update=True)
    if row is None:
        raise EntityNotFound(f"No entity has the id {entity_id}.")
    return row


def _save(row: Entity, attrs: Attrs, type_iri: str | None = None) -> None:
    before = row.attrs or {}
    written = {iri for iri, a in attrs.items() if before.get(iri) != a} | (before.keys() - attrs.keys())
    row.attrs = attrs  # a new dict: the JSON column sees the change
    row.modified_at = now = utcnow()
    if type_iri is not None:
        row.type = type_iri
    _place(row, attrs)
    session = object_session(row)
    if session is not None:
        _record(session, row.id, attrs)
        changes.note(session, row.id, row.type, attrs, written, at=now, before=before)  # at: its modifiedAt


def _add(session: Session, entity: EntityIn) -> Entity:
    """Insert a new entity (flushed: a concurrent twin fails here) and note its creation."""
    row = _new_row(entity)
    session.add(row)
    session.flush()
    changes.note(session, row.id, row.type, row.attrs, row.attrs.keys(), created=True, at=row.modified_at)
    return row


def _record(session: Session, entity_id: str, attrs: Attrs) -> None:
    """Attributes written with ``observedAt`` join the temporal store (what the temporal API
    shows: a relationship's object, a GeoProperty's geometry, a LanguageProperty's languageMap as
    the instance's value), as device readings do; one already there is skipped."""
    rows = []
    for iri, attr in attrs.items():
        if "observedAt" not in attr or is_null(attr):
            continue
        member = VALUE_MEMBER.get(attr.get("type", ""))
        if member is not None and member in attr:
            value = attr[member]
            number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
            rows.append({"entity_id": entity_id, "attribute": iri, "observed_at": _parse(attr["observedAt"]),
                         "number": number, "value": value})
    if rows:
        observations.store(session, rows)


def create_entity(db: Database, entity: EntityIn) -> None:
    try:
        with db.transaction() as session:
            if session.get(Entity, entity.id) is not None:
                raise EntityExists(f"An entity with the id {entity.id} already exists.")
            _add(session, entity)
            _record(session, entity.id, entity.attrs)
    except IntegrityError:  # created by a concurrent request between our check and commit
        raise EntityExists(f"An entity with the id {entity.id} already exists.") from None


def replace_entity(db: Database, entity: EntityIn) -> None:
    with db.transaction() as session:
        row = _get(session, entity.id)
        stamp = ngsi_time(utcnow())
        _save(row, {iri: _stamped(a, stamp) for iri, a in entity.attrs.items()}, entity.type)


def delete_entity(db: Database, entity_id: str) -> None:
    with db.transaction() as session:
        gone = session.execute(delete(Entity).where(Entity.id == entity_id).returning(
            Entity.type, Entity.attrs, Entity.created_at, Entity.modified_at)).first()
        if gone is None:
            raise EntityNotFound(f"No entity has the id {entity_id}.")
        changes.note(session, entity_id, gone.type, None, (gone.attrs or {}).keys(), deleted=True,
                     before=gone.attrs, stamps=(gone.created_at, gone.modified_at))


def _merged(current: Attrs, attrs: Attrs, *, overwrite: bool, existing_only: bool,
            stamp: str | None = None, merge: bool = False) -> tuple[Attrs, list[str]]:
    """``attrs`` merged into a copy of ``current`` (stamped ``stamp``, by default now), and the
    IRIs that were not written. ``merge``: an existing attribute keeps the members not given.
    An attribute given NGSI-LD's Null is deleted (not written when the entity lacks it)."""
    out = dict(current)
    stamp = stamp or ngsi_time(utcnow())
    skipped = []
    for iri, attr in attrs.items():
        old = out.get(iri)
        if (old is not None and not overwrite) or (old is None and (existing_only or is_null(attr))):
            skipped.append(iri)
            continue
        if is_null(attr):
            del out[iri]
            continue
        out[iri] = _stamped(merge_attribute(old, attr) if merge else attr, stamp,
                            old.get("createdAt") if old else None)
    return out, skipped


def _merge(row: Entity, attrs: Attrs, *, overwrite: bool, existing_only: bool) -> list[str]:
    """Merge ``attrs`` into the row; the IRIs that were not written."""
    merged, skipped = _merged(row.attrs, attrs, overwrite=overwrite, existing_only=existing_only)
    if len(skipped) < len(attrs):
        _save(row, merged)
    return skipped


def append_attributes(db: Database, entity_id: str, attrs: Attrs, *, overwrite: bool = True) -> list[str]:
    """Append (or, ``overwrite``, replace) attributes: the IRIs not written."""
    return _alone(write_attributes(db, [AttributeWrite(entity_id, attrs, overwrite=overwrite)]))


def update_attributes(db: Database, entity_id: str, attrs: Attrs) -> list[str]:
    """Update the attributes the entity has: the IRIs not written (those it lacks)."""
    return _alone(write_attributes(db, [AttributeWrite(entity_id, attrs, existing_only=True)]))


def _alone(results: list[list[str] | Exception]) -> list[str]:
    (result,) = results
    if isinstance(result, Exception):
        raise result
    return result


def _timed(attrs: Attrs, given: Attrs, written: Iterable[str]) -> Attrs:
    """The attributes written (as stored now) whose request gave their ``observedAt``: those join
    the history. Without one (a partial update, a merge) the stored time stays, and the new value
    was not observed then."""
    return {iri: attrs[iri] for iri in written if iri in attrs and "observedAt" in given[iri]}


@dataclass(frozen=True)
class AttributeWrite:
    """One request's attributes for one entity: appended (``existing_only`` False) or updated
    (True: attributes the entity lacks are not written), replacing those it has or not
    (``overwrite``); or, ``partial``, one attribute's fields merged into those stored (the
    attribute must exist). An attribute given NGSI-LD's Null (``urn:ngsi-ld:null``) is deleted."""
    entity_id: str
    attrs: Attrs
    overwrite: bool = True
    existing_only: bool = False
    partial: bool = False
    merge: bool = False  # an existing attribute keeps the members not given (merge entity)


def write_attributes(db: Database, writes: list[AttributeWrite]) -> list[list[str] | Exception]:
    """Several requests' attribute writes in one transaction (``kernel.group_commit``), in order,
    each as it would be alone: what each did not write (IRIs), or its error (no such entity or
    attribute). The entities are read with one statement and written with one."""
    ids = list(dict.fromkeys(w.entity_id for w in writes))
    now = utcnow()
    stamp = ngsi_time(now)
    out: list[list[str] | Exception] = []
    with db.transaction() as session:
        state = _read_state(session, ids)
        for w in writes:
            seen = state.get(w.entity_id)
            if seen is None or seen[2] == "gone":
                out.append(EntityNotFound(f"No entity has the id {w.entity_id}."))
                continue
            try:
                attrs, skipped = (_patched(seen[1], w, now) if w.partial else
                                  _merged(seen[1], w.attrs, overwrite=w.overwrite,
                                          existing_only=w.existing_only, stamp=stamp, merge=w.merge))
            except (AttributeNotFound, NgsiError) as exc:
                out.append(exc)
                continue
            out.append(skipped)
            if len(skipped) == len(w.attrs):
                continue
            written = [iri for iri in w.attrs if iri not in skipped]
            before = seen[1]
            seen[1], seen[2] = attrs, "set"
            seen[3] = seen[3] or LOCATION in written
            changes.note(session, w.entity_id, seen[0], attrs, written, at=now, before=before)
            _record(session, w.entity_id, _timed(attrs, w.attrs, written))
        _write_batch(session, state, now)
    return out


def _patched(current: Attrs, w: AttributeWrite, at: datetime) -> tuple[Attrs, list[str]]:
    """A partial attribute update: the fields given replace those stored."""
    ((iri, fields),) = w.attrs.items()
    old = current.get(iri)
    if old is None:
        raise AttributeNotFound(f"The entity {w.entity_id} has no attribute {iri}.")
    if is_null(fields):
        return {k: v for k, v in current.items() if k != iri}, []
    merged = {**old, **fields, "modifiedAt": ngsi_time(at)}
    if merged.get("type") == "GeoProperty" and "value" in fields:
        geometry(merged["value"], "value")
    return {**current, iri: merged}, []


def _read_state(session: Session, ids: list[str]) -> dict[str, list[Any]]:
    """Entities about to be written, by id: [type, attrs, how they are written ("" as read, "new",
    "set", "gone" or "dropped"), whether more than their attributes changes (type, location)]."""
    return {i: [t, a, "", False] for i, (t, a) in entity_rows.read(session, ids).items()}


def delete_attribute(db: Database, entity_id: str, iri: str) -> None:
    with db.transaction() as session:
        row = _get(session, entity_id)
        current = dict(row.attrs)
        if current.pop(iri, None) is None:
            raise AttributeNotFound(f"The entity {entity_id} has no attribute {iri}.")
        _save(row, current)


def upsert_entity(db: Database, entity: EntityIn, *, replace: bool = True) -> bool:
    """Create the entity, or replace (``replace``) or update its attributes. True if created.
    Two clients upserting the same new id at once: the second finds it created and updates it."""
    try:
        return _upsert(db, entity, replace=replace)
    except IntegrityError:  # created by a concurrent upsert between our read and our insert
        return _upsert(db, entity, replace=replace)


def _upsert(db: Database, entity: EntityIn, *, replace: bool) -> bool:
    with db.transaction() as session:
        row = session.get(Entity, entity.id, with_for_update=True)
        if row is None:
            _add(session, entity)
            _record(session, entity.id, entity.attrs)
            return True
        if replace:
            stamp = ngsi_time(utcnow())
            _save(row, {iri: _stamped(a, stamp) for iri, a in entity.attrs.items()}, entity.type)
        else:
            _merge(row, entity.attrs, overwrite=True, existing_only=False)
        return False


# ------------------------------------------------------------------------ batch operations

@dataclass
class BatchOutcome:
    """What a batch did, in the order of its items: ids written, ids created, and the errors of
    the others as (position in the batch, error)."""
    success: list[str]
    created: list[str]
    errors: list[tuple[int, Exception]]


def run_batch(db: Database, operation: str, items: list[tuple[int, EntityIn | str]], *,
              replace: bool = True, overwrite: bool = True) -> BatchOutcome:
    """A batch operation (``create``, ``upsert``, ``update``, ``merge`` or ``delete``) in one
    transaction: the entities are read at once, each item succeeds or fails on its own (an
    existing id for a create, a missing one for an update, a merge or a delete), and what
    succeeded is written together.
    ``items`` are (position, entity) or, for ``delete``, (position, id). Another writer creating
    one of the new ids meanwhile: the batch is done again, reading it."""
    try:
        return _batch(db, operation, items, replace=replace, overwrite=overwrite)
    except IntegrityError:
        return _batch(db, operation, items, replace=replace, overwrite=overwrite)


def _batch(db: Database, operation: str, items: list[tuple[int, EntityIn | str]], *, replace: bool,
           overwrite: bool) -> BatchOutcome:
    out = BatchOutcome([], [], [])
    ids = list(dict.fromkeys(item if isinstance(item, str) else item.id for _n, item in items))
    now = utcnow()
    stamp = ngsi_time(now)
    with db.transaction() as session:
        state = _read_state(session, ids)
        stamps = ({i: (c, m) for i, c, m in session.execute(  # what a deletion's notification shows
            select(Entity.id, Entity.created_at, Entity.modified_at).where(Entity.id.in_(ids)))}
            if operation == "delete" else {})
        observed: list[tuple[str, Attrs]] = []
        for n, item in items:
            if isinstance(item, str):  # delete
                seen = state.get(item)
                if seen is None or seen[2] in ("gone", "dropped"):
                    out.errors.append((n, EntityNotFound(f"No entity has the id {item}.")))
                    continue
                changes.note(session, item, seen[0], None, (seen[1] or {}).keys(), deleted=True, at=now,
                             before=seen[1], stamps=stamps.get(item))
                seen[2] = "gone" if seen[2] != "new" else "dropped"
                out.success.append(item)
                continue
            seen = state.get(item.id)
            recorded = item.attrs  # the instances this item adds to the history
            if seen is None or seen[2] in ("gone", "dropped"):
                if operation in ("update", "merge"):
                    out.errors.append((n, EntityNotFound(f"No entity has the id {item.id}.")))
                    continue
                attrs = {iri: _stamped(a, stamp) for iri, a in item.attrs.items()}
                was_gone = seen is not None and seen[2] == "gone"
                state[item.id] = [item.type, attrs, "set" if was_gone else "new", True]
                changes.note(session, item.id, item.type, attrs, attrs.keys(), created=True, at=now)
                out.created.append(item.id)
            elif operation == "create":
                out.errors.append((n, EntityExists(f"An entity with the id {item.id} already exists.")))
                continue
            else:
                before = seen[1] or {}
                if operation == "upsert" and replace:
                    attrs = {iri: _stamped(a, stamp) for iri, a in item.attrs.items()}
                    written = set(attrs) | (before.keys() - attrs.keys())
                    seen[3] = seen[3] or seen[0] != item.type
                    seen[0] = item.type
                else:
                    merge = operation == "merge"  # existing attributes keep the members not given
                    attrs, skipped = _merged(before, item.attrs, overwrite=overwrite or merge,
                                             existing_only=False, stamp=stamp, merge=merge)
                    kept = [iri for iri in skipped if iri in before]  # noOverwrite: existing, kept
                    if kept:  # reported as for one entity's append (207), the rest still written
                        out.errors.append((n, NgsiError(
                            "BadRequestData", f"Attributes not updated (they exist and noOverwrite "
                            f"was asked): {', '.join(kept)}.")))
                    if len(skipped) == len(item.attrs):
                        if not kept:
                            out.success.append(item.id)
                        continue
                    written = {iri for iri in item.attrs if iri not in skipped}
                    if skipped or merge:  # noOverwrite's kept are no instances; a merge's are merged
                        recorded = _timed(attrs, item.attrs, written)
                seen[1] = attrs
                seen[2] = seen[2] or "set"
                seen[3] = seen[3] or LOCATION in written
                changes.note(session, item.id, seen[0], attrs, written, at=now, before=before)
            observed.append((item.id, recorded))
            if not (out.errors and out.errors[-1][0] == n):  # partly kept: among the errors
                out.success.append(item.id)
        _write_batch(session, state, now)
        for entity_id, attrs in observed:
            _record(session, entity_id, attrs)
    return out


def _write_batch(session: Session, state: dict[str, list[Any]], now: datetime) -> None:
    """Write a batch's outcome with one statement per kind of write: most only change attributes
    (``entity_rows.write_attrs``); the type and location columns (and their indexes) are written
    only for the entities whose type or location changed."""
    gone = [i for i, (_t, _a, how, _m) in state.items() if how == "gone"]
    if gone:
        session.execute(delete(Entity).where(Entity.id.in_(gone)))
    table = Entity.__table__
    moved = [{"entity_id": i, "type": t, "attrs": a, "modified_at": now, **_placed(a)}
             for i, (t, a, how, m) in state.items() if how == "set" and m]
    if moved:  # one executemany (the ORM's bulk update goes row by row through its bookkeeping)
        session.execute(table.update().where(table.c.id == bindparam("entity_id")), moved)
    entity_rows.write_attrs(session, {i: a for i, (_t, a, how, m) in state.items() if how == "set" and not m},
                            now)
    new = [{"id": i, "type": t, "attrs": a, "created_at": now, "modified_at": now, **_placed(a)}
           for i, (t, a, how, _m) in state.items() if how == "new"]
    if new:
        session.execute(insert(Entity), new)


# --------------------------------------------------------------------------------- devices

def type_iri(name: str) -> str:
    """A type or attribute name as devices and provisioning give it (Smart Data Models short
    names, or a full IRI), as the store keeps it."""
    return name if ":" in name else ldctx.shipped(ldctx.SDM_CONTEXT_URL).expand(name)


attribute_iri = type_iri


@dataclass(frozen=True)
class DeviceSpec:
    """What provisioning says of a device (see ``provision_device``)."""
    api_key: str
    device_id: str
    entity_id: str
    entity_type: str
    attributes: dict[str, str]
    lon: float | None = None
    lat: float | None = None
    static: dict[str, Any] | None = None


def provision_device(db: Database, **spec: Any) -> None:
    """Provision (or provision again: safe to repeat) one device; see ``provision_devices``."""
    provision_devices(db, [DeviceSpec(**spec)])


def provision_devices(db: Database, specs: list[DeviceSpec]) -> None:
    """Provision devices, all or none (one transaction), and create the entity each one feeds,
    placed at the device's position, with its static attributes (a car park's capacity...)."""
    for spec in specs:
        try:
            check_uri(spec.entity_id)
        except NgsiError:
            raise ValidationFailed(N_("The entity id must be a URI, such as urn:ngsi-ld:Type:1."),
                                   errors=[{"field": "entity_name", "code": "not_a_uri"}]) from None
    with db.transaction() as session:
        for spec in specs:
            _provision(session, spec)


def _provision(session: Session, spec: DeviceSpec) -> None:
    kind = type_iri(spec.entity_type)
    row = session.scalar(select(Device).where(Device.device_id == spec.device_id).with_for_update())
    if row is None:
        row = Device(device_id=spec.device_id)
        session.add(row)
    row.api_key, row.entity_id, row.entity_type = spec.api_key, spec.entity_id, kind
    row.attributes, row.lon, row.lat = dict(spec.attributes), spec.lon, spec.lat
    entity = session.get(Entity, spec.entity_id, with_for_update=True)
    stamp = ngsi_time(utcnow())
    static = spec.static or {}
    attrs: Attrs = {attribute_iri(k): {"type": "Property", "value": v} for k, v in static.items()}
    if spec.lon is not None and spec.lat is not None:
        attrs[LOCATION] = _point(spec.lon, spec.lat)
    if entity is None:
        _add(session, EntityIn(id=spec.entity_id, type=kind, attrs=attrs))
    elif attrs:
        current = dict(entity.attrs)
        for iri, attr in attrs.items():
            old = current.get(iri)
            current[iri] = _stamped(attr, stamp, old.get("createdAt") if old else None)
        _save(entity, current)


def purge_dead_letters(db: Database, days: int) -> int:
    """Delete the dead letters older than ``days``; how many went."""
    with db.transaction() as session:
        return session.execute(delete(DeadLetter).where(
            DeadLetter.received_at < utcnow() - timedelta(days=days))).rowcount or 0


def remove_device(db: Database, device_id: str) -> None:
    """Forget a device (its entity and observations stay: they are the city's history)."""
    with db.transaction() as session:
        if not session.execute(delete(Device).where(Device.device_id == device_id)).rowcount:
            raise NotFound(N_("No device has this id."))


def apply_observations(session: Session, updates: dict[tuple[str, str], dict[str, tuple[datetime, Any]]],
                       places: dict[str, tuple[float, float]]) -> None:
    """Make the newest observations the entities' current values, inside the ingesting
    transaction: ``updates`` maps (entity id, type IRI) to {attribute IRI: (time, value)}; an
    observation older than an entity's current value leaves it as it is. One read and one
    batched update for all the entities of a batch (``places``: where to put an entity that does
    not exist yet)."""
    ids = [entity_id for entity_id, _type in updates]
    query = select(Entity.id, Entity.attrs).where(Entity.id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    current_of = dict(session.execute(query).all())
    now = utcnow()
    stamp = ngsi_time(now)
    changed: list[dict[str, Any]] = []
    for (entity_id, entity_type), values in updates.items():
        if entity_id not in current_of:  # provisioned, then deleted through NGSI-LD: create it again
            attrs: Attrs = {}
            if entity_id in places:
                attrs[LOCATION] = _point(*places[entity_id])
            row = _add(session, EntityIn(id=entity_id, type=entity_type, attrs=attrs))
            current_of[entity_id] = dict(row.attrs)
        current = dict(current_of[entity_id])
        written = merge_newest(current, values, stamp)
        if written:
            changed.append({"id": entity_id, "attrs": current, "modified_at": now})
            changes.note(session, entity_id, entity_type, current, written, at=now)
    if changed:
        session.execute(update(Entity), changed)


def merge_newest(current: Attrs, values: dict[str, tuple[datetime, Any]], stamp: str, *,
                 stamps: dict[datetime, str] | None = None,
                 times: dict[str, datetime] | None = None) -> set[str]:
    """Make observations (attribute IRI -> (time, value)) the current values of ``current`` (changed
    in place) where they are newer than what it holds: a late observation never replaces a newer
    one. Returns the attributes written. ``stamps`` and ``times`` cache the formatting and parsing
    of times that repeat across a batch (ingestion passes them)."""
    stamps = {} if stamps is None else stamps
    times = {} if times is None else times
    written: set[str] = set()
    for iri, (observed, value) in values.items():
        old = current.get(iri)
        if old is not None and "observedAt" in old:
            seen = old["observedAt"]
            when = times.get(seen)
            if when is None:
                when = times[seen] = _parse(seen)
            if when >= observed:
                continue
        text = stamps.get(observed)
        if text is None:
            text = stamps[observed] = ngsi_time(observed.astimezone(UTC))
        current[iri] = {"type": "Property", "value": value, "observedAt": text,
                        "createdAt": old.get("createdAt", stamp) if old else stamp, "modifiedAt": stamp}
        written.add(iri)
    return written


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
