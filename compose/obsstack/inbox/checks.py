"""What the on-call inbox accepts: bounded JSON, and the checks PagerDuty and Opsgenie make.

Every check raises :class:`Invalid` with the API's status and a one-line reason written here,
never built from the request (so a rejection can be stored and shown as it is). Whatever a
client sends, the answer is a 4xx or a 2xx: the checks look at types before they look at values.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

MAX_BODY = 1024 * 1024  # bytes of a request body; larger ones get 413 unread
MAX_DEPTH = 32  # nesting of a JSON body
PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
OPSGENIE_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
OPSGENIE_RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
OPSGENIE_MESSAGE_MAX = 130
OPSGENIE_ALIAS_MAX = 512
WEBHOOK_VERSION = "4"
WEBHOOK_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_KEY_MAX = 256  # a routing key or GenieKey longer than this is wrong without comparing


class Invalid(Exception):
    """A request the inbox refuses: the HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def require(condition: bool, message: str, status: int = 400) -> None:
    if not condition:
        raise Invalid(status, message)


# -- reading a body ----------------------------------------------------------------------------


async def read_body(headers: Mapping[str, str], chunks: AsyncIterator[bytes]) -> bytes:
    """The body, refused (413) before it is read when Content-Length says it is too large, and
    while it is read when it turns out to be (chunked, or a Content-Length that lied)."""
    length = headers.get("content-length")
    if length is not None:
        require(length.isdigit(), "Content-Length is not a number")
        require(int(length) <= MAX_BODY, f"body over {MAX_BODY} bytes", 413)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        require(len(body) <= MAX_BODY, f"body over {MAX_BODY} bytes", 413)
    return bytes(body)


