"""Drawings of the solar pages, made on the server as inline SVG (no chart library, readable on a
phone, printable): the roof seen from above with each face coloured by its yearly irradiation,
and the monthly chart. Each has a title and a description for screen readers; the pages also
give the values as tables. The colour classes are shared with the map (``static/twin_solar.js``
reads them from the page)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup
from shapely.geometry import MultiPolygon, Polygon, shape

#: Upper bounds (kWh/m² a year) of the colour classes; the last class is everything above. Used
#: until a solar run has said what the best roof at the city gets (``thresholds_for``).
THRESHOLDS = (1200.0, 1500.0, 1800.0, 2100.0)
#: The classes as shares of the best unshaded plane at the city under the run's sky: under 50 %
#: (shaded or turned away), 50-65, 65-80, 80-90 (suggested for PV from 80 % by default), 90 % and
#: more. Relative classes keep the map telling roofs apart whatever the sky: under clear sky (an
#: upper bound) nearly every roof passed the fixed 2,100 kWh/m² and the map was one colour.
SHARES_OF_BEST = (0.5, 0.65, 0.8, 0.9)
#: One colour per class, from poor (shaded or turned away) to excellent; dark text reads on all.
COLOURS = ("#8c9bb0", "#fde68a", "#fbbf24", "#f97316", "#dc2626")
NO_DATA = "#e5e7eb"


def thresholds_for(best_kwh_m2: float | None) -> tuple[float, ...]:
    """The classes' bounds for a run whose best plane gets ``best_kwh_m2`` (rounded to 10 kWh/m²);
    the fixed ``THRESHOLDS`` when it is not known."""
    if best_kwh_m2 is None or not math.isfinite(best_kwh_m2) or best_kwh_m2 <= 0:
        return THRESHOLDS
    return tuple(round(best_kwh_m2 * share / 10.0) * 10.0 for share in SHARES_OF_BEST)


def potential_class(kwh_m2: float | None, thresholds: Sequence[float] = THRESHOLDS) -> int | None:
    """The colour class (0-4) of a yearly irradiation, or None when it is not known."""
    if kwh_m2 is None or not math.isfinite(kwh_m2):
        return None
    return sum(1 for t in thresholds if kwh_m2 >= t)


def colour(kwh_m2: float | None, thresholds: Sequence[float] = THRESHOLDS) -> str:
    cls = potential_class(kwh_m2, thresholds)
    return NO_DATA if cls is None else COLOURS[cls]


def legend_texts(thresholds: Sequence[float] = THRESHOLDS) -> list[dict[str, Any]]:
    """The classes with their translated labels in the page's language: colour and text."""
    from parvis.kernel.i18n import _, current

    def num(value: float) -> str:
        return current().format_number(round(value))

    out = []
    for item in legend(thresholds):
        if item["low"] is None:
            text = _("under %(value)s kWh/m²", value=num(item["high"]))
        elif item["high"] is None:
            text = _("%(value)s kWh/m² and more", value=num(item["low"]))
        else:
            text = _("%(low)s to %(high)s kWh/m²", low=num(item["low"]), high=num(item["high"]))
        out.append({"colour": item["colour"], "text": text})
    return out


def legend(thresholds: Sequence[float] = THRESHOLDS) -> list[dict[str, Any]]:
    """The classes for a legend: colour and bounds (``low`` None for the first, ``high`` for the last)."""
    bounds = (None, *thresholds, None)
    return [{"colour": COLOURS[i], "low": bounds[i], "high": bounds[i + 1]} for i in range(len(COLOURS))]


def _rings(geom: Polygon | MultiPolygon) -> list[list[tuple[float, float]]]:
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    out = []
    for poly in polys:
        out.append([(x, y) for x, y, *_ in poly.exterior.coords])
        out.extend([(x, y) for x, y, *_ in ring.coords] for ring in poly.interiors)
    return out


