"""HTTP endpoints of the probe exporter: /metrics, /probe, /ready, /health and a landing page."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from obsstack.core import __version__
from obsstack.core.exposition import render
from obsstack.core.server_app import exporter_registry, plain_app
from obsstack.probe.config import Config
from obsstack.probe.engine import Prober
from obsstack.probe.exposition import ProbeCollector, StateCollector

SCRAPE_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds"


def _bad_request(message: str) -> PlainTextResponse:
    return PlainTextResponse(f"{message}\n", status_code=400)


def create_app(config: Config, prober: Prober | None = None) -> Starlette:
    """The exporter's ASGI application for ``config`` (Starlette without FastAPI: its five
    routes need no more, and the exporter stays small in memory)."""
    prober = prober or Prober(config)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await prober.aclose()

    registry = exporter_registry(StateCollector(prober))

    async def metrics(request: Request) -> Response:
        await prober.probe_all(prober.budget(request.headers.get(SCRAPE_TIMEOUT_HEADER)))
        body, content_type = render(registry, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    async def probe(request: Request) -> Response:
        params = request.query_params
        unknown = sorted(set(params) - {"target"})
        if unknown:
            return _bad_request(
                f"unknown query parameter {unknown[0][:64]!r}: only target is accepted"
            )
        targets = params.getlist("target")
        if len(targets) != 1 or not targets[0]:
            return _bad_request("target: exactly one target=NAME is required")
        name = targets[0]
        state = prober.states.get(name)
        if state is None:
            # Only configured names are probed: no request can point the exporter elsewhere.
            return _bad_request(
                f"target: {name[:64]!r} is not a configured dependency "
                f"(configured: {', '.join(prober.states)})"
            )
        outcome = await prober.probe(
            name, prober.budget(request.headers.get(SCRAPE_TIMEOUT_HEADER))
        )
        one_shot = CollectorRegistry(auto_describe=False)
        one_shot.register(ProbeCollector(state, outcome))
        body, content_type = render(one_shot, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    async def ready(_request: Request) -> JSONResponse:
        await prober.refresh(config.scrape_budget)
        dependencies = {}
        critical_down = []
        for name, state in prober.states.items():
            outcome = state.last
            up = bool(outcome and outcome.up)
            if state.dependency.critical and not up:
                critical_down.append(name)
            dependencies[name] = {
                "kind": state.dependency.kind,
                "critical": state.dependency.critical,
                "up": up,
                "latency_seconds": round(outcome.duration, 6) if outcome else None,
                "error": outcome.reason if outcome else None,
                "detail": outcome.message if outcome else "not probed yet",
                "circuit": state.circuit.state,
            }
        body = {
            "status": "unavailable" if critical_down else "ready",
            "critical_down": critical_down,
            "dependencies": dependencies,
        }
        return JSONResponse(body, status_code=503 if critical_down else 200)

    async def landing(_request: Request) -> HTMLResponse:
        await prober.refresh(config.scrape_budget)
        return HTMLResponse(landing_page(prober))

    routes = [
        Route(path, endpoint, methods=["GET"])
        for path, endpoint in (
            ("/metrics", metrics),
            ("/probe", probe),
            ("/ready", ready),
            ("/", landing),
        )
    ]
    app = plain_app(routes, auth=config.auth, lifespan=lifespan)
    app.state.prober = prober
    return app


def landing_page(prober: Prober) -> str:
    """A small HTML page: every dependency with its last result, and links to the endpoints."""
    rows = []
    for name, state in prober.states.items():
        outcome = state.last
        if outcome is None:
            status, detail, latency = "unknown", "not probed yet", ""
        else:
            status = "up" if outcome.up else f"down ({outcome.reason})"
            detail = outcome.message
            latency = f"{outcome.duration * 1000:.1f} ms"
        rows.append(
            "<tr>"
            f'<td><a href="probe?target={html.escape(name)}">{html.escape(name)}</a></td>'
            f"<td>{html.escape(state.dependency.kind)}</td>"
            f"<td>{'yes' if state.dependency.critical else 'no'}</td>"
            f'<td class="{"up" if outcome and outcome.up else "down"}">{html.escape(status)}</td>'
            f"<td>{html.escape(latency)}</td><td>{html.escape(detail)}</td></tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>obsstack exporter</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }}
.up {{ color: #1a7f37; }} .down {{ color: #cf222e; }}
</style></head><body>
<h1>obsstack exporter {html.escape(__version__)}</h1>
<p><a href="metrics">/metrics</a> &middot; <a href="ready">/ready</a> &middot;
<a href="health">/health</a></p>
<table><tr><th>dependency</th><th>kind</th><th>critical</th><th>state</th><th>latency</th>
<th>detail</th></tr>
{"".join(rows)}
</table></body></html>
"""
