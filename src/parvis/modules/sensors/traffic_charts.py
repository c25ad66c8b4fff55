"""Charts of a road segment's day drawn as inline SVG on the server: no chart library, readable on
a phone (the drawing scales to the page's width), with a title and a description for screen
readers; the page also gives the values as a table."""

from __future__ import annotations

import itertools
import math
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 400, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 30
STEPS = 4  # horizontal grid lines above zero


def _nice_step(value: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) so that ``STEPS`` steps reach ``value``."""
    raw = max(value, 1e-9) / STEPS
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if raw <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _x(hour: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * hour / 24


def _runs(points: dict[int, float]) -> list[list[tuple[int, float]]]:
    """Consecutive hours together: a gap in the data is a gap in the line."""
    hours = sorted(points)
    runs: list[list[tuple[int, float]]] = []
    for _key, group in itertools.groupby(enumerate(hours), key=lambda p: p[1] - p[0]):
        runs.append([(h, points[h]) for _i, h in group])
    return runs


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def line_chart(chart_id: str, title: str, description: str, today: dict[int, float],
               typical: dict[int, float], *, today_label: str, typical_label: str,
               now_hour: float | None = None) -> Markup:
    """Today (solid line) against a typical day (dashed), by local hour."""
    step = _nice_step(max([*today.values(), *typical.values(), 0.0]) * 1.05 or 1.0)
    top = step * STEPS

    def y(value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)

    cid = escape(chart_id)
    parts = [f'<svg class="chart" id="{cid}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-labelledby="{cid}-t {cid}-d" preserveAspectRatio="xMidYMid meet">',
             f'<title id="{cid}-t">{escape(title)}</title>',
             f'<desc id="{cid}-d">{escape(description)}</desc>']
    for i in range(STEPS + 1):  # horizontal grid and values
        value = step * i
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}"/><text class="chart-tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" '
                     f'text-anchor="end">{_fmt(value)}</text>')
    for hour in range(0, 25, 6):  # hours along the bottom
        anchor = "end" if hour == 24 else "middle"
        parts.append(f'<text class="chart-tick" x="{_x(hour):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
                     f'{hour:02d}:00</text>')
    if now_hour is not None:
        parts.append(f'<line class="chart-now" x1="{_x(now_hour):.1f}" x2="{_x(now_hour):.1f}" y1="{TOP}" '
                     f'y2="{HEIGHT - BOTTOM}"/>')
    lines = (("chart-typical", typical, typical_label), ("chart-today", today, today_label))
    for css, points, label in lines:
        for run in _runs(points):
            coords = " ".join(f"{_x(h + 0.5):.1f},{y(v):.1f}" for h, v in run)
            if len(run) == 1:
                parts.append(f'<circle class="{css}" cx="{_x(run[0][0] + 0.5):.1f}" cy="{y(run[0][1]):.1f}" '
                             f'r="3"><title>{escape(label)}</title></circle>')
            else:
                parts.append(f'<polyline class="{css}" points="{coords}"><title>{escape(label)}</title>'
                             '</polyline>')
    parts.append("</svg>")
    return Markup("".join(parts))