def _refuse_constant(name: str) -> Any:
    raise Invalid(400, f"body is not JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    require(math.isfinite(value), "body is not JSON: a number out of range")
    return value


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, every number finite, at most MAX_DEPTH deep,
    no unpaired surrogate in a string (nothing that could not be written back out)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(400, "body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, RecursionError):  # the parser's own stack bounds what it nests
        raise Invalid(400, "body is not JSON") from None
    _check_tree(value)
    return value


def _check_tree(value: Any) -> None:
    """Nesting and strings, without recursion."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise Invalid(400, "body holds an unpaired surrogate") from None
        elif isinstance(item, dict | list):
            require(depth < MAX_DEPTH, f"body nested deeper than {MAX_DEPTH}")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


# -- the APIs ----------------------------------------------------------------------------------


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of any text (hmac.compare_digest takes ASCII strings only)."""
    if len(given) > _KEY_MAX:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _optional_string(
    body: Mapping[str, Any], key: str, limit: int, status: int = 400, prefix: str = ""
) -> None:
    value = body.get(key)
    require(
        value is None or (isinstance(value, str) and len(value) <= limit),
        f"{prefix}{key} must be a string (at most {limit} characters)",
        status,
    )


def _links(body: Mapping[str, Any], key: str, field: str) -> None:
    items = body.get(key)
    if items is None:
        return
    require(isinstance(items, list), f"{key} must be a list")
    for item in items:
        url = item.get(field) if isinstance(item, dict) else None
        require(
            isinstance(url, str) and url.startswith(("http://", "https://")),
            f"{key}[].{field} must be an absolute URL",
        )


def check_pagerduty(body: Any, routing_key: str) -> tuple[str, str, str]:
    """Validate an Events API v2 body; returns (action, dedup_key, summary)."""
    require(isinstance(body, dict), "Event object is invalid: not a JSON object")
    given = body.get("routing_key")
    require(isinstance(given, str) and given != "", "routing_key is required")
    require(same_secret(given, routing_key), "Invalid routing key")
    action = body.get("event_action")
    require(
        isinstance(action, str) and action in PAGERDUTY_ACTIONS,
        f"event_action must be one of {PAGERDUTY_ACTIONS}",
    )
    dedup_key = body.get("dedup_key")
    require(
        isinstance(dedup_key, str) and 0 < len(dedup_key) <= 255,
        "dedup_key is required (at most 255 characters)",
    )
    summary = ""
    if action == "trigger":
        payload = body.get("payload")
        require(isinstance(payload, dict), "payload is required for trigger events")
        summary = payload.get("summary")
        require(
            isinstance(summary, str) and 0 < len(summary) <= 1024,
            "payload.summary is required (at most 1024 characters)",
        )
        source = payload.get("source")
        require(isinstance(source, str) and 0 < len(source) <= 1024, "payload.source is required")
        severity = payload.get("severity")
        require(
            isinstance(severity, str) and severity in PAGERDUTY_SEVERITIES,
            f"payload.severity must be one of {PAGERDUTY_SEVERITIES}",
        )
        for key in ("component", "group", "class", "timestamp"):
            _optional_string(payload, key, 1024, prefix="payload.")
        require(
            payload.get("custom_details") is None
            or isinstance(payload["custom_details"], dict | str),
            "payload.custom_details must be an object",
        )
        _links(body, "links", "href")
        _links(body, "images", "src")
    for key in ("client", "client_url"):
        _optional_string(body, key, 1024)
    return action, dedup_key, str(summary)


def check_genie_key(header: str | None, api_key: str) -> None:
    scheme, _, key = (header or "").partition(" ")
    require(scheme == "GenieKey", "Key format is not valid!", 401)
    require(same_secret(key, api_key), "Could not authenticate", 403)


def check_opsgenie_create(body: Any) -> tuple[str, str]:
    """Validate an Opsgenie create-alert body; returns (alias, message)."""
    require(isinstance(body, dict), "Request body is not a JSON object", 422)
    message = body.get("message")
    require(isinstance(message, str) and message.strip() != "", "Message can not be empty.", 422)
    require(
        len(message) <= OPSGENIE_MESSAGE_MAX,
        f"Message can not be longer than {OPSGENIE_MESSAGE_MAX} characters",
        422,
    )
    alias = body.get("alias")
    require(
        isinstance(alias, str) and 0 < len(alias) <= OPSGENIE_ALIAS_MAX,
        f"alias is required (<= {OPSGENIE_ALIAS_MAX})",
        422,
    )
    priority = body.get("priority")
    require(priority in (None, "", *OPSGENIE_PRIORITIES), "priority must be P1-P5", 422)
    responders = body.get("responders")
    require(responders is None or isinstance(responders, list), "responders must be a list", 422)
    for responder in responders or []:
        require(
            isinstance(responder, dict)
            and responder.get("type") in OPSGENIE_RESPONDER_TYPES
            and any(
                isinstance(responder.get(k), str) and responder[k] != ""
                for k in ("id", "name", "username")
            ),
            "responders need a type and an id, name or username",
            422,
        )
    tags = body.get("tags")
    require(
        tags is None or (isinstance(tags, list) and all(isinstance(t, str) for t in tags)),
        "tags must be a list of strings",
        422,
    )
    require(
        body.get("details") is None or isinstance(body["details"], dict),
        "details must be an object",
        422,
    )
    _optional_string(body, "description", 15000, 422)
    for key in ("source", "entity", "user", "note"):
        _optional_string(body, key, 512, 422)
    return alias, message


def check_opsgenie_close(identifier: str, identifier_type: str | None, body: Any) -> None:
    require(identifier_type == "alias", "identifierType must be alias", 422)
    require(0 < len(identifier) <= OPSGENIE_ALIAS_MAX, "alias is too long", 422)
    require(body is None or isinstance(body, dict), "Request body is not a JSON object", 422)


def check_webhook(name: str, body: Any) -> tuple[str, str]:
    """Validate an Alertmanager webhook payload; returns (status, groupKey)."""
    require(WEBHOOK_NAME.match(name) is not None, "no such webhook", 404)
    require(
        isinstance(body, dict) and body.get("version") == WEBHOOK_VERSION,
        f"expected an Alertmanager webhook payload, version {WEBHOOK_VERSION}",
    )
    status = body.get("status")
    require(status in ("firing", "resolved"), "status must be firing or resolved")
    alerts = body.get("alerts")
    require(
        isinstance(alerts, list) and alerts != [] and all(isinstance(a, dict) for a in alerts),
        "alerts must be a non-empty list of objects",
    )
    group_key = body.get("groupKey", "")
    require(isinstance(group_key, str), "groupKey must be a string")
    return str(status), group_key
