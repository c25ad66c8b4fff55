"""JSON views of the twin's 3D view and its CityJSON export.

- ``GET /api/v1/twin/3d/buildings?bbox=&mode=``: the buildings of a box (lon/lat) as GeoJSON for
  MapLibre's ``fill-extrusion`` layer: footprint, heights (``base_m`` = the ground above the
  twin's lowest ground, ``top_m`` = base + building height) and a ``color`` for the chosen
  colouring: ``solar`` (best roof face's annual kWh/m², grey when not computed) or ``heat``
  (thermography heat-loss level 1-6 where the city's visibility setting lets this viewer see it:
  every building for staff under ``staff`` and for all under ``public``, else only the buildings
  linked to the viewer's account (``owners``); the others are grey and ``levels_notice`` says
  why). Public.
- ``GET /api/v1/twin/cityjson``: the whole twin as CityJSON 2.0 (``cityjson_export``), a download.
  Public: it holds no personal data.

The colour classes (``solar_charts``' scale, ``HEAT_COLORS``) are shared with the page's legend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parvis.kernel.auth import Principal, current_principal
from parvis.kernel.errors import N_, ValidationFailed
from parvis.kernel.i18n import _
from parvis.modules.twin import cityjson_export, owners, queries, solar_charts, solar_run
from parvis.modules.twin.models import Building, RoofFaceRow
from parvis.modules.twin.thermography import LEVEL_LABELS, may_see_level

router = APIRouter(prefix="/api/v1/twin", tags=["twin"])

MODES = ("solar", "heat")
MAX_FEATURES = 5000
DEFAULT_FEATURES = 3000
NO_DATA_COLOR = "#9e9e9e"
# The solar colouring is the roof solar pages' scale (``solar_charts``): one legend across the twin.
SOLAR_COLOURS: tuple[str, ...] = solar_charts.COLOURS
HEAT_COLORS: dict[int, str] = {1: "#1a9850", 2: "#91cf60", 3: "#d9ef8b", 4: "#fee08b", 5: "#fc8d59",
                               6: "#d73027"}
SOLAR_NO_DATA = N_("not computed yet")
HEAT_NO_DATA = N_("no level (not measured, or not shown to you)")


def solar_class(value: float | None, thresholds: Sequence[float] = solar_charts.THRESHOLDS) -> int | None:
    """The colour class of an annual irradiation (None when not computed), as on the solar pages
    (``thresholds``: ``solar_run.colour_thresholds``)."""
    return solar_charts.potential_class(value, thresholds)


def legend(mode: str, thresholds: Sequence[float] = solar_charts.THRESHOLDS) -> list[dict[str, str]]:
    """The legend of a colouring, translated: colour and label of each class, then 'no data'."""
    if mode == "heat":
        items = [{"color": HEAT_COLORS[level], "label": f"{level}: {_(LEVEL_LABELS[level])}"}
                 for level in HEAT_COLORS]
        return [*items, {"color": NO_DATA_COLOR, "label": _(HEAT_NO_DATA)}]
    items = [{"color": item["colour"], "label": item["text"]}
             for item in solar_charts.legend_texts(thresholds)]
    return [*items, {"color": NO_DATA_COLOR, "label": _(SOLAR_NO_DATA)}]


@dataclass(frozen=True)
class LevelAccess:
    """Whether this viewer sees heat-loss levels, and the sentence saying why not."""

    visible: bool
    notice: str | None


def level_access(policy: str, principal: Principal) -> LevelAccess:
    """Apply the city's thermography visibility policy to the whole 3D view.

    ``visible`` says whether this viewer sees every building's level (``staff`` policy and a staff
    member, or ``public``). Otherwise the view shows only the levels of the buildings linked to the
    viewer's account (``owners``: the city's admins make these links), every other building grey,
    and ``notice`` says why."""
    if may_see_level(policy, viewer_is_owner=False, viewer_is_staff=principal.is_staff):
        return LevelAccess(True, None)
    if policy == "staff":
        return LevelAccess(False, _("This city shows a home's heat-loss level to its owner and to city staff "
                                    "only: the 3D view shows you the level of your own home only, when the "
                                    "city has linked it to your account."))
    return LevelAccess(False, _("This city shows a home's heat-loss level to its owner only: the 3D view "
                                "shows you the level of your own home only, when the city has linked it to "
                                "your account."))


def own_buildings(session: Session, principal: Principal) -> set[int]:
    """Ids of the buildings linked to this viewer's account (empty when not signed in)."""
    if principal.user_id is None:
        return set()
    return {b["id"] for b in owners.buildings_of(session, principal.user_id)}


@dataclass(frozen=True)
class Extent:
    """Where the twin's buildings are (lon/lat box), how many, and the lowest ground (m)."""

    bbox: tuple[float, float, float, float] | None
    count: int
    computed: int
    lowest_ground: float


