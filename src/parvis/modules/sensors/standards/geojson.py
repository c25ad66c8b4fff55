"""NGSI-LD's GeoJSON representation of entities (ETSI GS CIM 009 v1.4+, ``Accept:
application/geo+json``): an entity is a ``Feature`` whose geometry is the value of its
``geometryProperty`` (``location`` by default) and whose properties are its type and attributes,
as they would be rendered in JSON (normalized or ``keyValues``); a query's answer is a
``FeatureCollection``. The JSON-LD context travels in the ``Link`` header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parvis.modules.sensors.standards import negotiation as neg
from parvis.modules.sensors.standards.context import Context


@dataclass(frozen=True)
class GeoAsk:
    """Entities as GeoJSON (NGSI-LD's GeoJSON representation): each a ``Feature`` whose geometry
    is the value of ``geometryProperty`` (``location`` by default), its attributes and its type
    the properties; a query's answer a ``FeatureCollection``."""
    name: str  # the geometry property, as the request's context names it
    iri: str
    shown: bool  # whether the property is also among the properties (``attrs`` asked for it)

    def feature(self, entity: dict[str, Any]) -> dict[str, Any]:
        attr = entity.get(self.name)
        geometry = attr.get("value") if isinstance(attr, dict) and attr.get("type") == "GeoProperty" else (
            attr if isinstance(attr, dict) and "coordinates" in attr else None)  # keyValues: the geometry
        properties = {k: v for k, v in entity.items() if k != "id" and (self.shown or k != self.name)}
        return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}


def ask(accept: str | None, geometry_property: str | None, ctx: Context,
        only: set[str] | None) -> tuple[GeoAsk | None, set[str] | None]:
    """What GeoJSON needs when ``accept`` asks for it, and the attributes to render (``attrs``
    and the geometry property); (None, ``only``) otherwise."""
    if neg.accepted(accept, geo=True) != neg.GEO_JSON:
        return None, only
    name = geometry_property or "location"
    iri = ctx.expand(name)
    return GeoAsk(name, iri, only is None or iri in only), (only if only is None else only | {iri})
