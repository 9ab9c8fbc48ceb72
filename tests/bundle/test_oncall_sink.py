"""The on-call inbox answers as PagerDuty's Events API v2 and Opsgenie's Alert API do,
including their rejections, so the end-to-end test catches a malformed notification."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from exporters.bundle.oncall import create_app

KEY = "0123456789abcdef0123456789abcdef"
GENIE = "GenieKey eb243592-faa2-4ba2-a551-1afdaaf2b9f5"


@pytest.fixture
async def sink() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(KEY, GENIE.split()[1])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sink"
    ) as client:
        yield client


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
    payload = {
        "version": "4",
        "status": "firing",
        "groupKey": '{}:{alertname="X"}',
        "alerts": [{"labels": {"alertname": "X"}}],
    }
    assert (await sink.post("/webhook/ticket", json=payload)).status_code == 200
    page = await sink.get("/")
    assert "On-call inbox" in page.text and "1 rejected requests" in page.text
