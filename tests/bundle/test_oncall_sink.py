"""The on-call inbox answers as PagerDuty's Events API v2 and Opsgenie's Alert API do,
including their rejections, so the end-to-end test catches a malformed notification."""

from __future__ import annotations

import base64
import json
import math
import sys
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from obsstack.inbox import server as oncall
from obsstack.inbox.checks import MAX_BODY
from obsstack.inbox.server import create_app
from tests.support.processes import Process, free_port, http_ok, running, wait_until

KEY = "0123456789abcdef0123456789abcdef"
GENIE = "GenieKey eb243592-faa2-4ba2-a551-1afdaaf2b9f5"
TOKEN = "inbox-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sink")


@pytest.fixture
async def sink() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(KEY, GENIE.split()[1])) as client:
        yield client


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    """The inbox with a token, as the bundle runs it."""
    async with client_for(create_app(KEY, GENIE.split()[1], TOKEN)) as client:
        yield client


WEBHOOK = {
    "version": "4",
    "status": "firing",
    "groupKey": '{}:{alertname="X"}',
    "alerts": [{"labels": {"alertname": "X"}}],
}


def trigger(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "a" * 64,
        "payload": {
            "summary": "[FIRING:1] DependencyDown redis",
            "source": "obsstack",
            "severity": "critical",
        },
    }
    return {**event, **changes}


async def test_trigger_then_resolve_closes_the_incident(sink):
    accepted = await sink.post("/v2/enqueue", json=trigger())
    assert accepted.status_code == 202
    assert accepted.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "a" * 64,
    }
    assert (await sink.get("/events")).json()["open"] == {
        f"pagerduty:{'a' * 64}": "[FIRING:1] DependencyDown redis"
    }
    shown = (await sink.get("/events")).json()["events"][0]["body"]
    assert shown["routing_key"] == "<redacted>"  # /events has no auth: never show the key
    resolve = {"routing_key": KEY, "event_action": "resolve", "dedup_key": "a" * 64}
    assert (await sink.post("/v2/enqueue", json=resolve)).status_code == 202
    assert (await sink.get("/events")).json()["open"] == {}


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (trigger(routing_key="f" * 32), "Invalid routing key"),
        (trigger(event_action="page"), "event_action must be one of"),
        (trigger(dedup_key=""), "dedup_key is required"),
        (
            trigger(payload={"summary": "x", "source": "y", "severity": "fatal"}),
            "payload.severity must be one of",
        ),
        (trigger(payload={"source": "y", "severity": "critical"}), "payload.summary is required"),
        (trigger(links=[{"href": "", "text": "Runbook"}]), "links[].href must be an absolute URL"),
    ],
)
async def test_pagerduty_rejects_what_the_api_rejects(sink, event, error):
    response = await sink.post("/v2/enqueue", json=event)
    assert response.status_code == 400
    assert response.json()["errors"][0].startswith(error)
    assert (await sink.get("/events")).json()["rejected"][0]["status"] == 400


async def test_opsgenie_create_and_close_by_alias(sink):
    body = {
        "alias": "b" * 64,
        "message": "[FIRING:1] DependencyDown redis",
        "priority": "P1",
        "responders": [{"type": "team", "name": "platform-oncall"}],
    }
    created = await sink.post("/v2/alerts", json=body, headers={"Authorization": GENIE})
    assert created.status_code == 202 and created.json()["result"] == "Request will be processed"
    closed = await sink.post(
        f"/v2/alerts/{'b' * 64}/close?identifierType=alias",
        json={"source": "obsstack"},
        headers={"Authorization": GENIE},
    )
    assert closed.status_code == 202
    assert [(e["action"], e["key"]) for e in (await sink.get("/events")).json()["events"]] == [
        ("create", "b" * 64),
        ("close", "b" * 64),
    ]


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"alias": "x", "message": "m"}, 401),
        ({"Authorization": "GenieKey wrong"}, {"alias": "x", "message": "m"}, 403),
        ({"Authorization": GENIE}, {"alias": "x", "message": "m" * 131}, 422),
        ({"Authorization": GENIE}, {"alias": "x", "message": "m", "priority": "P0"}, 422),
        (
            {"Authorization": GENIE},
            {"alias": "x", "message": "m", "responders": [{"type": "team"}]},
            422,
        ),
    ],
)
async def test_opsgenie_rejects_what_the_api_rejects(sink, headers, body, status):
    response = await sink.post("/v2/alerts", json=body, headers=headers)
    assert response.status_code == status
    assert (await sink.get("/events")).json()["events"] == []


async def test_webhook_needs_an_alertmanager_payload(sink):
    assert (await sink.post("/webhook/ticket", json={"hello": "world"})).status_code == 400
    assert (await sink.post("/webhook/ticket", json=WEBHOOK)).status_code == 200
    page = await sink.get("/")
    assert "On-call inbox" in page.text and "1 rejected requests" in page.text


