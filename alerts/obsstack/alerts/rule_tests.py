"""promtool unit-test files for every SLO (``<service>.<slo>*.test.yml``) and the stack alerts.

Per SLO, ``<service>.<slo>.test.yml`` (1m evaluation) holds: a steady burn above every
threshold (each tier fires, annotations checked word for word), a steady ratio just below the
lowest threshold (nothing fires), no traffic (no alert, no NaN), a scrape gap (data-absent
alert), low traffic (no page) when ``page_min_events`` is set, and the detection time of each
page window. ``<service>.<slo>.ticket.test.yml`` (5m evaluation, days of data) checks the
ticket windows' detection times.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from obsstack.alerts import records as names
from obsstack.alerts import scenarios, series, stack_tests
from obsstack.alerts.model import SLO, SLOSpec
from obsstack.alerts.render import to_yaml
from obsstack.alerts.scenarios import Case
from obsstack.core import naming
from obsstack.core.spec import format_duration


def _when(minutes: int) -> str:
    return format_duration(minutes * 60) if minutes else "0s"


def _selector(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


def _alerts_query(
    slo: SLO, alertname: str, labels: dict[str, str] | None = None, tier: str = ""
) -> str:
    matchers = {
        **(labels or {}),
        **({naming.TIER_LABEL: tier} if tier else {}),
        "alertstate": "firing",
        naming.SERVICE_LABEL: slo.service,
        naming.SLO_LABEL: slo.name,
    }
    if alertname:
        matchers["alertname"] = alertname
    return "ALERTS" + _selector(matchers)


def _record_test(slo: SLO, check: scenarios.RecordCheck) -> dict[str, Any]:
    """The record's value at a time; with a tolerance, 1 when it is within it."""
    labels = names.labels(slo)
    expr = names.query(check.record, slo)
    sample: dict[str, Any] = {"labels": check.record + _selector(labels), "value": check.value}
    if check.tolerance:
        low, high = check.value - check.tolerance, check.value + check.tolerance
        expr = f"({expr} >= {low!r} <= {high!r}) * 0 + 1"
        sample = {"labels": _selector(labels), "value": 1}
    return {"expr": expr, "eval_time": _when(check.at), "exp_samples": [sample]}


def render_case(slo: SLO, case: Case, synthesis: series.Synthesis) -> dict[str, Any]:
    test: dict[str, Any] = {
        "name": case.title,
        "interval": "1m",
        "input_series": synthesis.input_series(case.segments) + case.inputs,
    }
    expected: dict[tuple[int, str], list[dict[str, Any]]] = {}
    expr_tests = []
    for check in case.checks:
        if check.notes is not None:
            # alert_rule_test lists every alert of a name: tiers sharing one name go together.
            alerts = expected.setdefault((check.at, check.alertname), [])
            if check.firing:
                alerts.append(
                    {
                        "exp_labels": scenarios.labels(slo, check.alertname, check.tier),
                        "exp_annotations": check.notes,
                    }
                )
            continue
        samples = []
        if check.firing:
            full = {"alertname": check.alertname, "alertstate": "firing"}
            full.update(check.labels or scenarios.labels(slo, check.alertname, check.tier))
            samples = [{"labels": "ALERTS" + _selector(full), "value": 1}]
        expr_tests.append(
            {
                "expr": _alerts_query(slo, check.alertname, check.labels, check.tier),
                "eval_time": _when(check.at),
                "exp_samples": samples,
            }
        )
    alert_tests = [
        {"eval_time": _when(at), "alertname": name, "exp_alerts": alerts}
        for (at, name), alerts in expected.items()
    ]
    expr_tests += [_record_test(slo, record) for record in case.records]
    expr_tests += [
        {"expr": query, "eval_time": _when(at), "exp_samples": []} for at, query in case.never
    ]
    if alert_tests:
        test["alert_rule_test"] = alert_tests
    if expr_tests:
        test["promql_expr_test"] = expr_tests
    return test


def _file(slo: SLO, rule_file: str, tests: list[dict[str, Any]], source: str) -> str:
    """A test file evaluating the rules at the SLO group's own interval, as Prometheus does."""
    document = {
        "rule_files": [f"../{rule_file}"],
        "evaluation_interval": slo.evaluation_interval_name,
        "tests": tests,
    }
    return to_yaml(document, source)


def _cases(slo: SLO, dependencies: tuple[str, ...]) -> list[Case]:
    page, ticket = slo.tier(naming.TIER_PAGE), slo.tier(naming.TIER_TICKET)
    cases = [scenarios.steady_burn(slo)] if slo.tiers else []
    if slo.tiers:
        cases.append(scenarios.steady_below(slo))
    if slo.sli.kind != "uptime":
        cases.append(scenarios.no_traffic(slo))
    if ticket is not None:
        cases.append(scenarios.gap(slo))
    cases.append(scenarios.young_budget(slo))
    if page is not None and slo.page_min_events > 0 and slo.sli.kind != "uptime":
        cases.append(scenarios.low_traffic(slo, page))
    if page is not None and ticket is not None:
        cases.append(scenarios.explained_by_page(slo, page, ticket))
    if page is not None and dependencies:
        cases.append(scenarios.explained_by_dependency(slo, page, dependencies[0]))
    if page is not None:
        cases += [scenarios.detection(slo, page, w) for w in page.windows]
    return cases


def slo_files(
    slo: SLO, rule_file: str, source: str, dependencies: tuple[str, ...] = ()
) -> dict[str, str] | None:
    """The test files of one SLO, or None when its SLI cannot be synthesised."""
    synthesis = series.for_slo(slo)
    if synthesis is None:
        return None
    stem = f"{slo.service}.{slo.name}"
    cases = [render_case(slo, c, synthesis) for c in _cases(slo, dependencies)]
    files = {f"{stem}.test.yml": _file(slo, rule_file, cases, source)}
    ticket = slo.tier(naming.TIER_TICKET)
    if ticket is not None:
        slow = [
            render_case(slo, scenarios.detection(slo, ticket, w), synthesis) for w in ticket.windows
        ]
        files[f"{stem}.ticket.test.yml"] = _file(slo, rule_file, slow, source)
    return files


def test_files(
    spec: SLOSpec, rules_file: Callable[[SLO], str], stack_rules: str, source: str
) -> tuple[dict[str, str], list[str]]:
    """Every test file by name, and the SLOs left without generated tests."""
    files: dict[str, str] = {}
    untested = []
    for slo in spec.slos:
        dependencies = spec.service(slo.service).depends_on
        made = slo_files(slo, rules_file(slo), source, dependencies)
        if made is None:
            untested.append(f"{slo.service}/{slo.name}")
        else:
            files.update(made)
    files["stack.test.yml"] = stack_tests.render(spec, stack_rules)
    return files, untested
