"""What on-call sees first: the top row of every dashboard says whether something is wrong,
colours follow the platform plan's targets and the SLO spec, and every series is named.

Read from the committed dashboards, as Grafana loads them; the last test declares the demo's
incident on a live stack and evaluates the top-row panels' own queries against a real
Prometheus, coloured by the panels' own thresholds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import promql_parser
import pytest

from obsstack.alerts import load_default_spec
from obsstack.alerts.model import SLO
from obsstack.core import naming
from obsstack.dashboards import conventions
from obsstack.dashboards.lint import expand, panels
from obsstack.demo.catalogue import AGENTS
from tests.dashboards.conftest import committed_dashboards
from tests.dashboards.live import LiveStack, start_platform, start_prometheus
from tests.support.paths import ROOT as REPO_ROOT
from tests.support.processes import free_port, wait_until

Json = dict[str, Any]
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Panels that draw one colour per series by their thresholds, and name each series by legend.
SERIES_PANELS = {"timeseries", "bargauge", "stat", "state-timeline"}


def board(uid: str) -> Json:
    return next(d for d in committed_dashboards() if d["uid"] == uid)


def rows(dashboard: Json) -> list[tuple[str, list[Json]]]:
    """(row title, the panels below it), top to bottom."""
    out: list[tuple[str, list[Json]]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            out.append((panel["title"], []))
        else:
            out[-1][1].append(panel)
    return out


def panel(dashboard: Json, title: str) -> Json:
    return next(p for p in panels(dashboard) if p["title"] == title)


def steps(panel: Json) -> list[tuple[str, float | None]]:
    found = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [(step["color"], step["value"]) for step in found]


def red_from(panel: Json) -> float:
    return next(value for colour, value in steps(panel) if colour == "red" and value is not None)


# -- the plan's targets ----------------------------------------------------------------------
def shipped_slo(service: str, name: str) -> SLO:
    return next(s for s in load_default_spec().slos if (s.service, s.name) == (service, name))


def test_the_plan_targets_are_the_shipped_slos():
    targets = (
        conventions.AVAILABILITY_TARGET,
        conventions.AI_AVAILABILITY_TARGET,
        conventions.LATENCY_P95_TARGET,
    )
    assert targets == (
        shipped_slo("api", "availability").objective_ratio,
        shipped_slo("ai", "availability").objective_ratio,
        shipped_slo("api", "latency").sli.threshold,
    )
    for dependency in ("postgres", "redis"):  # 99.9 % uptime
        assert shipped_slo(dependency, "availability").objective_ratio == 0.999


def test_cache_hit_rate_is_red_below_80_orange_below_90_and_green_from_90_percent():
    cache = panel(board("obsstack-business-kpis"), "Cache hit rate")
    assert steps(cache) == [("red", None), ("orange", 0.8), ("green", 0.9)]
    assert "90 %" in cache["description"] and "80 %" in cache["description"]


def test_error_ratios_turn_orange_past_the_budget_and_red_at_the_paging_rate():
    # SRE workbook: a 30-day budget pages at 14.4 times its rate (2 % of it in an hour).
    overview = board("obsstack-service-overview")
    for title in ("Error ratio", "Error ratio by route", "Error ratio per route"):
        assert steps(panel(overview, title)) == [
            ("green", None),
            ("orange", 0.001),
            ("red", 0.0144),
        ], title
    kpis = board("obsstack-business-kpis")
    for title in (
        "AI query failure ratio",
        "Failure ratio by agent type",
        "AI query failure ratio by agent type",
    ):
        assert steps(panel(kpis, title)) == [("green", None), ("orange", 0.01), ("red", 0.144)]


def test_latency_panels_of_the_service_overview_carry_the_100_ms_target():
    overview = board("obsstack-service-overview")
    latency = [p for p in panels(overview) if p["fieldConfig"]["defaults"]["unit"] == "s"]
    assert {p["title"] for p in latency} == {
        "p95 latency",
        "p95 latency by route",
        "Request duration p50 / p95 / p99",
        "p95 duration per route",
    }
    for item in latency:
        assert ("orange", 0.1) in steps(item), item["title"]
        if item["type"] == "timeseries":  # drawn as a line on the graph
            custom = item["fieldConfig"]["defaults"]["custom"]
            assert custom["thresholdsStyle"] == {"mode": "dashed"}, item["title"]


def test_dependency_uptime_is_red_below_99_9_percent():
    uptime = panel(board("obsstack-dependencies"), "Uptime over the time range")
    assert steps(uptime) == [("red", None), ("green", 0.999)]
    assert uptime["targets"][0]["instant"] is True
    assert "[$__range]" in uptime["targets"][0]["expr"]


# -- the SLOs dashboard: thresholds from the spec -------------------------------------------
def test_slo_thresholds_are_the_objectives_and_page_factors_of_the_spec():
    spec = load_default_spec()
    slos = board("obsstack-slos")
    sections = rows(slos)[1:]
    assert len(sections) == len(spec.slos)
    for slo, (_title, section) in zip(spec.slos, sections, strict=True):
        sli, _budget, _burn, over_time, _alerts = section
        assert sli["title"] == f"SLI over {slo.period_name} (objective {slo.objective:g} %)"
        assert len(sli["targets"]) == 1  # no second tile that is always green
        for item in (sli, over_time):
            assert steps(item) == [("red", None), ("green", slo.objective_ratio)], slo.id
    burn_now = rows(slos)[0][1][1]
    assert burn_now["title"] == "Burn rate now (1h)"
    page = {
        w.factor
        for s in spec.slos
        for t in s.tiers
        if t.name == naming.TIER_PAGE
        for w in t.windows
        if w.long_name == "1h"
    }
    assert steps(burn_now) == [("green", None), ("orange", 1.0), ("red", min(page))]
    assert min(page) == 14.4


# -- every series named, every top row coloured ---------------------------------------------
def result_labels(node: Any) -> set[str] | None:
    """The labels a PromQL expression's series differ by, as far as the outer aggregation
    tells: a set (empty for a single series), or None when every label of a selector stays."""
    if isinstance(node, promql_parser.AggregateExpr):
        if str(node.op) in ("topk", "bottomk"):
            return result_labels(node.expr)
        modifier = node.modifier
        if modifier is None:
            return set()
        return set(modifier.labels) if str(modifier.type).endswith("By") else None
    if isinstance(node, promql_parser.BinaryExpr):
        left, right = result_labels(node.lhs), result_labels(node.rhs)
        return None if left is None or right is None else left | right
    if isinstance(node, promql_parser.ParenExpr):
        return result_labels(node.expr)
    if isinstance(node, promql_parser.Call):
        vectors = [a for a in node.args if not isinstance(a, promql_parser.StringLiteral)]
        if node.func.name == "histogram_quantile":
            inner = result_labels(vectors[1])
            return None if inner is None else inner - {"le"}
        if node.func.name == "vector":
            return set()
        for arg in vectors:
            if not isinstance(arg, promql_parser.NumberLiteral):
                return result_labels(arg)
        return set()
    if isinstance(node, promql_parser.NumberLiteral):
        return set()
    return None  # a selector: all its labels


def unnamed_series(dashboard: Json) -> list[str]:
    found = []
    bindings = {"__rate_interval": "1m", "__range": "1h", "__interval": "1m"}
    for item in panels(dashboard):
        if item["type"] not in SERIES_PANELS:
            continue
        for target in item["targets"]:
            legend = target.get("legendFormat", "")
            expr = expand(target["expr"], {**bindings, "job": "x", "instance": ".*"})
            labels = result_labels(promql_parser.parse(expand(expr, _ALL_VALUES)))
            several = len(item["targets"]) > 1 or labels is None or bool(labels)
            if item["type"] == "stat" and not several:
                continue  # one number, titled by the panel
            where = f"{dashboard['uid']}: {item['title']} {target['refId']}"
            if not legend.strip():
                found.append(f"{where}: no legend")
            elif missing := (labels or set()) - set(_LEGEND_LABEL.findall(legend)):
                found.append(f"{where}: legend {legend!r} does not name {sorted(missing)}")
    return found


_ALL_VALUES = {"dependency": ".*", "kind": ".*", "agent_type": ".*", "service": ".*", "slo": ".*"}


def test_every_series_is_named_by_the_labels_that_tell_it_apart():
    assert [f for d in committed_dashboards() for f in unnamed_series(d)] == []


def test_the_legend_check_finds_a_bare_series_and_an_unnamed_label():
    kpis = board("obsstack-business-kpis")
    broken = {**kpis, "panels": [dict(p) for p in kpis["panels"]]}
    queries = next(p for p in broken["panels"] if p["title"] == "AI queries by agent type")
    queries["targets"] = [{**queries["targets"][0], "legendFormat": "queries"}]
    users = next(p for p in broken["panels"] if p["title"] == "Active users")
    users["targets"] = [{**t, "legendFormat": ""} for t in users["targets"]]
    assert unnamed_series(broken) == [
        "obsstack-business-kpis: AI queries by agent type A: legend 'queries' does not name "
        "['agent_type']",
        "obsstack-business-kpis: Active users A: no legend",
        "obsstack-business-kpis: Active users B: no legend",
    ]


@pytest.mark.parametrize("uid", [d["uid"] for d in committed_dashboards()])
def test_the_top_row_has_a_stat_coloured_by_thresholds(uid: str):
    title, top = rows(board(uid))[0]
    coloured = [
        p
        for p in top
        if p["type"] == "stat"
        and p["fieldConfig"]["defaults"]["color"] == {"mode": "thresholds"}
        and len({colour for colour, _ in steps(p)}) > 1
    ]
    assert coloured, f"{uid}: the top row {title!r} has no stat that changes colour"
    # Since when: a graph over the time range in the top row.
    assert any(
        p["type"] in ("timeseries", "state-timeline") or p["options"].get("graphMode") == "area"
        for p in top
    ), uid


def test_a_number_is_green_only_when_a_threshold_says_it_is_good():
    # A stat, gauge or bar gauge without thresholds or value mappings is neutral blue: green
    # would tell on-call that all is well when nothing was measured against a target.
    uncoloured = [
        f"{d['uid']}: {p['title']}"
        for d in committed_dashboards()
        for p in panels(d)
        if p["type"] in ("stat", "gauge", "bargauge")
        and len(steps(p)) == 1
        and not p["fieldConfig"]["defaults"].get("mappings")
        and steps(p) != [("blue", None)]
    ]
    assert uncoloured == []


# -- live: the demo's incident turns the top rows red, and says where -----------------------
SCRAPE_WINDOW = "30s"  # $__rate_interval here: enough requests that one error is not a spike


def evaluate(url: str, dashboard: Json, item: Json) -> dict[str, float]:
    """The panel's queries now, as Grafana runs them on opening: series name -> value."""
    values = {
        "job": naming.JOB_API,
        "instance": ".*",
        "agent_type": ".*",
        "__rate_interval": SCRAPE_WINDOW,
        "__range": "5m",
    }
    out: dict[str, float] = {}
    for target in item["targets"]:
        expr = expand(target["expr"], values)
        response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", (dashboard["uid"], item["title"], body)
        for series in body["data"]["result"]:
            name = legend_of(target.get("legendFormat", ""), series["metric"])
            out[name or item["title"]] = float(series["value"][1])
    return out


