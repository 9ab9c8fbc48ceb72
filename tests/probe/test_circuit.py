"""The circuit breaker: a failing dependency costs neither retries nor slow scrapes, and a
recovered one is reported up by the first scrape after it recovers.

While the circuit is open every scrape makes one trial probe (a single attempt, at most one
in flight), waits for it only briefly, and reports the dependency down unless it answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from obsstack.probe.engine import Prober
from tests.probe.conftest import sample
from tests.support.doubles import Blackhole, HttpDouble, Reply
from tests.support.processes import free_port

OPEN, CLOSED = 2, 0


class Switch:
    """An HTTP dependency that answers 503 until it is turned on; counts the requests."""

    def __init__(self) -> None:
        self.healthy = False
        self.double = HttpDouble({("GET", "/"): self._reply})

    def _reply(self, _request: object) -> Reply:
        return Reply(200, "ok") if self.healthy else Reply(503, "unavailable")

    @property
    def calls(self) -> int:
        return len(self.double.requests)


@pytest.fixture
def switch() -> Iterator[Switch]:
    dependency = Switch()
    yield dependency
    dependency.double.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


def api(url: str, **extra: object) -> dict[str, object]:
    return {"name": "api", "kind": "http", "url": url, **extra}


def value(text: str, name: str, **labels: str) -> float | None:
    return sample(text, name, dependency="api", **labels)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_recovery_is_reported_by_the_first_scrape_after_it(switch, make_config, exporter_for):
    exporter = exporter_for(make_config([api(switch.double.url)]))
    for _ in range(3):  # failure_threshold 3 by default
        text = await exporter.metrics()
    assert value(text, "dependency_circuit_state") == OPEN
    for _ in range(3):  # still down: each scrape makes one trial, without retries
        text = await exporter.metrics()
        assert value(text, "dependency_up") == 0
        assert value(text, "dependency_circuit_state") == OPEN
    assert switch.calls == 6
    assert value(text, "dependency_probe_failures_total", reason="unhealthy") == 6
    assert value(text, "dependency_circuit_opens_total") == 1  # failed trials: still open

    switch.healthy = True
    text = await exporter.metrics()
    assert value(text, "dependency_up") == 1
    assert value(text, "dependency_circuit_state") == CLOSED
    assert value(text, "dependency_circuit_opens_total") == 1
    ready = (await exporter.get("/ready")).json()["dependencies"]["api"]
    assert ready["up"] and ready["circuit"] == CLOSED


async def test_probe_endpoint_reports_the_trial_of_an_open_circuit(
    switch, make_config, exporter_for
):
    exporter = exporter_for(make_config([api(switch.double.url)]))
    for _ in range(3):
        await exporter.metrics()
    probe = await exporter.get("/probe", params={"target": "api"})
    assert sample(probe.text, "probe_success") == 0
    switch.healthy = True
    probe = await exporter.get("/probe", params={"target": "api"})
    assert sample(probe.text, "probe_success") == 1


async def test_scrapes_of_an_open_circuit_stay_fast_on_a_hung_dependency(
    blackhole, make_config, exporter_for
):
    """One trial at a time: a hung dependency holds one connection per probe timeout, and a
    scrape waits for the trial a fraction of that timeout."""
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "api",
                    "kind": "redis",
                    "port": blackhole.port,
                    "timeout": "2s",
                    "circuit_breaker": {"failure_threshold": 1},
                }
            ]
        )
    )
    text = await exporter.metrics()  # the probe runs to its 2 s timeout and opens the circuit
    assert value(text, "dependency_circuit_state") == OPEN
    assert blackhole.accepted == 1
    for _ in range(5):
        started = time.monotonic()
        text = await exporter.metrics()
        assert time.monotonic() - started < 1.0  # not the 2 s of the probe timeout
        assert value(text, "dependency_up") == 0
        assert value(text, "dependency_circuit_state") == OPEN
    assert blackhole.accepted == 2  # the first trial is still running: the others joined it
    probe = await exporter.get("/probe", params={"target": "api"})
    assert sample(probe.text, "probe_success") == 0
    assert 'probe_failure_info{reason="timeout"}' in probe.text


async def test_a_cooldown_spaces_the_trials(switch, make_config):
    clock = FakeClock()
    config = make_config(
        [api(switch.double.url, circuit_breaker={"failure_threshold": 1, "cooldown": "30s"})]
    )
    prober = Prober(config, clock=clock)
    assert not (await prober.probe("api", 5.0)).up
    assert prober.states["api"].circuit.is_open and switch.calls == 1
    clock.now += 29
    outcome = await prober.probe("api", 5.0)
    assert not outcome.up and outcome.short_circuited and "next in 1s" in outcome.message
    assert switch.calls == 1  # no network I/O inside the cooldown
    clock.now += 1
    assert not (await prober.probe("api", 5.0)).up  # a trial, failed: 30 s more
    assert switch.calls == 2
    switch.healthy = True
    clock.now += 10
    assert not (await prober.probe("api", 5.0)).up
    assert switch.calls == 2
    clock.now += 20
    assert (await prober.probe("api", 5.0)).up
    assert not prober.states["api"].circuit.is_open
    assert prober.states["api"].circuit.opens == 1
    await prober.aclose()


async def test_trials_are_single_attempts(make_config, exporter_for):
    """Retries are for a closed circuit; a trial of an open one is one connection attempt."""
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "api",
                    "kind": "redis",
                    "port": free_port(),
                    "retries": {"attempts": 3, "initial_backoff": "10ms"},
                    "circuit_breaker": {"failure_threshold": 1},
                }
            ]
        )
    )
    text = await exporter.metrics()
    assert value(text, "dependency_probe_retries_total") == 2
    for _ in range(3):
        text = await exporter.metrics()
    assert value(text, "dependency_probe_retries_total") == 2
    assert value(text, "dependency_probe_failures_total", reason="refused") == 4


async def test_circuit_changes_are_logged_once_each_way(
    switch, make_config, exporter_for, probe_logs
):
    exporter = exporter_for(make_config([api(switch.double.url)]))
    for _ in range(6):
        await exporter.metrics()
    switch.healthy = True
    await exporter.metrics()
    await asyncio.sleep(0)
    messages = [r.getMessage() for r in probe_logs.records]
    assert messages == ["dependency down", "circuit opened", "dependency up", "circuit closed"]
