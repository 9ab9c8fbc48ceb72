"""Lint rules: the committed dashboards pass, and each rule catches the mistake it is for
(a known-good dashboard plus one mutation, asserting the exact finding)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from obsstack.core.artifacts import GenerateContext
from obsstack.dashboards.lint import expand, exported_names, lint, metric_allow_list, panels
from tests.support.paths import ROOT as REPO_ROOT

Json = dict[str, Any]


def first_panel(d: Json, title: str | None = None) -> Json:
    return next(p for p in panels(d) if title is None or p["title"] == title)


def by_title(title: str) -> Callable[[Json], Json]:
    return lambda d: first_panel(d, title)


def test_committed_dashboards_pass_every_rule(dashboards):
    allowed = metric_allow_list(GenerateContext(REPO_ROOT))
    assert [f"{d['uid']}: {p}" for d in dashboards for p in lint(d, allowed)] == []


def set_expr(title: str, expr: str) -> Callable[[Json], None]:
    def mutate(d: Json) -> None:
        first_panel(d, title)["targets"][0]["expr"] = expr

    return mutate


def set_key(title: str, key: str, value: Any) -> Callable[[Json], None]:
    def mutate(d: Json) -> None:
        first_panel(d, title)[key] = value

    return mutate


def drop_unit(d: Json) -> None:
    first_panel(d, "Request rate")["fieldConfig"]["defaults"].pop("unit")


def drop_datasource_variable(d: Json) -> None:
    d["templating"]["list"] = [v for v in d["templating"]["list"] if v["name"] != "datasource"]


def hard_coded_target_datasource(d: Json) -> None:
    first_panel(d, "Request rate")["targets"][0]["datasource"] = {"type": "prometheus", "uid": "x"}


def make_editable(d: Json) -> None:
    d["editable"] = True


def drop_instance_variable(d: Json) -> None:
    d["templating"]["list"] = [v for v in d["templating"]["list"] if v["name"] != "instance"]


def unused_variable(d: Json) -> None:
    d["templating"]["list"].append(
        {"type": "query", "name": "region", "query": "label_values(up, region)"}
    )


RATE = "Request rate"
WHERE = "panel 2 'Request rate'"
CASES = [
    (
        "a typo in a metric name",
        set_expr(RATE, "sum(rate(http_server_request_duration_second_count[$__rate_interval]))"),
        f"{WHERE} target A: unknown metric 'http_server_request_duration_second_count': "
        "not in obsstack.core.naming nor a recording rule",
    ),
    (
        "rate over a fixed window",
        set_expr(RATE, "sum(rate(http_server_request_duration_seconds_count[5m]))"),
        f"{WHERE} target A: rate() must use [$__rate_interval] (got 0:05:00)",
    ),
    (
        "irate over $__interval",
        set_expr(RATE, "sum(irate(http_server_request_duration_seconds_count[$__interval]))"),
        f"{WHERE} target A: irate() must use [$__rate_interval] (got 0:01:00)",
    ),
    (
        "a raw counter",
        set_expr(RATE, 'sum(ai_queries_total{agent_type="x"})'),
        f"{WHERE} target A: counter ai_queries_total must be inside rate/irate/increase/resets",
    ),
    (
        "a raw histogram count",
        set_expr(RATE, "sum(http_server_request_duration_seconds_count)"),
        f"{WHERE} target A: counter http_server_request_duration_seconds_count must be inside "
        "rate/irate/increase/resets",
    ),
    (
        "a counter inside max_over_time",
        set_expr(RATE, "max_over_time(ai_queries_total[1h])"),
        f"{WHERE} target A: counter ai_queries_total must be inside rate/irate/increase/resets",
    ),
    (
        "PromQL that does not parse",
        set_expr(RATE, "sum(rate(up[$__rate_interval])"),
        f"{WHERE} target A: invalid PromQL: unclosed left parenthesis in "
        "'sum(rate(up[7m13s])'",
    ),
    (
        "a selector without a metric name",
        set_expr(RATE, 'sum({job="api"})'),
        f"{WHERE} target A: selector without a literal metric name",
    ),
    ("a panel without a unit", drop_unit, f"{WHERE}: has no unit"),
    (
        "a panel without a description",
        set_key(RATE, "description", " "),
        f"{WHERE}: has no description",
    ),
    (
        "a panel on a fixed data source",
        set_key(RATE, "datasource", {"type": "prometheus", "uid": "prometheus"}),
        f"{WHERE}: must read from $datasource",
    ),
    (
        "a target on a fixed data source",
        hard_coded_target_datasource,
        f"{WHERE} target A: must read from $datasource",
    ),
    (
        "no datasource variable",
        drop_datasource_variable,
        [
            "templating: no datasource variable of type datasource",
            # the link to the Business KPIs dashboard keeps the data source
            "templating: variable $datasource is used but not declared",
        ],
    ),
    (
        "an undeclared variable",
        drop_instance_variable,
        "templating: variable $instance is used but not declared",
    ),
    (
        "a declared variable nobody uses",
        unused_variable,
        "templating: variable $region is declared but never used",
    ),
    (
        "an editable dashboard",
        make_editable,
        "dashboard: editable must be false (provisioned, code-owned)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_reports_its_mistake(fresh, mutate, expected):
    overview = copy.deepcopy(next(d for d in fresh if d["uid"] == "obsstack-service-overview"))
    assert lint(overview, exported_names()) == []
    mutate(overview)
    expected = [expected] if isinstance(expected, str) else expected
    assert [str(p) for p in lint(overview, exported_names())] == expected


def test_a_counter_may_be_read_by_resets(fresh):
    """resets() counts a counter's restarts: the Stack health dashboard's container restarts."""
    overview = copy.deepcopy(next(d for d in fresh if d["uid"] == "obsstack-service-overview"))
    set_expr(RATE, "max(resets(ai_queries_total[15m]))")(overview)
    assert lint(overview, exported_names()) == []


def test_grafana_variables_are_substituted_before_parsing():
    expr = 'sum(rate(x_total{job="$job", i=~"${instance:regex}"}[$__rate_interval])) [[job]]'
    assert expand(expr, {"job": "api", "instance": ".*"}) == (
        'sum(rate(x_total{job="api", i=~".*"}[7m13s])) api'
    )


def test_capture_groups_of_label_replace_are_not_variables(fresh):
    """Grafana leaves ``$1`` as it is (no variable is named 1); Prometheus fills it in."""
    overview = copy.deepcopy(next(d for d in fresh if d["uid"] == "obsstack-service-overview"))
    rate = "sum(rate(ai_queries_total[$__rate_interval]))"
    expr = f'label_replace({rate}, "kind", "$1 ($2)", "job", "(.*)-(.*)")'
    set_expr(RATE, expr)(overview)
    assert lint(overview, exported_names()) == []
    set_expr(RATE, expr.replace("$2", "$kind"))(overview)
    assert [str(p) for p in lint(overview, exported_names())] == [
        "templating: variable $kind is used but not declared"
    ]


FAST_WINDOWS_SPEC = """\
version: obsstack/v1
alert_windows:
  fast:
    period: 7d
    page: {for: 1m, windows: [{long: 20m, short: 2m, factor: 10}]}
    ticket: {for: 10m, windows: [{long: 2h, short: 10m, factor: 2}]}
services: [{name: checkout}]
slos:
  - service: checkout
    name: availability
    objective: 99.5
    period: 7d
    alert_windows: fast
    sli: {kind: uptime, metric: 'dependency_up{dependency="postgres"}'}
"""


def test_recording_rules_of_the_spec_are_allowed_next_to_the_naming_module(tmp_path):
    shipped = metric_allow_list(GenerateContext(REPO_ROOT))
    assert {"slo:error_ratio:1h", "slo:error_budget_remaining:period"} <= shipped
    assert "dependency_up" in shipped
    assert "prometheus_rule_evaluation_failures_total" in shipped  # stack component section
    assert "http_server_request_duration_seconds_bucket" in shipped  # histogram series
    assert "slo:error_ratio:20m" not in shipped
    spec = tmp_path / "slos.yaml"
    spec.write_text(FAST_WINDOWS_SPEC)
    custom = metric_allow_list(GenerateContext(REPO_ROOT, slo_spec=spec))
    assert {"slo:error_ratio:20m", "slo:events_per_second:2m"} <= custom
    assert "slo:error_ratio:1h" not in custom
