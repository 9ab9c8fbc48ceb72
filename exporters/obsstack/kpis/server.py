"""HTTP endpoints of the KPI exporter: /metrics, /ready, /health and a landing page."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from obsstack.core import __version__
from obsstack.core.exposition import CachedExposition
from obsstack.core.server_app import plain_app, process_collectors
from obsstack.core.server_config import Auth
from obsstack.kpis.engine import KpiEngine
from obsstack.kpis.exposition import KpiCollector


def create_app(engine: KpiEngine, auth: Auth | None = None) -> Starlette:
    """The KPI exporter's ASGI application; the lifespan starts and stops the engine.

    With ``auth`` (default: ``server.auth`` of the configuration) every path but /health asks
    for the bearer token or the basic credentials, as the probe exporter does. ``/metrics``
    serves the KPIs as rendered when their last run ended (only the process's CPU and memory
    are rendered at each scrape), so a scrape costs a copy whatever the queries cost. Starlette
    without FastAPI: four fixed routes need no more, and the exporter stays small in memory.
    """
    auth = auth or engine.config.auth

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    process, python = process_collectors()
    exposition = CachedExposition([KpiCollector(engine)], [process], [python])
    engine.listeners.append(exposition.changed)

    async def metrics(request: Request) -> Response:
        body, content_type = exposition.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    async def ready(_request: Request) -> JSONResponse:
        """200 once every KPI query has succeeded at least once, else 503."""
        queries = {
            name: {
                "success": state.success,
                "duration_seconds": round(state.duration, 6),
                "last_success": state.last_success,
                "error": state.last_error or None,
                "series": len(state.samples),
            }
            for name, state in engine.states.items()
        }
        waiting = [name for name, state in engine.states.items() if state.last_success is None]
        body = {"status": "waiting" if waiting else "ready", "waiting": waiting, "kpis": queries}
        return JSONResponse(body, status_code=503 if waiting else 200)

    async def landing(_request: Request) -> HTMLResponse:
        return HTMLResponse(landing_page(engine))

    routes = [
        Route(path, endpoint, methods=["GET"])
        for path, endpoint in (("/metrics", metrics), ("/ready", ready), ("/", landing))
    ]
    return plain_app(routes, auth=auth, lifespan=lifespan)


def landing_page(engine: KpiEngine) -> str:
    """A small HTML page: every KPI with its last run, and links to the endpoints."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(state.kpi.metric)}</td>"
        f"<td>{'ok' if state.success else 'not yet' if state.success is None else 'failed'}"
        f"</td><td>{len(state.samples)}</td><td>{html.escape(state.last_error)}</td></tr>"
        for name, state in engine.states.items()
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>obsstack KPI exporter</title></head><body>"
        f"<h1>obsstack KPI exporter {html.escape(__version__)}</h1>"
        f"<p><a href='metrics'>/metrics</a> &middot; <a href='ready'>/ready</a></p>"
        f"<table><tr><th>KPI</th><th>metric</th><th>last run</th><th>series</th>"
        f"<th>error</th></tr>{rows}</table></body></html>"
    )
