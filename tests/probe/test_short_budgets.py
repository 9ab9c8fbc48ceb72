"""No client can fake an outage with a short scrape budget.

``X-Prometheus-Scrape-Timeout-Seconds`` comes from whoever sends the request. A budget that
short once cut the probes themselves: a few such requests a second failed a healthy
PostgreSQL, counted failures, opened the shared circuit breaker and turned /ready to 503. Now
a client's budget only bounds how long that client waits; the probe runs to its own timeout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from obsstack.core import naming
from tests.probe.conftest import PG, Exporter, sample
from tests.support.doubles import HttpDouble, Reply
from tests.support.servers import PrivatePostgres

HOSTILE = ["0.51", "0.5", "0.0001", "0", "-1", "1e-9", "0.6"]


def failures(text: str, dependency: str) -> float:
    return sum(
        sample(text, "dependency_probe_failures_total", dependency=dependency, reason=r) or 0
        for r in naming.FAILURE_REASONS
    )


async def test_short_budget_requests_never_fail_a_healthy_dependency(make_config, exporter_for):
    """The shared PostgreSQL, critical; hostile requests before, during and after normal ones."""
    exporter: Exporter = exporter_for(make_config([{"name": "main-db", **PG, "critical": True}]))

    def hostile(value: str, path: str = "/metrics") -> asyncio.Future[httpx.Response]:
        params = {"target": "main-db"} if path == "/probe" else None
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": value}
        return asyncio.ensure_future(exporter.get(path, params=params, headers=headers))

    normal_scrapes = []
    for value in HOSTILE * 2:
        # three hostile requests in a row: today's threshold for opening the circuit
        for _ in range(3):
            await hostile(value)
        await hostile(value, "/probe")
        # hostile requests at the same moment as a normal scrape, started first
        burst = [hostile(value) for _ in range(3)] + [hostile(value, "/probe")]
        normal_scrapes.append(await exporter.metrics())
        await asyncio.gather(*burst)
    for text in normal_scrapes:
        assert sample(text, "dependency_up", dependency="main-db") == 1
        assert sample(text, "dependency_circuit_state", dependency="main-db") == 0
        assert failures(text, "main-db") == 0
    text = await exporter.metrics()
    assert sample(text, "dependency_circuit_opens_total", dependency="main-db") == 0
    ready = await exporter.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["dependencies"]["main-db"]["circuit"] == naming.CIRCUIT_CLOSED


async def test_a_slow_dependency_outlives_a_short_scrape_and_reads_up(make_config, exporter_for):
    """A dependency slower than a client's budget but within its own timeout is up."""
    double = HttpDouble({("GET", "/health"): Reply(200, "ok", delay=1.5)})
    try:
        exporter = exporter_for(
            make_config(
                [
                    {
                        "name": "slow-api",
                        "kind": "http",
                        "url": double.url,
                        "path": "/health",
                        "timeout": "3s",
                        "circuit_breaker": {"failure_threshold": 1},
                    }
                ]
            )
        )
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": "0.51"}
        short = await exporter.get("/probe", params={"target": "slow-api"}, headers=headers)
        assert sample(short.text, "probe_success") == 0  # no answer within its own 1 s
        assert sample(short.text, "probe_timeout_seconds") == 1.0
        await asyncio.sleep(0.7)  # the probe ends at 1.5 s: its result is kept for everyone
        ready = await exporter.get("/ready")  # reads it (fresh): no probe of its own
        assert ready.status_code == 200
        assert ready.json()["dependencies"]["slow-api"] | {"latency_seconds": 0} == {
            "kind": "http",
            "critical": False,
            "up": True,
            "latency_seconds": 0,
            "error": None,
            "detail": "",
            "circuit": naming.CIRCUIT_CLOSED,
        }
        assert len(double.requests) == 1
        text = await exporter.metrics()
        assert sample(text, "dependency_up", dependency="slow-api") == 1
        assert failures(text, "slow-api") == 0
    finally:
        double.close()


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(password="pg-budget-Secret-3").start()
    yield server
    server.destroy()


async def test_a_hung_dependency_still_reads_down_within_its_budget(
    private_pg, make_config, exporter_for
):
    """SIGSTOP freezes the postmaster: short-budget requests cannot hide it either."""
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "db",
                    "kind": "postgres",
                    "port": private_pg.port,
                    "database": "postgres",
                    "password": "pg-budget-Secret-3",
                    "timeout": "1s",
                    "critical": True,
                }
            ]
        )
    )
    postmaster = int((private_pg.datadir / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGSTOP)
    try:
        hostile = {"X-Prometheus-Scrape-Timeout-Seconds": "0.51"}
        started = time.monotonic()
        _, text, _ = await asyncio.gather(
            exporter.get("/metrics", headers=hostile),
            exporter.metrics(),
            exporter.get("/probe", params={"target": "db"}, headers=hostile),
        )
        elapsed = time.monotonic() - started
        ready = await exporter.get("/ready")
    finally:
        os.kill(postmaster, signal.SIGCONT)
    assert elapsed < 1.5  # the probe's 1 s, plus settling
    assert sample(text, "dependency_up", dependency="db") == 0
    assert sample(text, "dependency_probe_failures_total", dependency="db", reason="timeout") == 1
    assert sample(text, "dependency_probe_timeout_seconds", dependency="db") == 1.0
    assert ready.status_code == 503
