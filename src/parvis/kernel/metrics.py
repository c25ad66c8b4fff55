"""Prometheus metrics at ``/metrics``: request counts and latencies by route."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("parvis_http_requests_total", "HTTP requests served",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("parvis_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry)

    def observe(self, scope: dict[str, Any], status: int, started: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", "unmatched")
        method = scope.get("method", "")
        self.requests.labels(method, path, str(status)).inc()
        self.latency.labels(method, path).observe(time.perf_counter() - started)

    def endpoint(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
