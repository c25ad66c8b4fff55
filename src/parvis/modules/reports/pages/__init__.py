"""HTML pages of the reports module: the citizens' side and the agents' back office."""

from fastapi import APIRouter

from parvis.modules.reports.pages.public import router as public_router


def routers() -> list[APIRouter]:
    out = [public_router]
    try:
        from parvis.modules.reports.pages.backoffice import router as backoffice_router
    except ImportError:  # pragma: no cover - the back office is optional while it is being built
        return out
    return [*out, backoffice_router]
