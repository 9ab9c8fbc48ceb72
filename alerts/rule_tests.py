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

from alerts import records as names
from alerts import scenarios, series, stack_tests
from alerts.model import SLO, SLOSpec
from alerts.render import to_yaml
from alerts.scenarios import Case
from exporters import naming
from exporters.spec import format_duration


def _when(minutes: int) -> str:
    return format_duration(minutes * 60) if minutes else "0s"


def _selector(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


def _alerts_query(slo: SLO, alertname: str) -> str:
    matchers = {
        "alertstate": "firing",
        naming.SERVICE_LABEL: slo.service,
        naming.SLO_LABEL: slo.name,
    }
    if alertname:
        matchers["alertname"] = alertname
    return "ALERTS" + _selector(matchers)


def render_case(slo: SLO, case: Case, synthesis: series.Synthesis) -> dict[str, Any]:
    test: dict[str, Any] = {
        "name": case.title,
        "interval": "1m",
        "input_series": synthesis.input_series(case.segments),
    }
    alert_tests, expr_tests = [], []
    for check in case.checks:
        if check.notes is not None:
            expected = [
                {
                    "exp_labels": scenarios.labels(slo, check.alertname),
                    "exp_annotations": check.notes,
                }
            ]
            alert_tests.append(
                {
                    "eval_time": _when(check.at),
                    "alertname": check.alertname,
                    "exp_alerts": expected if check.firing else [],
                }
            )
            continue
        samples = []
        if check.firing:
            full = {"alertname": check.alertname, "alertstate": "firing"}
            full.update(scenarios.labels(slo, check.alertname))
            samples = [{"labels": "ALERTS" + _selector(full), "value": 1}]
        expr_tests.append(
            {
                "expr": _alerts_query(slo, check.alertname),
                "eval_time": _when(check.at),
                "exp_samples": samples,
            }
        )
    for record in case.records:
        expr_tests.append(
            {
                "expr": names.query(record.record, slo),
                "eval_time": _when(record.at),
                "exp_samples": [
                    {"labels": record.record + _selector(names.labels(slo)), "value": record.value}
                ],
            }
        )
    if alert_tests:
        test["alert_rule_test"] = alert_tests
    if expr_tests:
        test["promql_expr_test"] = expr_tests
    return test


def _file(rule_file: str, step: int, tests: list[dict[str, Any]], source: str) -> str:
    document = {
        "rule_files": [f"../{rule_file}"],
        "evaluation_interval": _when(step),
        "tests": tests,
    }
    return to_yaml(document, source)


def slo_files(slo: SLO, rule_file: str, source: str) -> dict[str, str] | None:
    """The test files of one SLO, or None when its SLI cannot be synthesised."""
    synthesis = series.for_slo(slo)
    if synthesis is None:
        return None
    cases = [scenarios.steady_burn(slo), scenarios.steady_below(slo)]
    if slo.sli.kind != "uptime":
        cases.append(scenarios.no_traffic(slo))
    cases.append(scenarios.gap(slo))
    page = slo.tier(naming.TIER_PAGE)
    if page is not None and slo.page_min_events > 0 and slo.sli.kind != "uptime":
        cases.append(scenarios.low_traffic(slo, page))
    if page is not None:
        cases += [scenarios.detection(slo, page, w, 1) for w in page.windows]
    stem = f"{slo.service}.{slo.name}"
    files = {
        f"{stem}.test.yml": _file(
            rule_file, 1, [render_case(slo, c, synthesis) for c in cases], source
        )
    }
    ticket = slo.tier(naming.TIER_TICKET)
    if ticket is not None:
        slow = [
            render_case(slo, scenarios.detection(slo, ticket, w, 5), synthesis)
            for w in ticket.windows
        ]
        files[f"{stem}.ticket.test.yml"] = _file(rule_file, 5, slow, source)
    return files


def test_files(
    spec: SLOSpec, rules_file: Callable[[SLO], str], stack_rules: str, source: str
) -> tuple[dict[str, str], list[str]]:
    """Every test file by name, and the SLOs left without generated tests."""
    files: dict[str, str] = {}
    untested = []
    for slo in spec.slos:
        made = slo_files(slo, rules_file(slo), source)
        if made is None:
            untested.append(f"{slo.service}/{slo.name}")
        else:
            files.update(made)
    files["stack.test.yml"] = stack_tests.render(spec, stack_rules)
    return files, untested
