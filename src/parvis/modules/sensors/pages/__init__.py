"""The sensor hub's pages: traffic, parking, air quality, waste and the operations room."""

from __future__ import annotations

from fastapi import APIRouter

from parvis.modules.sensors.pages import air, operations, parking, traffic, waste


def routers() -> list[APIRouter]:
    return [traffic.router, parking.router, air.router, waste.router, operations.router]
