"""RED metrics of instrument_app, served in-process with a fresh registry per test."""

from __future__ import annotations

import asyncio
import gzip
import random
import string
from collections.abc import AsyncIterator

import httpx
import prometheus_client.metrics
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import (
    CollectorRegistry,
    Counter,
    enable_created_metrics,
    generate_latest,
)
from starlette.routing import Mount

from obsstack.core import naming
from obsstack.instrumentation import instrument_app
from obsstack.instrumentation.loop_metrics import LoopFamily
from tests.instrumentation.helpers import request_counts, samples, series_count

DURATION = naming.HTTP_SERVER_REQUEST_DURATION.name


def build_app(**options: object) -> FastAPI:
    app = FastAPI()
    gate = asyncio.Event()
    app.state.gate = gate

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        if item_id == 404:
            raise HTTPException(404, "no such item")
        return {"item": item_id}

    @app.post("/echo")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse((await request.body()).decode())

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await gate.wait()
        return {"done": True}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("broken handler")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    inner = FastAPI()

    @inner.get("/reports/{report_id}")
    async def report(report_id: str) -> dict[str, str]:
        return {"report": report_id}

    app.router.routes.append(Mount("/admin", app=inner))
    instrument_app(app, "test", registry=CollectorRegistry(), tracing=False, **options)  # type: ignore[arg-type]
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        yield c


