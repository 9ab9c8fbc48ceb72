"""Bounded time, cancellation, single flight, retries and the circuit breaker.

The ``Blackhole`` double accepts TCP connections and never answers: the shape of a hung
database, a half-dead load balancer or a dropped SYN-ACK path.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from obsstack.probe.engine import Prober
from tests.probe.conftest import PG, sample
from tests.support.doubles import Blackhole
from tests.support.processes import free_port


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


def hung(kind: str, port: int, name: str | None = None, **extra: object) -> dict[str, object]:
    address = (
        {"url": f"http://127.0.0.1:{port}"}
        if kind in ("neo4j", "qdrant", "elasticsearch", "http")
        else {"port": port}
    )
    return {"name": name or f"hung-{kind}", "kind": kind, **address, **extra}


KINDS = ["postgres", "redis", "neo4j", "qdrant", "elasticsearch", "http"]


async def test_every_kind_times_out_on_a_hung_server_and_closes_its_socket(
    blackhole, make_config, exporter_for
):
    deps = [hung(kind, blackhole.port, timeout="700ms") for kind in KINDS]
    exporter = exporter_for(make_config(deps))
    text = await exporter.metrics()
    for kind in KINDS:
        name = f"hung-{kind}"
        assert sample(text, "dependency_up", dependency=name) == 0, kind
        assert (
            sample(text, "dependency_probe_failures_total", dependency=name, reason="timeout") == 1
        ), kind
        assert sample(text, "dependency_probe_timeout_seconds", dependency=name) == 0.7
    assert blackhole.accepted == len(KINDS)
    await asyncio.sleep(0.2)
    assert blackhole.open_connections() == 0, "a cancelled probe left its connection open"


async def test_a_short_scrape_budget_bounds_the_wait_not_the_probe(
    blackhole, make_config, exporter_for
):
    deps = [hung("redis", blackhole.port, timeout="2s"), {"name": "main-db", **PG}]
    exporter = exporter_for(make_config(deps, server={"scrape_budget": "20s"}))
    header = {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"}
    started = time.monotonic()
    text, probe = await asyncio.gather(
        exporter.metrics(headers=header),
        exporter.get("/probe", params={"target": "hung-redis"}, headers=header),
    )
    # min(configured budget 20 s, header 1.5 s - 0.5 s) = 1 s: answered inside Prometheus' timeout
    assert time.monotonic() - started < 1.4
    assert sample(text, "dependency_up", dependency="main-db") == 1
    # The hung probe has no result yet, so nothing is claimed about it, and no failure counted.
    assert sample(text, "dependency_up", dependency="hung-redis") is None
    assert (
        sample(text, "dependency_probe_failures_total", dependency="hung-redis", reason="timeout")
        == 0
    )
    assert sample(probe.text, "probe_success") == 0  # this request's own result: no answer yet
    assert sample(probe.text, "probe_timeout_seconds") == 1.0
    assert blackhole.accepted == 1  # /metrics and /probe share the probe in flight
    # The probe runs to its own 2 s timeout; that result is what the next scrapes read.
    await asyncio.sleep(2.1 - (time.monotonic() - started))
    text = await exporter.metrics(headers=header)
    assert sample(text, "dependency_up", dependency="hung-redis") == 0
    assert (
        sample(text, "dependency_probe_failures_total", dependency="hung-redis", reason="timeout")
        == 1
    )
    assert sample(text, "dependency_probe_timeout_seconds", dependency="hung-redis") == 2.0


@pytest.mark.parametrize(
    ("header", "configured", "expected"),
    [
        (None, "10s", 10.0),
        ("15", "10s", 10.0),
        ("5", "10s", 4.5),
        ("1.6", "10s", 1.1),
        # below the 1 s floor: a client cannot make the exporter give up sooner
        ("1.2", "10s", 1.0),
        ("0.51", "10s", 1.0),
        ("0", "10s", 1.0),
        ("-3", "10s", 1.0),
        ("1e-9", "10s", 1.0),
        # unless the configured budget itself is shorter
        ("0.51", "500ms", 0.5),
        # not a number of seconds: the configured budget
        ("nan", "10s", 10.0),
        ("inf", "10s", 10.0),
        ("soon", "10s", 10.0),
    ],
)
def test_scrape_budget_from_the_header_has_a_floor(make_config, header, configured, expected):
    prober = Prober(make_config([{"name": "main-db", **PG}], server={"scrape_budget": configured}))
    assert prober.budget(header) == pytest.approx(expected)


async def test_concurrent_scrapes_share_one_probe_per_dependency(
    blackhole, make_config, exporter_for
):
    exporter = exporter_for(make_config([hung("postgres", blackhole.port, timeout="1s")]))
    responses = await asyncio.gather(*(exporter.get("/metrics") for _ in range(20)))
    assert all(r.status_code == 200 for r in responses)
    assert blackhole.accepted == 1
    values = {
        sample(
            r.text, "dependency_probe_failures_total", dependency="hung-postgres", reason="timeout"
        )
        for r in responses
    }
    assert values == {1.0}


async def test_probe_endpoint_joins_a_running_probe(blackhole, make_config, exporter_for):
    exporter = exporter_for(make_config([hung("redis", blackhole.port, timeout="800ms")]))
    metrics, probe = await asyncio.gather(
        exporter.get("/metrics"), exporter.get("/probe", params={"target": "hung-redis"})
    )
    assert blackhole.accepted == 1
    assert sample(probe.text, "probe_success") == 0
    assert sample(metrics.text, "dependency_up", dependency="hung-redis") == 0


async def test_refused_connections_are_retried_with_backoff(make_config, exporter_for):
    closed_port = free_port()
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "gone",
                    "kind": "redis",
                    "port": closed_port,
                    "timeout": "2s",
                    "retries": {"attempts": 3, "initial_backoff": "50ms", "max_backoff": "200ms"},
                },
            ]
        )
    )
    text = await exporter.metrics()
    assert sample(text, "dependency_probe_retries_total", dependency="gone") == 2
    assert sample(text, "dependency_probe_failures_total", dependency="gone", reason="refused") == 1


async def test_retries_stay_inside_the_probe_budget(make_config, exporter_for):
    closed_port = free_port()
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "gone",
                    "kind": "postgres",
                    "port": closed_port,
                    "timeout": "300ms",
                    "retries": {"attempts": 10, "initial_backoff": "100ms", "max_backoff": "1s"},
                },
            ]
        )
    )
    text = await exporter.metrics()
    retries = sample(text, "dependency_probe_retries_total", dependency="gone")
    assert retries is not None and 1 <= retries < 5
    duration = sample(text, "dependency_probe_duration_seconds", dependency="gone")
    assert duration is not None and duration <= 0.3 + 0.05


async def test_state_changes_are_logged_once(make_config, exporter_for, probe_logs):
    closed_port = free_port()
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "gone",
                    "kind": "redis",
                    "port": closed_port,
                    "retries": {"attempts": 1},
                    "circuit_breaker": {"failure_threshold": 2, "cooldown": "1h"},
                },
                {"name": "main-db", **PG},
            ]
        )
    )
    for _ in range(5):
        await exporter.metrics()
    messages = [(r.getMessage(), getattr(r, "dependency", None)) for r in probe_logs.records]
    assert messages.count(("dependency down", "gone")) == 1
    assert messages.count(("circuit opened", "gone")) == 1
    assert messages.count(("dependency up", "main-db")) == 1
    assert len(messages) == 3, json.dumps(messages)
