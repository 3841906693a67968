"""The gateway's ASGI application: probes, metrics (unless ``GATEWAY_METRICS_PORT`` moves them to a
port of their own), the JSON API under /api/v1."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lethe.analytics.v1 import analytics_pb2_grpc
from lethe.consent.v1 import consent_pb2_grpc
from lethe.identity.v1 import identity_pb2_grpc
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe.shop.v1 import shop_pb2_grpc
from lethe_gateway import access_log
from lethe_gateway.access_log import route_template
from lethe_gateway.backends import Backends
from lethe_gateway.body_limit import BodyLimit, BodyLimitMiddleware
from lethe_gateway.config import GatewayConfig
from lethe_gateway.errors import install_error_handlers
from lethe_gateway.openapi_errors import install_openapi
from lethe_gateway.routes import api_router, body_limits
from lethe_gateway.session_cache import SessionCache
from lethe_gateway.web import STATIC_DIR, web_router
from lethe_gateway.web.headers import SecurityHeadersMiddleware

HTTP_REQUESTS = Counter(
    "lethe_http_requests_total", "HTTP requests, by route and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "lethe_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ObserveMiddleware:
    """Counts and times every request by method, route template and status.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` wraps every request in
    an extra task and stream, which cost the gateway more CPU per request than its whole
    route for ``GET /api/v1/me`` (bench/bench_scale.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the handler raises past this point

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The full template (an included router's route knows only its own part).
            route = route_template(scope.get("route"), str(scope.get("path", ""))) or "unmatched"
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()


def create_app(config: GatewayConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backends = Backends(config.backends, config.health_timeout_seconds)
        app.state.identity = identity_pb2_grpc.IdentityServiceStub(app.state.backends.channels["identity"])
        app.state.consent = consent_pb2_grpc.ConsentServiceStub(app.state.backends.channels["consent"])
        app.state.newsletter = newsletter_pb2_grpc.NewsletterServiceStub(
            app.state.backends.channels["newsletter"]
        )
        app.state.shop = shop_pb2_grpc.ShopServiceStub(app.state.backends.channels["shop"])
        app.state.analytics = analytics_pb2_grpc.AnalyticsServiceStub(
            app.state.backends.channels["analytics"]
        )
        yield
        await app.state.backends.close()

    app = FastAPI(
        title="Lethe API",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    app.state.sessions = SessionCache(config.session_cache_seconds)
    install_error_handlers(app)
    app.include_router(api_router())
    install_openapi(app)
    app.include_router(web_router())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Added first, so it runs inside ObserveMiddleware, which counts its 413s too.
    app.add_middleware(BodyLimitMiddleware, default=BodyLimit(config.max_body_bytes), paths=body_limits())
    app.add_middleware(ObserveMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)  # every response, the refusals of the others too
    access_log.install(app, config.access_log_dir)  # outside: it logs the status the client got

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        backends = await request.app.state.backends.health()
        ready = all(status == "SERVING" for status in backends.values())
        return JSONResponse(
            {"status": "ready" if ready else "unready", "backends": backends},
            status_code=200 if ready else 503,
        )

    if config.metrics_port is None:  # else only on the metrics port (api.py), never publicly

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
