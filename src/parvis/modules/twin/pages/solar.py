"""Roof solar potential pages.

Citizens (public: a roof's potential is not personal): ``/twin/solar`` finds a building by
address (a plain form, works without JavaScript) or by a click on the map
(``static/twin_solar.js``: buildings coloured by potential, loaded for the map's view from the
JSON API); ``/twin/solar/buildings/{id}`` shows the roof drawn from above with each face coloured,
the monthly chart, the figures per face and in total, and the method with its limits;
``.../summary`` is a one-page printable summary, and ``?download=1`` gives the same page as an
HTML file to keep (self-contained: its styles are inside).

Energy department (``twin.plan``): ``/twin/solar/city``, the city-wide map and the statistics per
district, and ``/twin/solar/districts.csv``.

While a run is queued or running the pages say "being computed (N %)" instead of figures.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from parvis.kernel.auth import Principal, require
from parvis.kernel.errors import N_
from parvis.kernel.i18n import _, current
from parvis.kernel.web import render
from parvis.modules import city
from parvis.modules.twin import queries, solar_charts, solar_run
from parvis.modules.twin.errors import BuildingNotFound
from parvis.settings import Settings

router = APIRouter(include_in_schema=False)

PLAN = "twin.plan"
MONTHS = (
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
)
SEARCH_MAX = 20


def _num(value: float | None, digits: int = 0) -> str:
    """A number in the page's language (grouping and decimal mark), or a dash when unknown."""
    if value is None:
        return "–"
    return current().format_number(round(float(value), digits) if digits else round(float(value)))


def _money(value: float | None, settings: Settings) -> str:
    if value is None:
        return "–"
    return current().format_currency(round(float(value), -2 if value >= 10_000 else 0), settings.currency)


def _map_context(session: Any) -> dict[str, Any]:
    import json

    bounds = solar_run.twin_bounds_lonlat(session)
    thresholds = solar_run.colour_thresholds(session)
    return {
        "map_bounds": json.dumps(bounds) if bounds else "",
        "map_classes": json.dumps(
            {
                "thresholds": list(thresholds),
                "colours": list(solar_charts.COLOURS),
                "none": solar_charts.NO_DATA,
            }
        ),
        "legend": solar_charts.legend_texts(thresholds),
    }


def _state_view(state: dict[str, Any]) -> dict[str, Any]:
    return {"state": state["state"], "percent": state["percent"], "message": state["message"]}


@router.get("/twin/solar", response_class=HTMLResponse)
def solar_home(request: Request) -> HTMLResponse:
    q = (request.query_params.get("q") or "").strip()[:200]
    with request.app.state.db.read() as session:
        results = queries.search(session, q, limit=SEARCH_MAX) if q else None
        names = city.district_names(session) if results else {}
        state = solar_run.run_state(session)
        ctx = _map_context(session)
    if results:
        for item in results:
            item["district"] = names.get(item["district_id"]) if item["district_id"] is not None else None
    return render(
        request,
        "twin/solar_search.html",
        {"q": q, "results": results, "run": _state_view(state), "search_max": SEARCH_MAX, **ctx},
    )


def _face_rows(faces: list[dict[str, Any]], settings: Settings, thresholds: Sequence[float]
               ) -> list[dict[str, Any]]:
    rows = []
    for f in faces:
        rows.append(
            {
                "number": f["number"],
                "colour": solar_charts.colour(f["annual_kwh_m2"], thresholds),
                "orientation": _orientation(f["tilt"], f["azimuth"]),
                "tilt": _num(f["tilt"]),
                "area": _num(f["area_m2"], 1),
                "annual": _num(f["annual_kwh_m2"]),
                "usable": _num(f["usable_area_m2"], 1),
                "kwp": _num(f["kwp"], 1),
                "yearly": _num(f["yearly_kwh"]),
                "saving": _money(f["saving"], settings),
                "suitable": f["suitable"],
                "known": f["annual_kwh_m2"] is not None,
            }
        )
    return rows


_DIRECTIONS = (
    N_("north"),
    N_("north-east"),
    N_("east"),
    N_("south-east"),
    N_("south"),
    N_("south-west"),
    N_("west"),
    N_("north-west"),
)


