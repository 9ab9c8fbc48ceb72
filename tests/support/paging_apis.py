"""A protocol double of PagerDuty and Opsgenie, for tests of what Alertmanager pages.

Written from the vendors' API documentation, independently of obsstack's own on-call inbox
(``obsstack oncall-sink``), so a test that pages through it checks Alertmanager's requests
against the APIs themselves rather than against the inbox it would otherwise share code with.
Every request is validated as the documentation describes; a request the real API would refuse
gets the API's error status and is kept in ``rejected``.

- PagerDuty Events API v2 ("Send an Alert Event"): ``POST /v2/enqueue`` with a JSON event:
  ``routing_key`` (the 32-character integration key), ``event_action`` ``trigger``,
  ``acknowledge`` or ``resolve``, ``dedup_key`` (at most 255 characters; required to
  acknowledge or resolve, generated when a trigger has none) and, for a trigger, ``payload``
  with ``summary`` (at most 1024 characters), ``source`` and ``severity`` (``critical``,
  ``error``, ``warning`` or ``info``); ``links`` have an ``href``. Accepted: 202
  ``{"status": "success", "message": "Event processed", "dedup_key": ...}``; refused: 400
  ``{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}``.
- Opsgenie Alert API: ``Authorization: GenieKey <api key>`` on every request (else 401).
  ``POST /v2/alerts`` creates an alert: ``message`` required (at most 130 characters),
  ``alias`` (at most 512), ``description`` (at most 15000), ``priority`` ``P1`` to ``P5``,
  ``responders`` of type ``team``, ``user``, ``escalation`` or ``schedule`` with an ``id``,
  ``name`` or ``username``, at most 20 ``tags``. ``POST /v2/alerts/{identifier}/close`` with
  ``identifierType`` ``id``, ``tiny`` or ``alias`` closes one (body optional). Both are
  asynchronous: 202 ``{"result": "Request will be processed", "took": ..., "requestId": ...}``;
  refused: 422 (401 without a valid key).
- Alertmanager's webhook payloads (version 4) at ``POST /webhook/{name}``, with arrival times.

Incidents are tracked by ``dedup_key`` (PagerDuty) and ``alias`` (Opsgenie): how many triggers
(creates) and resolves (closes) each received, whether it is open, and how many times it paged:
as both services do, a trigger for an open incident is deduplicated into it and pages nobody,
and a trigger after the incident was resolved opens it again and pages again.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tests.support.doubles import HttpDouble, Reply, Request

PAGERDUTY = "pagerduty"
OPSGENIE = "opsgenie"
PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
OPSGENIE_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
OPSGENIE_RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
OPSGENIE_IDENTIFIER_TYPES = ("id", "tiny", "alias")
Handler = Callable[[Request], Reply]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _require(condition: object, message: str, status: int) -> None:
    if not condition:
        raise Refused(status, message)


def _text(value: object, most: int) -> bool:
    return isinstance(value, str) and value.strip() != "" and len(value) <= most


@dataclass
class Incident:
    """One PagerDuty alert (by dedup_key) or Opsgenie alert (by alias)."""

    api: str
    key: str
    summary: str = ""  # payload.summary / message of the first trigger
    triggers: int = 0
    resolves: int = 0
    open: bool = False
    pages: int = 0  # triggers that found it closed


@dataclass
class Webhook:
    name: str
    received_at: float
    body: dict[str, Any]


@dataclass
class PagingState:
    incidents: dict[tuple[str, str], Incident] = field(default_factory=dict)
    webhooks: list[Webhook] = field(default_factory=list)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # path, status, reason


class PagingApis:
    """PagerDuty and Opsgenie on one local port, accepting one routing key and one API key.

    Point Alertmanager's ``pagerduty_url`` at ``pagerduty_url``, ``opsgenie_api_url`` at
    ``opsgenie_url`` and webhooks at ``webhook_url(name)``.
    """

    def __init__(self, routing_key: str, api_key: str) -> None:
        self._routing_key = routing_key
        self._api_key = api_key
        self._lock = threading.Lock()
        self._state = PagingState()
        self._http = HttpDouble(
            {
                ("POST", "/v2/enqueue"): self._guarded(self._pagerduty),
                ("POST", "/v2/alerts"): self._guarded(self._opsgenie_create),
            },
            fallback=self._guarded(self._by_path),
        )
        self.pagerduty_url = f"{self._http.url}/v2/enqueue"
        self.opsgenie_url = f"{self._http.url}/"

    def webhook_url(self, name: str) -> str:
        return f"{self._http.url}/webhook/{name}"

    def close(self) -> None:
        self._http.close()

    # -- what the tests read ---------------------------------------------------------------

    def incidents(self, api: str | None = None) -> list[Incident]:
        with self._lock:
            return [replace(i) for i in self._state.incidents.values() if api in (None, i.api)]

    def webhooks(self, name: str) -> list[Webhook]:
        with self._lock:
            return [w for w in self._state.webhooks if w.name == name]

    @property
    def rejected(self) -> list[tuple[str, int, str]]:
        with self._lock:
            return list(self._state.rejected)

    # -- the APIs --------------------------------------------------------------------------

    def _guarded(self, handler: Handler) -> Handler:
        def answer(request: Request) -> Reply:
            try:
                return handler(request)
            except Refused as refusal:
                with self._lock:
                    self._state.rejected.append((request.path, refusal.status, str(refusal)))
                if request.path == "/v2/enqueue":
                    body: dict[str, Any] = {
                        "status": "invalid event",
                        "message": "Event object is invalid",
                        "errors": [str(refusal)],
                    }
                else:
                    body = {"message": str(refusal), "took": 0.0, "requestId": str(uuid.uuid4())}
                return Reply(refusal.status, body)

        return answer

    @staticmethod
    def _json(request: Request, status: int) -> Any:
        _require(
            request.headers.get("content-type", "").startswith("application/json"),
            "Content-Type must be application/json",
            status,
        )
        try:
            return json.loads(request.body)
        except ValueError:
            raise Refused(status, "body is not JSON") from None

    def _record(self, api: str, key: str, action: str, summary: str = "") -> None:
        with self._lock:
            incident = self._state.incidents.setdefault((api, key), Incident(api, key))
            if action == "trigger":
                incident.summary = incident.summary or summary
                incident.triggers += 1
                incident.pages += not incident.open
                incident.open = True
            elif action == "resolve":
                incident.resolves += 1
                incident.open = False

    def _pagerduty(self, request: Request) -> Reply:
        event = self._json(request, 400)
        _require(isinstance(event, dict), "Event object is invalid", 400)
        routing_key = event.get("routing_key")
        _require(
            isinstance(routing_key, str) and len(routing_key) == 32,
            "routing_key must be a 32-character integration key",
            400,
        )
        _require(hmac.compare_digest(routing_key, self._routing_key), "Invalid routing key", 400)
        action = event.get("event_action")
        _require(
            action in PAGERDUTY_ACTIONS, f"event_action must be one of {PAGERDUTY_ACTIONS}", 400
        )
        dedup_key = event.get("dedup_key")
        if action == "trigger" and dedup_key is None:
            dedup_key = uuid.uuid4().hex
        _require(_text(dedup_key, 255), "dedup_key is required (at most 255 characters)", 400)
        summary = ""
        if action == "trigger":
            payload = event.get("payload")
            _require(isinstance(payload, dict), "payload is required for a trigger", 400)
            summary = payload.get("summary")
            _require(_text(summary, 1024), "payload.summary is required (at most 1024)", 400)
            _require(_text(payload.get("source"), 1024), "payload.source is required", 400)
            _require(
                payload.get("severity") in PAGERDUTY_SEVERITIES,
                f"payload.severity must be one of {PAGERDUTY_SEVERITIES}",
                400,
            )
            for link in event.get("links") or []:
                _require(isinstance(link, dict) and _text(link.get("href"), 2048), "link href", 400)
        if action != "acknowledge":
            self._record(PAGERDUTY, str(dedup_key), str(action), str(summary))
        body = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        return Reply(202, body)

    def _genie_key(self, request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        _require(
            scheme == "GenieKey" and hmac.compare_digest(key, self._api_key),
            "Could not authenticate",
            401,
        )

    @staticmethod
    def _accepted() -> Reply:
        body = {"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())}
        return Reply(202, body)

    def _opsgenie_create(self, request: Request) -> Reply:
        self._genie_key(request)
        alert = self._json(request, 422)
        _require(isinstance(alert, dict), "Request body is not a JSON object", 422)
        message = alert.get("message")
        _require(_text(message, 130), "message is required (at most 130 characters)", 422)
        alias = alert.get("alias") or uuid.uuid4().hex
        _require(_text(alias, 512), "alias can be at most 512 characters", 422)
        _require(len(alert.get("description") or "") <= 15000, "description too long", 422)
        _require(alert.get("priority") in (None, *OPSGENIE_PRIORITIES), "priority P1-P5", 422)
        for responder in alert.get("responders") or []:
            _require(
                isinstance(responder, dict)
                and responder.get("type") in OPSGENIE_RESPONDER_TYPES
                and any(responder.get(k) for k in ("id", "name", "username")),
                "a responder needs a type and an id, name or username",
                422,
            )
        _require(len(alert.get("tags") or []) <= 20, "at most 20 tags", 422)
        self._record(OPSGENIE, str(alias), "trigger", str(message))
        return self._accepted()

    def _by_path(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        closing = len(parts) == 4 and (parts[0], parts[1], parts[3]) == ("v2", "alerts", "close")
        if request.method == "POST" and closing:
            return self._opsgenie_close(request, parts[2])
        if request.method == "POST" and len(parts) == 2 and parts[0] == "webhook":
            return self._webhook(request, parts[1])
        return Reply(404, {"message": "not found"})

    def _opsgenie_close(self, request: Request, identifier: str) -> Reply:
        self._genie_key(request)
        kind = request.query.get("identifierType", "id")
        _require(kind in OPSGENIE_IDENTIFIER_TYPES, "identifierType must be id, tiny or alias", 422)
        if request.body:
            _require(isinstance(self._json(request, 422), dict), "body is not an object", 422)
        self._record(OPSGENIE, identifier, "resolve")
        return self._accepted()

    def _webhook(self, request: Request, name: str) -> Reply:
        body = self._json(request, 400)
        _require(
            isinstance(body, dict) and body.get("version") == "4",
            "an Alertmanager webhook payload, version 4",
            400,
        )
        _require(body.get("status") in ("firing", "resolved"), "status firing or resolved", 400)
        with self._lock:
            self._state.webhooks.append(Webhook(name, time.time(), body))
        return Reply(200, {"status": "ok"})