def extent(session: Session) -> Extent:
    row = session.execute(select(func.min(Building.lon_min), func.min(Building.lat_min),
                                 func.max(Building.lon_max), func.max(Building.lat_max),
                                 func.count(Building.id), func.min(Building.ground_m))).one()
    computed = session.scalar(select(func.count(func.distinct(RoofFaceRow.building_id)))
                              .where(RoofFaceRow.annual_kwh_m2.is_not(None))) or 0
    bbox = None if row[0] is None else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
    return Extent(bbox=bbox, count=int(row[4] or 0), computed=int(computed),
                  lowest_ground=float(row[5]) if row[5] is not None else 0.0)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``lon_min,lat_min,lon_max,lat_max`` (None when empty); a bad box is a 422."""
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if (len(values) != 4 or not all(math.isfinite(v) for v in values)
            or not -180 <= values[0] <= values[2] <= 180 or not -90 <= values[1] <= values[3] <= 90):
        raise ValidationFailed(N_("The box must be lon_min,lat_min,lon_max,lat_max in degrees, the minimum "
                                  "before the maximum."))
    return values  # type: ignore[return-value]


def buildings_3d(session: Session, bbox: tuple[float, float, float, float] | None, mode: str, *,
                 levels_visible: bool, own: set[int] | frozenset[int] = frozenset(),
                 limit: int = DEFAULT_FEATURES, thresholds: Sequence[float] | None = None) -> dict[str, Any]:
    """Buildings touching ``bbox`` as a lon/lat FeatureCollection for the 3D view (see the module
    docstring); ``truncated`` is true when more than ``limit`` touch the box. Heat-loss levels are
    included for every building when ``levels_visible``, else for the buildings in ``own`` only."""
    base = queries.buildings_geojson(session, bbox, limit=limit + 1)
    features = base["features"]
    truncated = len(features) > limit
    features = features[:limit]
    ids = [f["id"] for f in features]
    extra: dict[int, tuple[float | None, int | None, str | None]] = {}
    for start in range(0, len(ids), 500):
        q = (select(Building.id, Building.ground_m, Building.heat_loss_level, Building.construction_period)
             .where(Building.id.in_(ids[start:start + 500])))
        for building_id, ground, level, period in session.execute(q):
            extra[building_id] = (ground, level, period)
    lowest = extent(session).lowest_ground
    if thresholds is None:
        thresholds = solar_run.colour_thresholds(session)
    out = []
    for feature in features:
        props = feature["properties"]
        ground, level, period = extra.get(feature["id"], (None, None, None))
        base_m = round(max(0.0, (ground if ground is not None else lowest) - lowest), 2)
        potential = props.get("annual_kwh_m2")
        klass = solar_class(potential, thresholds)
        may_see = levels_visible or feature["id"] in own
        shown_level = level if may_see else None
        if mode == "heat":
            color = HEAT_COLORS.get(shown_level, NO_DATA_COLOR) if shown_level is not None else NO_DATA_COLOR
        else:
            color = SOLAR_COLOURS[klass] if klass is not None else NO_DATA_COLOR
        properties = {"id": feature["id"], "address": props.get("address"), "ref": props.get("ref"),
                      "height_m": props.get("height_m"), "ground_m": ground, "base_m": base_m,
                      "top_m": round(base_m + float(props.get("height_m") or 0.0), 2),
                      "roof_type": props.get("roof_type"), "storeys": props.get("storeys"),
                      "construction_period": period,
                      "annual_kwh_m2": None if potential is None else round(potential, 1),
                      "solar_class": klass, "color": color, "url": f"/twin/solar/buildings/{feature['id']}"}
        if may_see:
            properties["heat_loss_level"] = shown_level
            properties["level_shown"] = True
        out.append({"type": "Feature", "id": feature["id"], "geometry": feature["geometry"],
                    "properties": properties})
    return {"type": "FeatureCollection", "features": out, "mode": mode, "count": len(out),
            "truncated": truncated, "levels_visible": levels_visible,
            "own_buildings": sorted(i for i in own if i in extra)}


@router.get("/3d/buildings", summary="Twin: buildings of a box for the 3D view (GeoJSON)")
def buildings_3d_view(request: Request,
                      bbox: str | None = Query(None, description="lon_min,lat_min,lon_max,lat_max (WGS84)"),
                      mode: str = Query("solar", description="Colouring: solar or heat"),
                      limit: int = Query(DEFAULT_FEATURES, ge=1, le=MAX_FEATURES)) -> JSONResponse:
    if mode not in MODES:
        raise ValidationFailed(N_("The colouring must be solar or heat."))
    box = parse_bbox(bbox)
    principal = current_principal(request)
    access = level_access(request.app.state.settings.twin_thermography_visibility, principal)
    with request.app.state.db.read() as session:
        own = set() if access.visible else own_buildings(session, principal)
        thresholds = solar_run.colour_thresholds(session)  # read once: the features and the legend
        body = buildings_3d(session, box, mode, levels_visible=access.visible, own=own, limit=limit,
                            thresholds=thresholds)
    body["legend"] = legend(mode, thresholds)
    body["levels_notice"] = access.notice if mode == "heat" else None
    return JSONResponse(body, media_type="application/geo+json")


@router.get("/cityjson", summary="Twin: the buildings as CityJSON 2.0 (download)")
def cityjson(request: Request,
             lod: str = Query("2", description="2: LOD1 solids and LOD2 roofs; 1: LOD1 only")) -> Response:
    if lod not in ("1", "2"):
        raise ValidationFailed(N_("The level of detail must be 1 or 2."))
    settings = request.app.state.settings
    with request.app.state.db.read() as session:
        document = cityjson_export.export(session, queries.local_crs_of_twin(session), lod2=lod == "2",
                                          title=f"{settings.city_name} digital twin")
    return Response(cityjson_export.dumps(document), media_type="application/city+json",
                    headers={"Content-Disposition": 'attachment; filename="twin.city.json"'})
