"""Whatever a client sends, the on-call inbox answers 2xx or 4xx and logs no traceback, and its
pages keep rendering: arbitrary JSON (NaN and Infinity included), arbitrary bytes, and the
APIs' own fields filled with anything, at every endpoint, with and without credentials."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsstack.inbox.server import create_app

KEY = "0123456789abcdef0123456789abcdef"
GENIE_KEY = "eb243592-faa2-4ba2-a551-1afdaaf2b9f5"
TOKEN = "inbox-token-0123456789"
APP = create_app(KEY, GENIE_KEY, TOKEN)  # one inbox for every example: its bounds hold too

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def sometimes(good: Any) -> st.SearchStrategy[Any]:
    """The valid value, or anything at all."""
    return st.one_of(st.just(good), values)


def fields(**known: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=known)


pagerduty = fields(
    routing_key=sometimes(KEY),
    event_action=st.sampled_from(["trigger", "acknowledge", "resolve"]) | values,
    dedup_key=sometimes("a" * 64),
    payload=fields(
        summary=sometimes("[FIRING:1] DependencyDown redis"),
        source=sometimes("obsstack"),
        severity=st.sampled_from(["critical", "error", "warning", "info"]) | values,
        component=values,
        custom_details=values,
    )
    | values,
    links=st.lists(fields(href=sometimes("https://runbook"), text=values), max_size=3) | values,
    images=values,
    client=values,
    client_url=values,
)
opsgenie = fields(
    message=sometimes("[FIRING:1] DependencyDown redis"),
    alias=sometimes("b" * 64),
    priority=st.sampled_from(["P1", "P3"]) | values,
    responders=st.lists(fields(type=sometimes("team"), name=sometimes("oncall")), max_size=3)
    | values,
    tags=values,
    details=values,
    description=values,
    source=values,
)
webhook = fields(
    version=sometimes("4"),
    status=st.sampled_from(["firing", "resolved"]) | values,
    groupKey=values,
    alerts=st.lists(fields(labels=values, annotations=values), max_size=3) | values,
)


def encoded(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON text as Python writes it: NaN and Infinity as bare words, surrogates kept."""
    return strategy.map(lambda v: json.dumps(v, allow_nan=True).encode("utf-8", "surrogatepass"))


def bodies(api: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return encoded(api) | encoded(values) | st.binary(max_size=200)


authorization = st.sampled_from(
    [b"", f"GenieKey {GENIE_KEY}".encode(), f"Bearer {TOKEN}".encode(), "GenieKey ключ".encode()]
) | st.binary(max_size=60).filter(lambda b: not set(b) & {0, 10, 13})
# Any text in a path segment, percent-encoded as a client would send it.
segment = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).map(
    lambda text: quote(text, safe="")
)
requests = st.one_of(
    st.tuples(st.just("/v2/enqueue"), bodies(pagerduty)),
    st.tuples(st.just("/v2/alerts"), bodies(opsgenie)),
    st.tuples(segment.map(lambda s: f"/v2/alerts/{s}/close?identifierType=alias"), bodies(values)),
    st.tuples(
        st.sampled_from(["default", "ticket", "heartbeat"]) | segment,
        bodies(webhook),
    ).map(lambda t: (f"/webhook/{t[0]}", t[1])),
)


async def exchange(path: str, body: bytes, auth: bytes) -> list[int]:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://sink") as client:
        headers = {b"authorization": auth} if auth else {}
        statuses = [(await client.post(path, content=body, headers=headers)).status_code]
        for page in ("/events", "/"):
            for page_headers in ({}, {"authorization": f"Bearer {TOKEN}"}):
                statuses.append((await client.get(page, headers=page_headers)).status_code)
    return statuses


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def collected_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record logged meanwhile, whatever the loggers' levels."""
    handler, root = Collect(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests, auth=authorization)
def test_any_request_gets_a_2xx_or_4xx_and_no_traceback(request, auth):
    path, body = request
    with collected_logs() as records:
        statuses = asyncio.run(exchange(path, body, auth))
    assert all(200 <= status < 500 for status in statuses), (path, body, statuses)
    assert statuses[1:] == [401, 200, 401, 200]  # /events and / render, behind the token
    tracebacks = [r for r in records if r.exc_info or "Traceback" in r.getMessage()]
    assert tracebacks == []
