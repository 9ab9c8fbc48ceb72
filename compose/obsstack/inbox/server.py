"""A local on-call inbox: the PagerDuty Events API v2 and the Opsgenie Alert API, validated.

Out of the box the bundle's Alertmanager pages this inbox instead of the real services, so a
new stack never pages anybody and never fails to notify; point ``pagerduty_url`` and
``opsgenie_api_url`` at the real APIs to go live. Every request is checked the way the real
APIs check it (routing key, ``GenieKey``, required fields, allowed values); a request that
fails the check gets the API's 4xx answer and is kept in the ``rejected`` list. Whatever a
client sends, the inbox answers 2xx or 4xx (see :mod:`obsstack.inbox.checks`).

Endpoints (``obsstack oncall-sink``):

- ``POST /v2/enqueue``: PagerDuty Events API v2 (trigger / acknowledge / resolve by ``dedup_key``)
- ``POST /v2/alerts`` and ``POST /v2/alerts/{alias}/close?identifierType=alias``: Opsgenie
- ``POST /webhook/{name}``: Alertmanager webhook payloads (heartbeat, tickets, default)
- ``GET /events``: everything received, as JSON; ``GET /``: the open incidents, as HTML
- ``GET /dashboards/``: with a render directory, the dashboards ``obsstack dashboards render``
  drew there (:mod:`obsstack.inbox.rendered`), linked from ``/``
- ``GET /health``: always 200

With a token, ``/webhook/*``, ``/events``, ``/`` and ``/dashboards/`` need ``Authorization:
Bearer TOKEN`` (or basic credentials with the token as password, for a browser); the PagerDuty
and Opsgenie endpoints keep checking their own keys.

Memory is bounded: bodies of at most ``MAX_BODY`` bytes; the last ``KEPT`` events, and no more
than ``KEPT_BYTES`` of their bodies; the last ``KEPT`` rejections; ``MAX_OPEN`` open incidents
(the oldest is forgotten, and counted, when a new one would exceed it).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from obsstack.core.server_app import service_app
from obsstack.inbox.checks import (
    Invalid,
    check_genie_key,
    check_opsgenie_close,
    check_opsgenie_create,
    check_pagerduty,
    check_webhook,
    parse_json,
    read_body,
    require,
    same_secret,
)
from obsstack.inbox.rendered import rendered_file

REDACTED = "<redacted>"
KEPT = 1000  # events and rejections kept; the heartbeat alone posts one a minute
KEPT_BYTES = 16 * 1024 * 1024  # of the kept events' bodies, as received
MAX_OPEN = 1000  # open incidents shown; the oldest is forgotten beyond it
_PATH_SHOWN = 200  # characters of a rejected request's path kept
DASHBOARDS_LINK = (
    "<p><a href=dashboards/>Dashboards</a>: service overview, dependencies, business KPIs, "
    "SLOs and stack health, drawn from Prometheus without Grafana</p>"
)


@dataclass
class Event:
    """One accepted request."""

    api: str  # pagerduty, opsgenie or webhook:<name>
    action: str  # trigger / resolve, create / close, or the webhook's status
    key: str  # dedup_key, alias, or the webhook's groupKey
    received_at: float
    body: dict[str, Any]
    size: int = 0  # bytes of the body as received


@dataclass
class Inbox:
    """What the sink received: accepted events, rejected requests and the incidents still open."""

    events: deque[Event] = field(default_factory=deque)
    rejected: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEPT))
    open_incidents: dict[str, str] = field(default_factory=dict)  # "api:key" -> summary
    forgotten_incidents: int = 0  # open incidents dropped to stay within MAX_OPEN
    kept_bytes: int = 0

    def accept(
        self, api: str, action: str, key: str, body: dict[str, Any], summary: str, size: int = 0
    ) -> None:
        if "routing_key" in body:  # never show a key back, even behind the token
            body = {**body, "routing_key": REDACTED}
        self.record(Event(api, action, key, time.time(), body, size))
        incident = f"{api}:{key}"
        if action in ("trigger", "create"):
            self.open_incidents.pop(incident, None)  # a repeated trigger becomes the newest
            self.open_incidents[incident] = summary
            while len(self.open_incidents) > MAX_OPEN:
                del self.open_incidents[next(iter(self.open_incidents))]
                self.forgotten_incidents += 1
        elif action in ("resolve", "close"):
            self.open_incidents.pop(incident, None)

    def record(self, event: Event) -> None:
        self.events.append(event)
        self.kept_bytes += event.size
        while len(self.events) > KEPT or self.kept_bytes > KEPT_BYTES:
            self.kept_bytes -= self.events.popleft().size

    def reject(self, api: str, path: str, error: Invalid) -> None:
        self.rejected.append(
            {"api": api, "path": path[:_PATH_SHOWN], "status": error.status, "message": str(error)}
        )


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite number replaced by None (JSON has none of them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def _json(content: Any, status_code: int = 200) -> Response:
    body = json.dumps(finite(content), allow_nan=False)
    return Response(body.encode("utf-8"), status_code, media_type="application/json")


class TokenCheck:
    """The inbox's own endpoints: a bearer token, or basic credentials whose password is it."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def check(self, request: Request, challenge: str) -> None:
        if self.token is None:
            return
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and same_secret(credentials, self.token):
            return
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            if same_secret(decoded.partition(":")[2], self.token):
                return
        raise Unauthorized(challenge)