def _orientation(tilt: float, azimuth: float) -> str:
    if tilt < 3:
        return _("flat")
    return _("facing %(direction)s", direction=_(_DIRECTIONS[int(((azimuth % 360) + 22.5) // 45) % 8]))


def _building_context(request: Request, building_id: int) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    with request.app.state.db.read() as session:
        found = solar_run.building_solar(session, building_id)
        if found is None:
            raise BuildingNotFound()
        state = solar_run.run_state(session)
        used = solar_run.computed_with(session)
        thresholds = solar_charts.thresholds_for(used.get("best_plane_kwh_m2"))
        district = (
            city.district_names(session).get(found["district_id"])
            if found["district_id"] is not None
            else None
        )
    totals = found["totals"]
    months = [_(m) for m in MONTHS]
    name = found["address"] or found["ref"]
    chart = roof = None
    chart_rows: list[dict[str, str]] = []
    if found["computed"]:
        has_pv = totals["kwp"] > 0
        values = totals["monthly_kwh"] if has_pv else (totals["monthly_kwh_m2"] or [0.0] * 12)
        unit = "kWh" if has_pv else "kWh/m²"
        title = (
            _("Estimated production per month of the suggested installation (kWh)")
            if has_pv
            else _("Irradiation per month of the best roof face (kWh/m²)")
        )
        chart = solar_charts.monthly_chart(
            "solar-monthly",
            title,
            _("Bars from January to December; the values are also given month by month below the chart."),
            values,
            months,
            unit,
            number=lambda v: _num(v),
        )
        chart_rows = [{"month": months[m], "value": _num(values[m])} for m in range(12)]
        chart_title = title
    else:
        chart_title = ""
    roof = solar_charts.roof_svg(
        "solar-roof",
        _("The roof of %(name)s seen from above", name=name),
        _("Each roof face is numbered and coloured by its yearly irradiation; north is up."),
        found["faces"],
        thresholds=thresholds,
    )
    figures = {
        "annual": _num(totals["annual_kwh_m2"]),
        "best": _num(totals["best_kwh_m2"]),
        "usable": _num(totals["usable_area_m2"], 1),
        "kwp": _num(totals["kwp"], 1),
        "yearly": _num(totals["yearly_kwh"]),
        "saving": _money(totals["saving"], settings),
        "area": _num(totals["area_m2"], 1),
        "suitable_faces": totals["suitable_faces"],
        "has_pv": totals["kwp"] > 0,
    }
    return {
        "building": found,
        "name": name,
        "district": district,
        "faces": _face_rows(found["faces"], settings, thresholds),
        "figures": figures,
        "chart": chart,
        "chart_title": chart_title,
        "chart_rows": chart_rows,
        "roof": roof,
        "run": _state_view(state),
        "computed": found["computed"],
        "legend": solar_charts.legend_texts(thresholds),
        "price": _money(settings.twin_electricity_price, settings),
        "clear_sky": used.get("sky", "typical year" if settings.twin_tmy_file else "clear sky")
        == "clear sky",
        "min_kwh": _num(used.get("pv_threshold_kwh_m2", settings.twin_pv_min_annual_kwh_m2)),
        "usable_share": _num(settings.twin_pv_usable_fraction * 100),
        "efficiency": _num(settings.twin_pv_module_efficiency * 100),
    }


@router.get("/twin/solar/buildings/{building_id}", response_class=HTMLResponse)
def solar_building(request: Request, building_id: int) -> HTMLResponse:
    return render(request, "twin/solar_building.html", _building_context(request, building_id))


@router.get("/twin/solar/buildings/{building_id}/summary", response_class=HTMLResponse)
def solar_summary(request: Request, building_id: int) -> HTMLResponse:
    """One printable A4 page; ``?download=1``: the same page as a file to keep (styles inside)."""
    ctx = _building_context(request, building_id)
    download = request.query_params.get("download") == "1"
    headers = None
    if download:
        ref = "".join(c for c in ctx["building"]["ref"] if c.isalnum() or c in "-_") or str(building_id)
        headers = {"Content-Disposition": f'attachment; filename="solar-{ref}.html"'}
    return render(request, "twin/solar_summary.html", {**ctx, "download": download}, headers=headers)


@router.get("/twin/solar/city", response_class=HTMLResponse)
def solar_city(request: Request, principal: Annotated[Principal, Depends(require(PLAN))]) -> HTMLResponse:
    with request.app.state.db.read() as session:
        stats = solar_run.district_stats(session)
        state = solar_run.run_state(session)
        ctx = _map_context(session)
    return render(
        request, "twin/solar_city.html", {"stats": _stats_view(stats), "run": _state_view(state), **ctx}
    )


def _stats_view(stats: dict[str, Any]) -> dict[str, Any]:
    def view(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": row["name"] or (_("Outside the districts") if row is not stats["total"] else _("City")),
            "buildings": _num(row["buildings"]),
            "suitable": _num(row["suitable_buildings"]),
            "share": _num(row["share_suitable"] * 100),
            "area": _num(row["usable_area_m2"]),
            "kwp": _num(row["kwp"]),
            "mwh": _num(row["yearly_mwh"]),
        }

    return {"districts": [view(r) for r in stats["districts"]], "total": view(stats["total"])}


@router.get("/twin/solar/districts.csv")
def solar_districts_csv(
    request: Request, principal: Annotated[Principal, Depends(require(PLAN))]
) -> Response:
    """Statistics per district as CSV (comma-separated, dot decimals, UTF-8): one row per
    district, then a ``total`` row."""
    with request.app.state.db.read() as session:
        stats = solar_run.district_stats(session)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "district_id",
            "district",
            "buildings",
            "suitable_buildings",
            "share_suitable_pct",
            "suitable_roof_area_m2",
            "kwp",
            "yearly_mwh",
        ]
    )
    for row in [*stats["districts"], {**stats["total"], "name": "total"}]:
        writer.writerow(
            [
                "" if row["district_id"] is None else row["district_id"],
                row["name"] or "",
                row["buildings"],
                row["suitable_buildings"],
                f"{row['share_suitable'] * 100:.1f}",
                f"{row['usable_area_m2']:.1f}",
                f"{row['kwp']:.1f}",
                f"{row['yearly_mwh']:.2f}",
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="solar-districts.csv"'},
    )
