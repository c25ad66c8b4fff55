"""``create_app(settings)``: the ASGI application. Nothing is created at import time."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import anyio.to_thread
import swagger_ui_bundle
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.middleware.gzip import GZipMiddleware
from xstatic.pkg import leaflet as xs_leaflet
from xstatic.pkg import leaflet_markercluster as xs_cluster

from parvis import __version__, notify_setup
from parvis.kernel import privacy
from parvis.kernel.access_log import AccessLog
from parvis.kernel.db import Database
from parvis.kernel.files import LocalFileStore
from parvis.kernel.jobs import JobRegistry
from parvis.kernel.metrics import Metrics
from parvis.kernel.web import RequestContext, install_error_handlers, templates_env
from parvis.modules import accounts, alerts, reports, sensors, twin
from parvis.modules.accounts import api as accounts_api
from parvis.modules.accounts import pages as accounts_pages
from parvis.modules.accounts import queries as accounts_queries
from parvis.modules.alerts import api as alerts_api
from parvis.modules.alerts import cap_api as alerts_cap_api
from parvis.modules.alerts import pages as alerts_pages
from parvis.modules.city import api as city_api
from parvis.modules.city import pages as city_pages
from parvis.modules.reports import api as reports_api
from parvis.modules.reports import open311_api
from parvis.modules.reports import pages as reports_pages
from parvis.modules.sensors import api as sensors_api
from parvis.modules.sensors import batch_api as sensors_batch_api
from parvis.modules.sensors import discovery_api as sensors_discovery_api
from parvis.modules.sensors import events_api as sensors_events_api
from parvis.modules.sensors import iot_api as sensors_iot_api
from parvis.modules.sensors import keys_api as sensors_keys_api
from parvis.modules.sensors import pages as sensors_pages
from parvis.modules.sensors import subscriptions_api as sensors_subscriptions_api
from parvis.modules.sensors import temporal_api as sensors_temporal_api
from parvis.modules.sensors import views_api as sensors_views_api
from parvis.modules.sensors.collection_slash import CollectionSlash, collection_patterns
from parvis.modules.sensors.ngsi_route import unknown_route
from parvis.modules.twin import pages as twin_pages
from parvis.settings import Settings, get_settings


def register_privacy_hooks() -> None:
    privacy.register("account", accounts_queries.export_account, accounts_queries.erase_account_data)
    privacy.register("reports", reports.export_reports, reports.erase_reporter)
    privacy.register("alerts", alerts.export_person, alerts.erase_person)
    notify_setup.register_privacy()


def build_registry(settings: Settings, db: Database) -> JobRegistry:
    """Jobs, periodic ticks and event subscriptions of every module."""
    registry = JobRegistry()
    notify_setup.register_jobs(registry, settings)
    reports.register(registry, db.bus, db, settings)
    alerts.register(registry, db.bus, db, settings)
    sensors.register(registry, db.bus, db, settings)
    twin.register(registry, db.bus, db, settings)
    return registry


def warm_up(app: FastAPI) -> threading.Thread:
    """Prepare, in a background thread, what a module would otherwise compute on its first request
    (the planners' flood and buildable models). For the long-running web processes (``parvis
    serve``); tests and ``create_app`` do not."""
    db, settings = app.state.db, app.state.settings
    thread = threading.Thread(target=twin.warm_up, args=(db, settings), name="parvis-warm-up", daemon=True)
    thread.start()
    return thread


def routers() -> list[APIRouter]:
    """Every router of Parvis, JSON first, then pages (also walked by the access-table test).
    NGSI-LD first: its sensors write thousands of times a second, and a request is matched
    against the routers in this order."""
    return [sensors_api.router, sensors_batch_api.router, accounts_api.router, city_api.router,
            reports_api.router, open311_api.router,
            alerts_api.router, alerts_cap_api.router, sensors_keys_api.router,
            sensors_iot_api.router, sensors_temporal_api.router, sensors_subscriptions_api.router,
            sensors_discovery_api.router,
            sensors_events_api.router, sensors_views_api.router,
            notify_setup.router(), accounts_pages.router, city_pages.router,
            *reports_pages.routers(), *alerts_pages.routers(), *sensors_pages.routers(),
            *twin_pages.routers()]


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = database or Database(settings.database_url)
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints and the principal lookup run in anyio's thread pool: size it.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="Parvis API",
        version=__version__,
        description="Open city platform: districts, departments, people and notifications.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.templates = templates_env()
    app.state.metrics = Metrics()
    app.state.files = LocalFileStore(settings.data_dir / "files")
    app.state.registry = build_registry(settings, db)
    register_privacy_hooks()

    install_error_handlers(app, {sensors_api.PREFIX: unknown_route})
    ngsi_routers = (sensors_api.router, sensors_batch_api.router, sensors_temporal_api.router,
                    sensors_subscriptions_api.router, sensors_discovery_api.router)
    app.add_middleware(CollectionSlash, prefix=sensors_api.PREFIX, patterns=collection_patterns(
        (route for router in ngsi_routers for route in router.routes), sensors_api.PREFIX))
    app.add_middleware(GZipMiddleware, minimum_size=500)
    # one line a request, but none for the sensors' successful machine-to-machine requests
    # (``kernel/access_log.py``; uvicorn's own access log is off: ``parvis serve``)
    access_log = AccessLog(settings.access_log, machine_prefixes=(sensors_api.PREFIX, sensors_iot_api.PREFIX))
    # NGSI-LD routes read their bodies within PARVIS_NGSI_MAX_BODY_BYTES and refuse a larger one
    # with the spec's problem type (sensors/api.py ``read_body``)
    app.add_middleware(RequestContext, settings=settings, resolver=accounts.resolve_principal,
                       database=db, metrics=app.state.metrics, own_body_limits=(sensors_api.PREFIX,),
                       access_log=access_log)

    static_root = resources.files("parvis") / "static"
    app.mount("/static/vendor/leaflet", StaticFiles(directory=xs_leaflet.BASE_DIR), name="leaflet")
    app.mount("/static/vendor/markercluster", StaticFiles(directory=xs_cluster.BASE_DIR), name="cluster")
    app.mount("/static/vendor/swagger-ui",
              StaticFiles(directory=Path(swagger_ui_bundle.swagger_ui_path)), name="swagger")
    app.mount("/static", StaticFiles(directory=str(static_root)), name="static")

    for router in routers():
        app.include_router(router)

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json", title="Parvis API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/icon.svg",
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            with db.read() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": type(exc).__name__},
                                status_code=503)
        return JSONResponse({"status": "ready", "database": db.dialect})

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return app.state.metrics.endpoint(request)

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> Response:
        body = (static_root / "sw.js").read_text(encoding="utf-8")
        return Response(body, media_type="text/javascript",
                        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"})

    return app