def roof_svg(
    chart_id: str, title: str, description: str, faces: Sequence[dict[str, Any]], size: int = 320,
    thresholds: Sequence[float] = THRESHOLDS,
) -> Markup:
    """The roof from above, north up: each face (``polygon``: GeoJSON in local metres) filled with
    its class colour and labelled with its number; a north arrow and a 5 or 10 m scale bar."""
    shapes = [(f, shape(f["polygon"])) for f in faces if f.get("polygon")]
    cid = escape(chart_id)
    head = (
        f'<svg class="roof-drawing" id="{cid}" viewBox="0 0 {size} {size}" role="img" '
        f'aria-labelledby="{cid}-t {cid}-d"><title id="{cid}-t">{escape(title)}</title>'
        f'<desc id="{cid}-d">{escape(description)}</desc>'
    )
    if not shapes:
        return Markup(head + "</svg>")
    xs = [b for _f, g in shapes for b in (g.bounds[0], g.bounds[2])]
    ys = [b for _f, g in shapes for b in (g.bounds[1], g.bounds[3])]
    west, east, south, north = min(xs), max(xs), min(ys), max(ys)
    margin = 28.0
    scale = (size - 2 * margin) / max(east - west, north - south, 1.0)
    off_x = (size - (east - west) * scale) / 2
    off_y = (size - (north - south) * scale) / 2

    def px(x: float, y: float) -> str:
        return f"{off_x + (x - west) * scale:.1f},{off_y + (north - y) * scale:.1f}"

    parts = [head]
    for face, geom in shapes:
        path = " ".join("M" + " L".join(px(x, y) for x, y in ring) + " Z" for ring in _rings(geom))
        label = f"{face['number']}"
        parts.append(
            f'<path class="roof-face" d="{path}" fill="{colour(face.get("annual_kwh_m2"), thresholds)}" '
            f'fill-rule="evenodd" stroke="#1f2937" stroke-width="1.5" '
            f'data-face="{face["number"]}"><title>{escape(label)}</title></path>'
        )
        point = geom.representative_point()
        parts.append(
            f'<text class="roof-label" x="{px(point.x, point.y).split(",")[0]}" '
            f'y="{float(px(point.x, point.y).split(",")[1]) + 8:.1f}" text-anchor="middle" '
            f'font-size="22" font-weight="bold" fill="#111827">{face["number"]}</text>'
        )
    parts.append(
        f'<path d="M{size - 16},8 l6,16 l-6,-4 l-6,4 Z" fill="#111827"/>'
        f'<text x="{size - 16}" y="40" text-anchor="middle" font-size="14" fill="#111827">N</text>'
    )
    metres = 10 if (east - west) > 25 else 5
    bar = metres * scale
    parts.append(
        f'<line x1="8" x2="{8 + bar:.1f}" y1="{size - 10}" y2="{size - 10}" stroke="#111827" '
        f'stroke-width="3"/><text x="8" y="{size - 16}" font-size="14" fill="#111827">{metres} m</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice_top(value: float, steps: int = 4) -> float:
    raw = max(value, 1e-9) / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if raw <= step * magnitude:
            return step * magnitude * steps
    return 10 * magnitude * steps


def monthly_chart(
    chart_id: str,
    title: str,
    description: str,
    values: Sequence[float],
    month_labels: Sequence[str],
    unit: str,
    number: Any = None,
) -> Markup:
    """Twelve bars (January to December) with a value axis; ``number`` formats the axis values
    (the page's locale), default plain integers."""
    width, height, left, right, top, bottom = 480, 240, 52, 8, 26, 28
    fmt = number or (lambda v: f"{v:.0f}")
    peak = _nice_top(max([*values, 0.0]) * 1.05 or 1.0)
    inner_w, inner_h = width - left - right, height - top - bottom

    def y(value: float) -> float:
        return top + inner_h * (1 - value / peak)

    cid = escape(chart_id)
    parts = [
        f'<svg class="chart solar-chart" id="{cid}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{cid}-t {cid}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{cid}-t">{escape(title)}</title><desc id="{cid}-d">{escape(description)}</desc>',
    ]
    for i in range(5):
        value = peak * i / 4
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}" stroke="#d1d5db"/><text class="chart-tick" x="{left - 6}" '
            f'y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">{escape(fmt(value))}</text>'
        )
    slot = inner_w / 12
    for m, value in enumerate(values[:12]):
        x = left + m * slot + slot * 0.15
        parts.append(
            f'<rect class="solar-bar" x="{x:.1f}" y="{y(value):.1f}" width="{slot * 0.7:.1f}" '
            f'height="{max(0.0, height - bottom - y(value)):.1f}" fill="#f59e0b">'
            f"<title>{escape(month_labels[m])}: {escape(fmt(value))} {escape(unit)}</title></rect>"
        )
        parts.append(
            f'<text class="chart-tick" x="{left + (m + 0.5) * slot:.1f}" y="{height - 10}" '
            f'text-anchor="middle" font-size="11">{escape(month_labels[m][:3])}</text>'
        )
    parts.append(f'<text x="4" y="12" font-size="12">{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
