"""NGSI-LD's GeoJSON representation of entities (ETSI GS CIM 009 v1.4+, ``Accept:
application/geo+json``): an entity is a ``Feature`` whose geometry is the value of its
``geometryProperty`` (``location`` by default) and whose properties are its type and attributes,
as they would be rendered in JSON (normalized or ``keyValues``); a query's answer is a
``FeatureCollection``. The JSON-LD context travels in the body (CIM 009 4.5.16-17): in the
``Feature`` as its ``@context`` member, as each entity of an ``application/ld+json`` answer
carries it; in a ``FeatureCollection``, once at its top, its features without one (4.5.16.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parvis.modules.sensors.standards import negotiation as neg
from parvis.modules.sensors.standards.context import Context
from parvis.modules.sensors.standards.ngsi_ld import bad, context_value


@dataclass(frozen=True)
class GeoAsk:
    """Entities as GeoJSON (NGSI-LD's GeoJSON representation): each a ``Feature`` whose geometry
    is the value of ``geometryProperty`` (``location`` by default), its attributes and its type
    the properties, the request's ``@context`` beside them; a query's answer a
    ``FeatureCollection``."""
    name: str  # the geometry property, as the request's context names it
    iri: str
    shown: bool  # whether the property is also among the properties (``attrs`` asked for it)
    context: Any = None  # the ``@context`` the answer carries (None: none)

    def feature(self, entity: dict[str, Any], *, alone: bool = True) -> dict[str, Any]:
        """The entity's ``Feature``; ``alone``: the whole answer, which carries the ``@context``."""
        attr = entity.get(self.name)
        geometry = attr.get("value") if isinstance(attr, dict) and attr.get("type") == "GeoProperty" else (
            attr if isinstance(attr, dict) and "coordinates" in attr else None)  # keyValues: the geometry
        properties = {k: v for k, v in entity.items() if k != "id" and (self.shown or k != self.name)}
        feature = {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}
        return feature if self.context is None or not alone else {**feature, "@context": self.context}

    def document(self, payload: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
        """The GeoJSON answer of one entity (a ``Feature``) or of a query (a ``FeatureCollection``,
        its ``@context`` at its top only)."""
        if not isinstance(payload, list):
            return self.feature(payload)
        features = [self.feature(e, alone=False) for e in payload]
        collection = {"type": "FeatureCollection", "features": features}
        return collection if self.context is None else {**collection, "@context": self.context}


def ask(accept: str | None, geometry_property: str | None, ctx: Context,
        only: set[str] | None) -> tuple[GeoAsk | None, set[str] | None]:
    """What GeoJSON needs when ``accept`` asks for it, and the attributes to render (``attrs``
    and the geometry property); (None, ``only``) otherwise."""
    if neg.accepted(accept, geo=True) != neg.GEO_JSON:
        if geometry_property is not None:  # CIM 009 5.7.2.4
            raise bad("geometryProperty names the geometry of a GeoJSON answer: ask for one with "
                      "Accept: application/geo+json.")
        return None, only
    name = geometry_property or "location"
    iri = ctx.expand(name)
    return (GeoAsk(name, iri, only is None or iri in only, context_value(ctx)),
            (only if only is None else only | {iri}))
