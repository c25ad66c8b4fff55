"""HTML pages of the alerts module: the citizens' side and the city's back office."""

from fastapi import APIRouter

from parvis.modules.alerts.pages.backoffice import router as backoffice_router
from parvis.modules.alerts.pages.public import router as public_router


def routers() -> list[APIRouter]:
    return [public_router, backoffice_router]