def legend_of(legend: str, labels: dict[str, str]) -> str:
    """The series name Grafana shows: ``{{label}}`` replaced by the series' value."""
    return _LEGEND_LABEL.sub(lambda match: labels.get(match[1], ""), legend)


def top_row_with_red(dashboard: Json) -> list[Json]:
    return [p for p in rows(dashboard)[0][1] if any(c == "red" for c, _ in steps(p))]


def red_series(url: str, dashboard: Json) -> dict[str, list[str]]:
    """Panel title -> the series at or above the panel's red threshold (top row only)."""
    return {
        p["title"]: sorted(n for n, v in evaluate(url, dashboard, p).items() if v >= red_from(p))
        for p in top_row_with_red(dashboard)
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The demo platform under its traffic, scraped by a real Prometheus: (its URL, Prometheus')."""
    stack = LiveStack(tmp_path_factory.mktemp("oncall"))
    try:
        start_platform(stack)
        # No rules, so nothing is sent to this Alertmanager nobody listens on.
        start_prometheus(stack, f"127.0.0.1:{free_port()}", [])
        assert stack.prometheus is not None
        target = next(j for j in stack.scrape if j["job_name"] == naming.JOB_API)
        yield f"http://{target['static_configs'][0]['targets'][0]}", stack.prometheus.url
    finally:
        stack.stop()


@pytest.mark.e2e
def test_the_demo_incident_turns_the_top_rows_red_where_it_happens(demo: tuple[str, str]):
    platform, prometheus = demo
    overview = board("obsstack-service-overview")
    kpis = board("obsstack-business-kpis")
    assert [p["title"] for p in top_row_with_red(overview)] == [
        "Error ratio",
        "Error ratio by route",
    ]
    assert [p["title"] for p in top_row_with_red(kpis)] == [
        "AI query failure ratio",
        "Failure ratio by agent type",
        "AI query failure ratio by agent type",
    ]

    def every_agent_answered() -> bool:
        found = evaluate(prometheus, kpis, panel(kpis, "Failure ratio by agent type"))
        return len(found) == len(AGENTS)

    wait_until(every_agent_answered, 60, "AI queries of every agent type", interval=1)
    time.sleep(int(SCRAPE_WINDOW.removesuffix("s")))
    # Before: the demo meets its targets within the paging rate: nothing is red.
    assert red_series(prometheus, overview) == {"Error ratio": [], "Error ratio by route": []}
    assert red_series(prometheus, kpis) == {
        "AI query failure ratio": [],
        "Failure ratio by agent type": [],
        "AI query failure ratio by agent type": [],
    }

    incident = {"agent_type": "code_assistant", "failure_rate": 1.0, "minutes": 5}
    assert httpx.put(f"{platform}/internal/incident", json=incident, timeout=10).status_code == 200
    expected = {
        overview["uid"]: {
            "Error ratio": ["Error ratio"],
            "Error ratio by route": ["/v1/agents/{agent_type}/query"],
        },
        kpis["uid"]: {
            "AI query failure ratio": ["AI query failure ratio"],
            "Failure ratio by agent type": ["code_assistant"],
            "AI query failure ratio by agent type": ["code_assistant"],
        },
    }
    deadline = time.monotonic() + 90
    try:
        while (seen := {d["uid"]: red_series(prometheus, d) for d in (overview, kpis)}) != expected:
            if time.monotonic() > deadline:
                break
            time.sleep(2)
    finally:
        httpx.delete(f"{platform}/internal/incident", timeout=10)
    assert seen == expected


# -- dashboards/README.md says what each row answers ----------------------------------------
def readme_rows() -> dict[str, list[str]]:
    """Dashboard title -> the rows its table in dashboards/README.md lists."""
    text = (REPO_ROOT / "dashboards" / "README.md").read_text()
    section = text.split("## What each row answers for on-call", 1)[1].split("\n## ", 1)[0]
    out: dict[str, list[str]] = {}
    for block in section.split("\n### ")[1:]:
        title, _, body = block.partition("\n")
        out[title.strip()] = [
            line.split("|")[1].strip()
            for line in body.splitlines()
            if line.startswith("| ") and not line.startswith(("| row ", "|---"))
        ]
    return out


PER_SLO_ROW = "one row per SLO: `service / name: objective over period (description)`"


def test_the_readme_lists_every_row_of_every_dashboard_with_its_question():
    listed = readme_rows()
    assert sorted(listed) == sorted(d["title"] for d in committed_dashboards())
    for dashboard in committed_dashboards():
        titles = [title for title, _ in rows(dashboard)]
        if dashboard["uid"] == "obsstack-slos":  # one row per SLO of the spec
            slos = [f"{s.service} / {s.name}: " for s in load_default_spec().slos]
            assert [t[: len(start)] for t, start in zip(titles[1:], slos, strict=True)] == slos
            titles = [titles[0], PER_SLO_ROW]
        assert listed[dashboard["title"]] == titles, dashboard["uid"]
