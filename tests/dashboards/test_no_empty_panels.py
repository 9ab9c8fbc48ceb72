"""No empty panels: every query of every committed dashboard, with its variables bound the way
Grafana binds them, returns data from a real Prometheus fed by the real exporters, or is in
the short allow-list below with the reason it cannot have data here.

Variables are resolved like Grafana does: each ``label_values(selector, label)`` query is run
against Prometheus (it must find at least one value); single-value variables take the first
value, multi-value ones "All" (their ``allValue``), as on a freshly opened dashboard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from obsstack.dashboards.lint import GLOBALS, expand, panels, variables_in
from tests.dashboards.conftest import committed_dashboards
from tests.dashboards.live import LiveStack, exemplars, has_data, label_values, query_range

pytestmark = pytest.mark.e2e

WINDOW = 90  # seconds of data each range query looks at (the dashboards' time range here)
BINDINGS = {"__rate_interval": "10s", "__interval": "2s", "__range": f"{WINDOW}s"}
STACK_ONLY = "no Collector, Jaeger or Loki binary exists on this machine (names from their docs)"
CONTAINERS_ONLY = (
    "no Docker engine runs here, so no cAdvisor (names checked in cAdvisor 0.56.2's source)"
)
# (dashboard uid, panel title) -> why it has no data in this test.
ALLOWED_EMPTY: dict[tuple[str, str], str] = {
    ("obsstack-stack-health", "Spans per second"): STACK_ONLY,
    ("obsstack-stack-health", "Log records per second"): STACK_ONLY,
    ("obsstack-stack-health", "Metric points per second"): STACK_ONLY,
    ("obsstack-stack-health", "Exporter queue usage"): STACK_ONLY,
    ("obsstack-stack-health", "Jaeger: spans stored"): STACK_ONLY,
    ("obsstack-stack-health", "Log lines received"): STACK_ONLY,
    ("obsstack-stack-health", "Log bytes received"): STACK_ONLY,
    ("obsstack-stack-health", "Log lines rejected"): STACK_ONLY,
    ("obsstack-stack-health", "Container CPU"): CONTAINERS_ONLY,
    ("obsstack-stack-health", "Container memory"): CONTAINERS_ONLY,
    ("obsstack-stack-health", "Container restarts and OOM kills"): CONTAINERS_ONLY,
    ("obsstack-slos", "SLO alerts firing"): "lists firing SLO alerts: none fires while the "
    "platform meets its SLOs (their firing is tested by the generated promtool tests)",
}
_LABEL_VALUES = re.compile(r"^label_values\((?:(.*),\s*)?(\w+)\)$")
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def resolve(prometheus: Any, dashboard: dict[str, Any]) -> dict[str, str]:
    """Variable name -> value, as Grafana would bind them on opening the dashboard."""
    values: dict[str, str] = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = _LABEL_VALUES.match(variable["query"])
        assert match, variable["query"]
        selector = expand(match[1], values) if match[1] else None
        found = label_values(prometheus, match[2], selector)
        assert found, f"{dashboard['uid']}: variable ${variable['name']} finds no value"
        values[variable["name"]] = (
            variable.get("allValue", ".*") if variable.get("includeAll") else found[0]
        )
    return values


@dataclass
class Findings:
    empty: dict[str, list[str]] = field(default_factory=dict)  # panel title -> refIds
    blank_legends: list[str] = field(default_factory=list)  # legend labels the series lack


def run_queries(prometheus: Any, dashboard: dict[str, Any]) -> Findings:
    """Every query of the dashboard, as Grafana would run it on opening."""
    values = {**resolve(prometheus, dashboard), **BINDINGS}
    found = Findings()
    for panel in panels(dashboard):
        for target in panel["targets"]:
            expr = expand(target["expr"], values)
            assert not variables_in(expr), expr  # every variable bound
            result = query_range(prometheus, expr, 1 if target.get("instant") else WINDOW)
            if not has_data(result):
                found.empty.setdefault(panel["title"], []).append(target["refId"])
            wanted = set(_LEGEND_LABEL.findall(target.get("legendFormat", "")))
            for series in result:
                if missing := wanted - set(series["metric"]):
                    found.blank_legends.append(f"{panel['title']} {target['refId']}: {missing}")
    return found


@pytest.mark.parametrize("uid", [d["uid"] for d in committed_dashboards()])
def test_every_panel_query_returns_data(live: LiveStack, uid: str):
    dashboard = next(d for d in committed_dashboards() if d["uid"] == uid)
    assert live.prometheus is not None
    found = run_queries(live.prometheus, dashboard)
    unexpected = {t: refs for t, refs in found.empty.items() if (uid, t) not in ALLOWED_EMPTY}
    assert unexpected == {}
    # A legend naming a label the query aggregated away would show blank series names.
    assert found.blank_legends == []


def test_latency_panels_show_exemplars_with_the_trace_id_jaeger_opens(live: LiveStack):
    assert live.prometheus is not None
    checked = 0
    for dashboard in committed_dashboards():
        values = {**resolve(live.prometheus, dashboard), **BINDINGS}
        for panel in panels(dashboard):
            for target in panel["targets"]:
                if not target.get("exemplar"):
                    continue
                found = exemplars(live.prometheus, expand(target["expr"], values), WINDOW)
                assert found, f"{dashboard['uid']}: {panel['title']}: no exemplars"
                assert all(len(e["labels"]["trace_id"]) == 32 for e in found)
                checked += 1
    assert checked >= 2  # Service overview: duration percentiles, and p95 per route


def test_the_allow_list_names_real_panels():
    titles = {(d["uid"], p["title"]) for d in committed_dashboards() for p in panels(d)}
    assert set(ALLOWED_EMPTY) <= titles
    assert set(GLOBALS) >= set(BINDINGS)
