"""A local on-call inbox: the PagerDuty Events API v2 and the Opsgenie Alert API, validated.

Out of the box the bundle's Alertmanager pages this inbox instead of the real services, so a
new stack never pages anybody and never fails to notify; point ``pagerduty_url`` and
``opsgenie_api_url`` at the real APIs to go live. Every request is checked the way the real
APIs check it (routing key, ``GenieKey``, required fields, allowed values); a request that
fails the check gets the API's 4xx answer and is kept in the ``rejected`` list.

Endpoints (``obsstack oncall-sink``):

- ``POST /v2/enqueue``: PagerDuty Events API v2 (trigger / acknowledge / resolve by ``dedup_key``)
- ``POST /v2/alerts`` and ``POST /v2/alerts/{alias}/close?identifierType=alias``: Opsgenie
- ``POST /webhook/{name}``: Alertmanager webhook payloads (heartbeat, tickets, default)
- ``GET /events``: everything received, as JSON; ``GET /``: the open incidents, as HTML
"""

from __future__ import annotations

import hmac
import html
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
OPSGENIE_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
OPSGENIE_RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
OPSGENIE_MESSAGE_MAX = 130
WEBHOOK_VERSION = "4"
REDACTED = "<redacted>"


@dataclass
class Event:
    """One accepted request."""

    api: str  # pagerduty, opsgenie or webhook:<name>
    action: str  # trigger / resolve, create / close, or the webhook's status
    key: str  # dedup_key, alias, or the webhook's groupKey
    received_at: float
    body: dict[str, Any]


KEPT = 1000  # events and rejections kept; the heartbeat alone posts one a minute


@dataclass
class Inbox:
    """What the sink received: accepted events, rejected requests and the incidents still open."""

    events: deque[Event] = field(default_factory=lambda: deque(maxlen=KEPT))
    rejected: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEPT))
    open_incidents: dict[str, str] = field(default_factory=dict)  # "api:key" -> summary

    def accept(self, api: str, action: str, key: str, body: dict[str, Any], summary: str) -> None:
        if "routing_key" in body:  # /events is unauthenticated: never show a key back
            body = {**body, "routing_key": REDACTED}
        self.events.append(Event(api, action, key, time.time(), body))
        if action in ("trigger", "create"):
            self.open_incidents[f"{api}:{key}"] = summary
        elif action in ("resolve", "close"):
            self.open_incidents.pop(f"{api}:{key}", None)


