"""The city's digital twin: terrain and surface models, buildings and their roof faces, zoning,
flood hazard and protected areas; roof solar potential, home insulation, flood what-ifs and
buildable zones computed from them.

Other modules and the demo use this public surface only. It is loaded on first use (PEP 562), so
that the raster engines (``backend``, ``shadow``, ``skyview``, ``sun``, ``solar``, ``flood``) import
with NumPy, SciPy, pandas and pvlib alone: a GPU machine or a worker can run them without the web stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parvis.modules.twin.demo_twin import provision as provision_demo
    from parvis.modules.twin.home_service import classify_thermography, link_demo_owner
    from parvis.modules.twin.jobs import register, request_solar_run
    from parvis.modules.twin.planning_service import warm_up

_PUBLIC = {
    "classify_thermography": ("home_service", "classify_thermography"),
    "link_demo_owner": ("home_service", "link_demo_owner"),
    "provision_demo": ("demo_twin", "provision"),
    "register": ("jobs", "register"),
    "request_solar_run": ("jobs", "request_solar_run"),
    "warm_up": ("planning_service", "warm_up"),
}

__all__ = ["classify_thermography", "link_demo_owner", "provision_demo", "register", "request_solar_run",
           "warm_up"]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
