"""The twin's pages and JSON views: roof solar potential, my home (insulation), planners' flood and
buildable zones, the 3D view."""

from __future__ import annotations

from fastapi import APIRouter

from parvis.modules.twin import home_api, planning_api, solar_api, view3d_api
from parvis.modules.twin.pages import home, planning, solar, view3d


def routers() -> list[APIRouter]:
    return [solar_api.router, home_api.router, planning_api.router, view3d_api.router,
            solar.router, home.router, planning.router, view3d.router]