class Invalid(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _require(condition: bool, message: str, status: int = 400) -> None:
    if not condition:
        raise Invalid(status, message)


def check_pagerduty(body: Any, routing_key: str) -> tuple[str, str, str]:
    """Validate an Events API v2 body; returns (action, dedup_key, summary)."""
    _require(isinstance(body, dict), "Event object is invalid: not a JSON object")
    given = body.get("routing_key")
    _require(isinstance(given, str) and given != "", "routing_key is required")
    _require(hmac.compare_digest(str(given), routing_key), "Invalid routing key")
    action = body.get("event_action")
    _require(action in PAGERDUTY_ACTIONS, f"event_action must be one of {PAGERDUTY_ACTIONS}")
    dedup_key = body.get("dedup_key")
    _require(
        isinstance(dedup_key, str) and 0 < len(dedup_key) <= 255,
        "dedup_key is required (at most 255 characters)",
    )
    summary = ""
    if action == "trigger":
        payload = body.get("payload")
        _require(isinstance(payload, dict), "payload is required for trigger events")
        summary = payload.get("summary")
        _require(
            isinstance(summary, str) and 0 < len(summary) <= 1024,
            "payload.summary is required (at most 1024 characters)",
        )
        _require(
            isinstance(payload.get("source"), str) and payload["source"] != "",
            "payload.source is required",
        )
        _require(
            payload.get("severity") in PAGERDUTY_SEVERITIES,
            f"payload.severity must be one of {PAGERDUTY_SEVERITIES}",
        )
        for link in body.get("links") or []:
            _require(
                isinstance(link, dict) and str(link.get("href", "")).startswith("http"),
                "links[].href must be an absolute URL",
            )
    return str(action), str(dedup_key), str(summary)


def check_genie_key(header: str | None, api_key: str) -> None:
    scheme, _, key = (header or "").partition(" ")
    _require(
        scheme == "GenieKey" and hmac.compare_digest(key, api_key),
        "Key format is not valid!" if scheme != "GenieKey" else "Could not authenticate",
        status=401 if scheme != "GenieKey" else 403,
    )


def check_opsgenie_create(body: Any) -> tuple[str, str]:
    """Validate an Opsgenie create-alert body; returns (alias, message)."""
    _require(isinstance(body, dict), "Request body is not a JSON object", 422)
    message = body.get("message")
    _require(isinstance(message, str) and message.strip() != "", "Message can not be empty.", 422)
    _require(
        len(message) <= OPSGENIE_MESSAGE_MAX,
        f"Message can not be longer than {OPSGENIE_MESSAGE_MAX} characters",
        422,
    )
    alias = body.get("alias")
    _require(isinstance(alias, str) and 0 < len(alias) <= 512, "alias is required (<= 512)", 422)
    priority = body.get("priority")
    _require(priority in (None, "", *OPSGENIE_PRIORITIES), "priority must be P1-P5", 422)
    for responder in body.get("responders") or []:
        _require(
            isinstance(responder, dict)
            and responder.get("type") in OPSGENIE_RESPONDER_TYPES
            and any(responder.get(k) for k in ("id", "name", "username")),
            "responders need a type and an id, name or username",
            422,
        )
    return str(alias), message


def check_webhook(body: Any) -> tuple[str, str]:
    """Validate an Alertmanager webhook payload; returns (status, groupKey)."""
    _require(
        isinstance(body, dict) and body.get("version") == WEBHOOK_VERSION,
        f"expected an Alertmanager webhook payload, version {WEBHOOK_VERSION}",
    )
    _require(body.get("status") in ("firing", "resolved"), "status must be firing or resolved")
    _require(isinstance(body.get("alerts"), list) and body["alerts"] != [], "alerts is empty")
    return str(body["status"]), str(body.get("groupKey", ""))


def create_app(pagerduty_routing_key: str, opsgenie_api_key: str) -> FastAPI:
    """The sink, accepting only the given PagerDuty routing key and Opsgenie API key."""
    app = FastAPI(title="obsstack on-call sink", docs_url=None, redoc_url=None, openapi_url=None)
    inbox = Inbox()
    app.state.inbox = inbox

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise Invalid(400, "Event object is invalid: body is not JSON") from None

    def rejected(request: Request, error: Invalid, api: str) -> JSONResponse:
        inbox.rejected.append(
            {"api": api, "path": request.url.path, "status": error.status, "message": str(error)}
        )
        if api == "pagerduty":
            content: dict[str, Any] = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [str(error)],
            }
        else:
            content = {"message": str(error), "took": 0.0, "requestId": str(uuid.uuid4())}
        return JSONResponse(content, status_code=error.status)

    @app.post("/v2/enqueue")
    async def pagerduty(request: Request) -> JSONResponse:
        try:
            body = await json_body(request)
            action, dedup_key, summary = check_pagerduty(body, pagerduty_routing_key)
        except Invalid as error:
            return rejected(request, error, "pagerduty")
        inbox.accept("pagerduty", action, dedup_key, body, summary)
        return JSONResponse(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key},
            status_code=202,
        )

    @app.post("/v2/alerts")
    async def opsgenie_create(request: Request) -> JSONResponse:
        try:
            check_genie_key(request.headers.get("authorization"), opsgenie_api_key)
            body = await json_body(request)
            alias, message = check_opsgenie_create(body)
        except Invalid as error:
            return rejected(request, error, "opsgenie")
        inbox.accept("opsgenie", "create", alias, body, message)
        return JSONResponse(
            {"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())},
            status_code=202,
        )

    @app.post("/v2/alerts/{identifier}/close")
    async def opsgenie_close(identifier: str, request: Request) -> JSONResponse:
        try:
            check_genie_key(request.headers.get("authorization"), opsgenie_api_key)
            _require(
                request.query_params.get("identifierType") == "alias",
                "identifierType must be alias",
                422,
            )
            body = await json_body(request)
        except Invalid as error:
            return rejected(request, error, "opsgenie")
        inbox.accept("opsgenie", "close", identifier, body, "")
        return JSONResponse(
            {"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())},
            status_code=202,
        )

    @app.post("/webhook/{name}")
    async def webhook(name: str, request: Request) -> JSONResponse:
        try:
            body = await json_body(request)
            status, group_key = check_webhook(body)
        except Invalid as error:
            return rejected(request, error, f"webhook:{name}")
        inbox.events.append(Event(f"webhook:{name}", status, group_key, time.time(), body))
        return JSONResponse({"status": "ok"})

    @app.get("/events")
    async def events() -> JSONResponse:
        return JSONResponse(
            {
                "events": [asdict(e) for e in inbox.events],
                "rejected": list(inbox.rejected),
                "open": inbox.open_incidents,
            }
        )

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @app.get("/")
    async def page() -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{html.escape(k.split(':', 1)[0])}</td><td>{html.escape(v)}</td></tr>"
            for k, v in sorted(inbox.open_incidents.items())
        )
        recent = "".join(
            f"<tr><td>{time.strftime('%H:%M:%S', time.gmtime(e.received_at))}</td>"
            f"<td>{html.escape(e.api)}</td><td>{html.escape(e.action)}</td></tr>"
            for e in list(reversed(inbox.events))[:50]
        )
        return HTMLResponse(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>on-call inbox</title>"
            "</head><body><h1>On-call inbox</h1><h2>Open incidents</h2><table>"
            f"<tr><th>service</th><th>summary</th></tr>{rows}</table><h2>Last events</h2>"
            f"<table><tr><th>UTC</th><th>API</th><th>action</th></tr>{recent}</table>"
            f"<p>{len(inbox.rejected)} rejected requests (see <a href=events>/events</a>)</p>"
            "</body></html>"
        )

    return app