async def metrics(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_requests_are_labelled_by_route_template_method_and_status(client):
    for item_id in (1, 2, 3):
        assert (await client.get(f"/items/{item_id}")).status_code == 200
    assert (await client.get("/items/404")).status_code == 404
    assert (await client.post("/items/1")).status_code == 405
    assert (await client.get("/admin/reports/q3")).status_code == 200

    counts = request_counts(await metrics(client))
    assert counts == {
        ("GET", "/items/{item_id}", "200"): 3,
        ("GET", "/items/{item_id}", "404"): 1,
        ("POST", "/items/{item_id}", "405"): 1,
        ("GET", "/admin/reports/{report_id}", "200"): 1,
    }


async def test_a_flood_of_unmatched_paths_and_odd_methods_adds_no_series(client):
    await client.get("/nothing-here")
    await client.request("FOO", "/nothing-here-either")
    before = await metrics(client)
    rng = random.Random(5)
    for _ in range(300):
        path = "/" + "".join(rng.choices(string.ascii_lowercase + "/._-", k=rng.randint(1, 40)))
        await client.request(rng.choice(["GET", "BREW", "PROPFIND"]), path)
    after = await metrics(client)

    assert series_count(after) == series_count(before)
    unmatched = {k: v for k, v in request_counts(after).items() if k[1] == naming.UNMATCHED_ROUTE}
    assert sum(unmatched.values()) > 300
    assert {method for method, _, _ in unmatched} <= {"GET", "_OTHER"}


async def test_metrics_and_health_checks_are_not_measured(client):
    for _ in range(3):
        await client.get("/health")
        await client.get("/metrics")
    routes = {route for _, route, _ in request_counts(await metrics(client))}
    assert routes == set()


async def test_an_unhandled_exception_counts_as_a_500(client):
    assert (await client.get("/boom")).status_code == 500
    assert request_counts(await metrics(client)) == {("GET", "/boom", "500"): 1}


async def test_requests_in_flight_are_counted_until_they_finish(client):
    gauge = naming.HTTP_SERVER_ACTIVE_REQUESTS.name
    pending = asyncio.ensure_future(client.get("/slow"))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if samples(await metrics(client), gauge).get(((naming.HTTP_REQUEST_METHOD, "GET"),)):
            break
    assert samples(await metrics(client), gauge) == {((naming.HTTP_REQUEST_METHOD, "GET"),): 1}
    client._transport.app.state.gate.set()
    assert (await pending).status_code == 200
    assert samples(await metrics(client), gauge) == {((naming.HTTP_REQUEST_METHOD, "GET"),): 0}


async def test_request_and_response_bodies_are_measured_in_bytes(client):
    await client.post("/echo", content=b"x" * 1000)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"y" * 100

    await client.post("/echo", content=chunks())  # chunked: no content-length
    text = await metrics(client)
    labels = ((naming.HTTP_REQUEST_METHOD, "POST"), (naming.HTTP_ROUTE, "/echo"))
    request_name = naming.HTTP_SERVER_REQUEST_BODY_SIZE.name
    assert samples(text, request_name + "_sum") == {labels: 1300}
    assert samples(text, request_name + "_count") == {labels: 2}
    response_name = naming.HTTP_SERVER_RESPONSE_BODY_SIZE.name
    status = ((naming.HTTP_RESPONSE_STATUS_CODE, "200"),)
    assert samples(text, response_name + "_sum") == {tuple(sorted(labels + status)): 1300}


async def test_no_created_series_double_the_series_count(client):
    await client.get("/items/1")
    assert "_created" not in await metrics(client)


def test_the_processs_created_series_are_left_alone_unless_asked():
    """The HTTP metrics never have _created series; the application's own counters keep
    theirs unless instrument_app is asked to turn them off (a process-wide switch)."""

    def exposition(**options: object) -> str:
        registry = CollectorRegistry()
        Counter("orders", "Orders taken", registry=registry).inc()
        app = FastAPI()
        instrument_app(app, "test", registry=registry, tracing=False, **options)  # type: ignore[arg-type]
        return generate_latest(registry).decode()

    was_on = prometheus_client.metrics._use_created
    try:
        enable_created_metrics()
        assert "orders_created" in exposition()
        assert "orders_created" not in exposition(created_series=False)
        assert "orders_created" not in exposition()  # as the process was left
        assert "orders_created" in exposition(created_series=True)
    finally:
        prometheus_client.metrics._use_created = was_on


async def test_default_buckets_resolve_100_ms():
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        await c.get("/items/1")
        bounds = {dict(k)["le"] for k in samples(await metrics(c), DURATION + "_bucket")}
    assert {"0.1", "0.25", "0.5", "1.0"} <= bounds


async def test_buckets_are_configurable():
    transport = httpx.ASGITransport(app=build_app(buckets=[0.05, 0.3, 2]))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        await c.get("/items/1")
        bounds = {dict(k)["le"] for k in samples(await metrics(c), DURATION + "_bucket")}
    assert bounds == {"0.05", "0.3", "2.0", "+Inf"}


def test_buckets_must_increase():
    with pytest.raises(ValueError, match="buckets must be increasing positive numbers"):
        build_app(buckets=[0.5, 0.1])


async def test_openmetrics_is_served_when_the_scraper_asks_for_it(client):
    await client.get("/items/1")
    text = await client.get("/metrics", headers={"accept": "text/plain;version=0.0.4"})
    assert text.headers["content-type"].startswith("text/plain")
    assert not text.text.endswith("# EOF\n")
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    om = await client.get("/metrics", headers={"accept": accept})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")


async def test_metrics_are_gzipped_when_accepted(client):
    await client.get("/items/1")
    response = await client.get("/metrics", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert DURATION in response.text  # httpx decompressed it
    raw = await client.get("/metrics", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert gzip.decompress(gzip.compress(raw.content)) == raw.content


async def test_request_ids_are_taken_from_the_request_or_generated(client):
    given = await client.get("/items/1", headers={"x-request-id": "req-42.a"})
    assert given.headers["x-request-id"] == "req-42.a"
    generated = await client.get("/items/1")
    assert len(generated.headers["x-request-id"]) == 32
    int(generated.headers["x-request-id"], 16)
    hostile = await client.get("/items/1", headers={"x-request-id": "a" * 500})
    assert hostile.headers["x-request-id"] != "a" * 500
    injected = await client.get("/items/1", headers={"x-request-id": "x\tforged=1"})
    assert injected.headers["x-request-id"] != "x\tforged=1"


def test_a_wrong_number_of_label_values_is_an_error_not_a_truncated_series():
    family = LoopFamily(naming.HTTP_SERVER_REQUEST_DURATION, (0.1, 1.0))
    with pytest.raises(ValueError, match="has labels http_request_method, http_route"):
        family.labels("GET", "/items")  # the status code is missing
    assert family.series == {}
