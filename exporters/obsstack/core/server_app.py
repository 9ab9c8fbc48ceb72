"""What every obsstack HTTP server's application is made of: an app without docs or slash
redirects that answers /health, the credentials check on every other path, and a registry
with the process metrics. FastAPI for servers that use it, or Starlette alone for a server
with a few fixed routes (FastAPI and pydantic cost ~17 MiB of resident memory)."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route

from obsstack.core import __version__
from obsstack.core.asgi import ASGIApp, Receive, Scope, Send
from obsstack.core.server_config import Auth

if TYPE_CHECKING:
    from fastapi import FastAPI

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
    from fastapi import FastAPI

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


async def _health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok\n")


def plain_app(
    routes: Sequence[BaseRoute],
    *,
    auth: Auth | None = None,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]] | None = None,
) -> Starlette:
    """The same application as :func:`service_app` on Starlette alone, serving ``routes``."""
    middleware = [Middleware(RequireAuth, auth=auth)] if auth is not None else []
    app = Starlette(
        routes=[Route("/health", _health, methods=["GET"]), *routes],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    return app


def process_collectors() -> tuple[Collector, Collector]:
    """What every exporter serves after its own metrics: the process's (CPU, memory, file
    descriptors), then the Python it runs on (which never changes)."""
    return ProcessCollector(registry=None), PlatformCollector(registry=None)


def exporter_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry of ``collectors`` and :func:`process_collectors`, described only when
    collected."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in (*collectors, *process_collectors()):
        registry.register(collector)
    return registry
