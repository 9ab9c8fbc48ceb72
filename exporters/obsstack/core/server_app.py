"""What every obsstack HTTP server's application is made of: a FastAPI app without docs or
slash redirects that answers /health, the credentials check on every other path, and a
registry with the process metrics."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.registry import Collector

from obsstack.core import __version__
from obsstack.core.asgi import ASGIApp, Receive, Scope, Send
from obsstack.core.server_config import Auth

PUBLIC_PATHS = frozenset({"/health"})


class RequireAuth:
    """Pure ASGI middleware: a bearer token or basic credentials on every path but /health."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        if auth.bearer_token is not None:
            self.expected = f"Bearer {auth.bearer_token}".encode()
            self.challenge = b'Bearer realm="obsstack"'
        else:
            token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
            self.expected = f"Basic {token}".encode()
            self.challenge = b'Basic realm="obsstack"'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"www-authenticate", self.challenge),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"authentication required\n"})


def service_app(
    title: str,
    *,
    auth: Auth | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
) -> FastAPI:
    """A server's application: no docs or OpenAPI pages, no trailing-slash redirect (its
    Location would carry whatever Host the client sent), ``GET /health`` answered ``ok``
    without credentials, and with ``auth`` every other path asking for them."""
    app = FastAPI(
        title=title,
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        redirect_slashes=False,
    )
    if auth is not None:
        app.add_middleware(RequireAuth, auth=auth)

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    return app


def exporter_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry of ``collectors`` and the process's own metrics (CPU, memory, file
    descriptors, Python), described only when collected."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