class Unauthorized(Exception):
    def __init__(self, challenge: str) -> None:
        super().__init__("authentication required")
        self.challenge = challenge


def create_app(
    pagerduty_routing_key: str,
    opsgenie_api_key: str,
    token: str | None = None,
    dashboards_dir: Path | None = None,
) -> FastAPI:
    """The sink, accepting only the given PagerDuty routing key and Opsgenie API key; with
    ``token``, its own endpoints (webhooks, /events, /, /dashboards/) require it; with
    ``dashboards_dir``, the dashboards rendered there are served at /dashboards/."""
    app = service_app("obsstack on-call sink")  # its own token check, below
    inbox = Inbox()
    app.state.inbox = inbox
    auth = TokenCheck(token)

    async def json_body(request: Request, optional: bool = False) -> tuple[Any, int]:
        body = await read_body(request.headers, request.stream())
        if not body and optional:
            return None, 0
        require(body != b"", "Event object is invalid: body is not JSON")
        return parse_json(body), len(body)

    def rejected(request: Request, error: Invalid, api: str) -> Response:
        inbox.reject(api, request.url.path, error)
        if api == "pagerduty":
            content: dict[str, Any] = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [str(error)],
            }
        else:
            content = {"message": str(error), "took": 0.0, "requestId": str(uuid.uuid4())}
        return _json(content, error.status)

    def unauthorized(error: Unauthorized) -> Response:
        return PlainTextResponse(
            "authentication required\n",
            status_code=401,
            headers={"WWW-Authenticate": f'{error.challenge} realm="obsstack on-call inbox"'},
        )

    @app.post("/v2/enqueue")
    async def pagerduty(request: Request) -> Response:
        try:
            body, size = await json_body(request)
            action, dedup_key, summary = check_pagerduty(body, pagerduty_routing_key)
        except Invalid as error:
            return rejected(request, error, "pagerduty")
        inbox.accept("pagerduty", action, dedup_key, body, summary, size)
        return _json(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, 202
        )

    @app.post("/v2/alerts")
    async def opsgenie_create(request: Request) -> Response:
        try:
            check_genie_key(request.headers.get("authorization"), opsgenie_api_key)
            body, size = await json_body(request)
            alias, message = check_opsgenie_create(body)
        except Invalid as error:
            return rejected(request, error, "opsgenie")
        inbox.accept("opsgenie", "create", alias, body, message, size)
        return _json(
            {"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())},
            202,
        )

    @app.post("/v2/alerts/{identifier}/close")
    async def opsgenie_close(identifier: str, request: Request) -> Response:
        try:
            check_genie_key(request.headers.get("authorization"), opsgenie_api_key)
            body, size = await json_body(request, optional=True)
            check_opsgenie_close(identifier, request.query_params.get("identifierType"), body)
        except Invalid as error:
            return rejected(request, error, "opsgenie")
        inbox.accept("opsgenie", "close", identifier, body or {}, "", size)
        return _json(
            {"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())},
            202,
        )

    @app.post("/webhook/{name}")
    async def webhook(name: str, request: Request) -> Response:
        try:
            auth.check(request, "Bearer")  # before the body is read
        except Unauthorized as error:
            return unauthorized(error)
        api = f"webhook:{name}" if len(name) <= 32 else "webhook"
        try:
            body, size = await json_body(request)
            status, group_key = check_webhook(name, body)
        except Invalid as error:
            return rejected(request, error, api)
        inbox.record(Event(api, status, group_key, time.time(), body, size))
        return _json({"status": "ok"})

    @app.get("/events")
    async def events(request: Request) -> Response:
        try:
            auth.check(request, "Bearer")
        except Unauthorized as error:
            return unauthorized(error)
        return _json(
            {
                "events": [asdict(e) for e in inbox.events],
                "rejected": list(inbox.rejected),
                "open": inbox.open_incidents,
                "forgotten_incidents": inbox.forgotten_incidents,
            }
        )

    @app.get("/")
    async def page(request: Request) -> Response:
        try:
            auth.check(request, "Basic")  # a browser asks for the token as a password
        except Unauthorized as error:
            return unauthorized(error)
        return HTMLResponse(page_html(inbox, dashboards=dashboards_dir is not None))

    if dashboards_dir is not None:

        @app.get("/dashboards")
        async def dashboards_index() -> Response:
            return RedirectResponse("/dashboards/", status_code=308)  # its links are relative

        @app.get("/dashboards/{name:path}")
        async def dashboards(name: str, request: Request) -> Response:
            try:
                auth.check(request, "Basic")
            except Unauthorized as error:
                return unauthorized(error)
            found = rendered_file(dashboards_dir, name)
            if found is None:
                text = "not found\n" if name else "no dashboards rendered yet: try again soon\n"
                return PlainTextResponse(text, status_code=404)
            content, content_type = found
            return Response(content, media_type=content_type, headers={"Cache-Control": "no-cache"})

    return app


def page_html(inbox: Inbox, dashboards: bool = False) -> str:
    """The open incidents and the last 50 events; with ``dashboards``, a link to them."""
    rows = "".join(
        f"<tr><td>{html.escape(k.split(':', 1)[0])}</td><td>{html.escape(v)}</td></tr>"
        for k, v in sorted(inbox.open_incidents.items())
    )
    recent = "".join(
        f"<tr><td>{time.strftime('%H:%M:%S', time.gmtime(e.received_at))}</td>"
        f"<td>{html.escape(e.api)}</td><td>{html.escape(e.action)}</td></tr>"
        for e in list(reversed(inbox.events))[:50]
    )
    forgotten = (
        f"<p>{inbox.forgotten_incidents} older open incidents are not shown "
        f"(at most {MAX_OPEN} are kept)</p>"
        if inbox.forgotten_incidents
        else ""
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>on-call inbox</title>"
        "</head><body><h1>On-call inbox</h1>"
        + (DASHBOARDS_LINK if dashboards else "")
        + "<h2>Open incidents</h2><table>"
        f"<tr><th>service</th><th>summary</th></tr>{rows}</table>{forgotten}<h2>Last events</h2>"
        f"<table><tr><th>UTC</th><th>API</th><th>action</th></tr>{recent}</table>"
        f"<p>{len(inbox.rejected)} rejected requests (see <a href=events>/events</a>)</p>"
        "</body></html>"
    )