async def test_with_a_token_the_inbox_own_endpoints_need_it(guarded):
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    for method, path in (("POST", "/webhook/ticket"), ("GET", "/events"), ("GET", "/")):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic !!"}):
            refused = await guarded.request(method, path, json=WEBHOOK, headers=headers)
            assert refused.status_code == 401, (path, headers)
        expected = "Basic" if path == "/" else "Bearer"
        assert refused.headers["www-authenticate"].startswith(expected)
        for headers in (BEARER, {"Authorization": f"Basic {basic}"}):
            allowed = await guarded.request(method, path, json=WEBHOOK, headers=headers)
            assert allowed.status_code == 200, (path, headers)
    # PagerDuty and Opsgenie keep their own keys: Alertmanager sends those, not the token.
    assert (await guarded.post("/v2/enqueue", json=trigger())).status_code == 202
    assert (await guarded.get("/health")).status_code == 200
    events = (await guarded.get("/events", headers=BEARER)).json()
    assert [e["api"] for e in events["events"]] == ["webhook:ticket"] * 2 + ["pagerduty"]


@pytest.mark.parametrize(
    "text",
    [
        '{"version": "4", "status": "firing", "alerts": [{"value": NaN}]}',
        '{"version": "4", "status": "firing", "alerts": [{"value": Infinity}]}',
        '{"version": "4", "status": "firing", "alerts": [{"value": -Infinity}]}',
        '{"version": "4", "status": "firing", "alerts": [{"value": 1e400}]}',
        '{"version": "4", "status": "firing", "alerts": [{"s": "\\ud800"}]}',
        "[" * 100_000,
        '{"version": "4", "alerts": ' + "[" * 40 + "{}" + "]" * 40 + "}",
        "\xff\xfe",
    ],
    ids=["nan", "infinity", "minus-infinity", "overflow", "surrogate", "deep", "nested", "latin1"],
)
async def test_json_the_inbox_could_not_write_back_is_refused(sink, text):
    refused = await sink.post(
        "/webhook/default", content=text.encode("utf-8", "surrogatepass")[:MAX_BODY]
    )
    assert refused.status_code == 400
    events = await sink.get("/events")
    assert events.status_code == 200
    assert events.json()["events"] == []


async def test_a_non_finite_number_already_kept_is_never_rendered():
    app = create_app(KEY, GENIE.split()[1])
    app.state.inbox.record(oncall.Event("webhook:x", "firing", "k", 0.0, {"v": math.nan}, 1))
    async with client_for(app) as client:
        events = await client.get("/events")
    assert events.status_code == 200
    assert "NaN" not in events.text
    assert events.json()["events"][0]["body"] == {"v": None}


async def test_a_large_body_is_refused_before_it_is_read():
    """413 from Content-Length alone: the body is never received."""
    app = create_app(KEY, GENIE.split()[1])
    received: list[bytes] = []

    async def receive() -> dict[str, Any]:
        received.append(b"")
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    for path in ("/webhook/default", "/v2/enqueue", "/v2/alerts"):
        scope = {
            "type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
            "root_path": "", "scheme": "http", "query_string": b"", "server": ("sink", 80),
            "headers": [(b"content-length", str(20 * 1024 * 1024).encode()),
                        (b"authorization", GENIE.encode())],
        }  # fmt: skip
        await app(scope, receive, send)
        assert sent[-2]["status"] == 413, path
    assert received == []


