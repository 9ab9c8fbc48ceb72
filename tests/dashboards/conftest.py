"""Fixtures for the dashboard tests: the committed dashboards, freshly built ones, and the live
stack their queries run against (one per test module that asks for it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from obsstack.core.artifacts import GenerateContext
from obsstack.dashboards.generate import OUTPUT_DIR, build_all
from tests.dashboards.fixed_prometheus import start_fixed_prometheus
from tests.dashboards.live import (
    LiveStack,
    has_data,
    query_range,
    start_alertmanager,
    start_exporter,
    start_node_exporter,
    start_platform,
    start_prometheus,
)
from tests.support.paths import ROOT as REPO_ROOT
from tests.support.processes import wait_until
from tests.support.servers import PrivatePrometheus


def committed_dashboards() -> list[dict[str, Any]]:
    """The dashboards as committed under dashboards/generated (what Grafana loads)."""
    paths = sorted((REPO_ROOT / OUTPUT_DIR).glob("*.json"))
    assert paths, f"no dashboards under {OUTPUT_DIR}: run `obsstack generate`"
    return [json.loads(p.read_text()) for p in paths]


@pytest.fixture(scope="session")
def dashboards() -> list[dict[str, Any]]:
    return committed_dashboards()


@pytest.fixture()
def fresh() -> list[dict[str, Any]]:
    """Dashboards built from the code now (mutable copies for mutation tests)."""
    return build_all(GenerateContext(REPO_ROOT))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The demo platform with traffic, the KPI exporter, the probe exporter, node-exporter,
    Alertmanager and Prometheus with the generated rules, once every rule group has been
    evaluated twice (what a user opening the dashboards a minute after start sees)."""
    stack = LiveStack(tmp_path_factory.mktemp("live"))
    try:
        start_platform(stack)
        start_exporter(stack)
        start_node_exporter(stack)
        alertmanager = start_alertmanager(stack)
        rules = sorted((REPO_ROOT / "alerts" / "generated").glob("*.rules.yml"))
        start_prometheus(stack, alertmanager, rules)
        assert stack.prometheus is not None
        prometheus = stack.prometheus
        # Enough scrapes for rates over $__rate_interval, and the first rule evaluations.
        wait_until(
            lambda: (
                has_data(query_range(prometheus, 'up{job="obsstack-exporter"} == 1', 30))
                and len(query_range(prometheus, "up", 1)[0]["values"]) > 0
            ),
            60,
            "the first scrapes",
        )
        time.sleep(10)  # rates over $__rate_interval
        # The SLO groups run every 30 s, the first time up to 30 s after start and perhaps on
        # a single scrape: wait for their second evaluation, as a user opening the dashboards
        # a minute after start sees them (the tile groups, every 5 minutes, feed only the
        # period sums, which fall back to the last 30 minutes without them).
        seen: dict[str, set[str]] = {}

        def evaluated_twice() -> bool:
            for name, last in prometheus.last_evaluations(longest=60).items():
                if not last.startswith("0001-"):
                    seen.setdefault(name, set()).add(last)
            return len(seen) == len(prometheus.last_evaluations(longest=60)) and all(
                len(times) >= 2 for times in seen.values()
            )

        wait_until(evaluated_twice, 90, "two evaluations of every rule group", interval=1)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def fixed_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePrometheus]:
    """A real Prometheus serving the fixed hour of fixed_prometheus.py."""
    prometheus = start_fixed_prometheus(tmp_path_factory.mktemp("fixed-prometheus"))
    try:
        yield prometheus
    finally:
        prometheus.stop()