async def test_a_large_chunked_body_is_refused_once_it_passes_the_limit(sink):
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(2 * MAX_BODY // 65536):
            yield b" " * 65536

    refused = await sink.post("/webhook/default", content=chunks())
    assert refused.status_code == 413
    assert (await sink.get("/events")).json()["rejected"][-1] == {
        "api": "webhook:default",
        "path": "/webhook/default",
        "status": 413,
        "message": f"body over {MAX_BODY} bytes",
    }


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "message"),
    [
        ("/v2/enqueue", {}, trigger(routing_key="ключ"), 400, "Invalid routing key"),
        ("/v2/enqueue", {}, trigger(routing_key=["k"]), 400, "routing_key is required"),
        ("/v2/enqueue", {}, trigger(links=5), 400, "links must be a list"),
        ("/v2/enqueue", {}, trigger(links=[5]), 400, "links[].href must be an absolute URL"),
        ("/v2/enqueue", {}, trigger(images={"src": 1}), 400, "images must be a list"),
        ("/v2/enqueue", {}, trigger(event_action=["trigger"]), 400, "event_action must be"),
        ("/v2/enqueue", {}, trigger(payload=[]), 400, "payload is required"),
        ("/v2/enqueue", {}, [1, 2], 400, "Event object is invalid: not a JSON object"),
        ("/v2/alerts", {"Authorization": "GenieKey ключ".encode()}, {}, 403,
         "Could not authenticate"),
        ("/v2/alerts", {"Authorization": "GenieKey " + "k" * 10_000}, {}, 403,
         "Could not authenticate"),
        ("/v2/alerts", {"Authorization": GENIE}, {"alias": "a", "message": "m", "responders": 7},
         422, "responders must be a list"),
        ("/v2/alerts", {"Authorization": GENIE}, {"alias": "a", "message": "m", "tags": "t"},
         422, "tags must be a list of strings"),
        ("/v2/alerts", {"Authorization": GENIE}, {"alias": "a", "message": 5}, 422,
         "Message can not be empty."),
        ("/v2/alerts/x/close?identifierType=alias", {"Authorization": GENIE}, 5, 422,
         "Request body is not a JSON object"),
        (f"/v2/alerts/{'a' * 600}/close?identifierType=alias", {"Authorization": GENIE}, {}, 422,
         "alias is too long"),
        ("/webhook/default", {}, {**WEBHOOK, "alerts": [5]}, 400,
         "alerts must be a non-empty list of objects"),
        ("/webhook/default", {}, {**WEBHOOK, "groupKey": {}}, 400, "groupKey must be a string"),
        ("/webhook/Not%20A%20Name", {}, WEBHOOK, 404, "no such webhook"),
    ],
)  # fmt: skip
async def test_malformed_requests_get_a_4xx_with_one_line(
    sink, path, headers, body, status, message
):
    response = await sink.post(path, json=body, headers=headers)
    assert response.status_code == status
    text = response.json().get("errors", [response.json().get("message")])[0]
    assert text.startswith(message) and "\n" not in text
    assert (await sink.get("/events")).status_code == 200
    assert (await sink.get("/")).status_code == 200


async def test_open_incidents_and_kept_events_are_bounded(sink):
    for n in range(oncall.MAX_OPEN + 5):
        accepted = await sink.post("/v2/enqueue", json=trigger(dedup_key=f"incident-{n}"))
        assert accepted.status_code == 202
    events = (await sink.get("/events")).json()
    assert len(events["open"]) == oncall.MAX_OPEN
    assert events["forgotten_incidents"] == 5
    assert "pagerduty:incident-0" not in events["open"]
    assert f"pagerduty:incident-{oncall.MAX_OPEN + 4}" in events["open"]
    assert len(events["events"]) == oncall.KEPT
    assert "5 older open incidents are not shown" in (await sink.get("/")).text
    big = {**WEBHOOK, "alerts": [{"labels": {"alertname": "X"}, "pad": "x" * (MAX_BODY - 200)}]}
    for _ in range(oncall.KEPT_BYTES // MAX_BODY + 3):
        assert (await sink.post("/webhook/default", json=big)).status_code == 200
    kept = (await sink.get("/events")).json()["events"]
    assert sum(e["size"] for e in kept) <= oncall.KEPT_BYTES
    assert len(kept) <= oncall.KEPT_BYTES // (MAX_BODY - 200)


def rss_mib(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def test_ten_bodies_of_20_mb_leave_the_inbox_small(tmp_path):
    """Before, ten 20 MB webhooks took the inbox from 63 to 303 MB (and /events to 200 MB)."""
    (tmp_path / "rk").write_text(KEY)
    (tmp_path / "gk").write_text(GENIE.split()[1])
    (tmp_path / "token").write_text(TOKEN)
    port = free_port()
    process = Process(
        [sys.executable, "-m", "obsstack.cli", "oncall-sink", "--listen", f"127.0.0.1:{port}",
         "--pagerduty-routing-key-file", str(tmp_path / "rk"),
         "--opsgenie-api-key-file", str(tmp_path / "gk"), "--token-file", str(tmp_path / "token")],
        tmp_path / "sink.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    body = json.dumps({**WEBHOOK, "pad": "x" * (20 * 1024 * 1024)}).encode()
    with running(process):
        wait_until(http_ok(f"{url}/health"), 20, "the inbox")
        before = rss_mib(process.pid, "VmRSS")
        for _ in range(10):
            response = httpx.post(f"{url}/webhook/default", content=body, headers=BEARER)
            assert response.status_code == 413
        assert rss_mib(process.pid) - before < 16
        assert httpx.get(f"{url}/events", headers=BEARER).status_code == 200
    assert TOKEN not in process.output()


@pytest.mark.parametrize("path", ["/events/", "/webhook/default/", "/v2/enqueue/"])
async def test_no_redirect_reflects_the_host_header(sink, path):
    answer = await sink.get(path, headers={"Host": "attacker.example"})
    assert answer.status_code in (404, 405)
    assert "location" not in answer.headers
