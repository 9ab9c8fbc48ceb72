"""The promtool test of the stack alerts (``stack.test.yml``): each fires on its symptom.

Expected annotations come from :func:`alerts.stack_rules.alert_notes` with the concrete label
values, so a change of wording needs no change here.
"""

from __future__ import annotations

from typing import Any

from alerts.model import SLOSpec
from alerts.render import to_yaml
from alerts.series import render as series_name
from alerts.stack_rules import ALERTS, StackAlert, alert_notes
from exporters import naming
from exporters.naming import StackComponentMetrics as Stack

EXPORTER = {"job": naming.JOB_EXPORTER, "instance": "exporter:9410"}
POSTGRES = {**EXPORTER, "dependency": "postgres", "kind": "postgres"}
REDIS = {**EXPORTER, "dependency": "redis", "kind": "redis"}
ALERTMANAGER = {"job": "alertmanager", "instance": "alertmanager:9093", "integration": "pagerduty"}


def _alert(name: str) -> StackAlert:
    return next(a for a in ALERTS if a.name == name)


def _expect(
    spec: SLOSpec, name: str, at: str, labels: dict[str, str] | None, **values: str
) -> dict[str, Any]:
    """An alert_rule_test entry: ``name`` fires at ``at`` with ``labels``, or (None) does not."""
    if labels is None:
        return {"eval_time": at, "alertname": name, "exp_alerts": []}
    alert = _alert(name)
    severity, tier = alert.level
    full = {**labels, naming.SEVERITY_LABEL: severity, naming.TIER_LABEL: tier}
    return {
        "eval_time": at,
        "alertname": name,
        "exp_alerts": [
            {
                "exp_labels": dict(sorted(full.items())),
                "exp_annotations": alert_notes(alert, spec, **values),
            }
        ],
    }


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    return {"series": series_name(name, labels), "values": values}


def _dependency_test(spec: SLOSpec) -> dict[str, Any]:
    down = {"dependency": "postgres", "kind": "postgres"}
    return {
        "name": "postgres fails from minute 5, its circuit opens, redis probes get slow",
        "interval": "1m",
        "input_series": [
            _series(naming.DEPENDENCY_UP.name, POSTGRES, "1x4 0x20"),
            _series(naming.DEPENDENCY_UP.name, REDIS, "1x24"),
            _series(naming.DEPENDENCY_CIRCUIT_STATE.name, POSTGRES, "0x4 2x20"),
            _series(naming.DEPENDENCY_PROBE_DURATION.name, REDIS, "0.9x24"),
            _series(naming.DEPENDENCY_PROBE_TIMEOUT.name, REDIS, "1x24"),
            # A zero timeout (not configured yet) must not read as an infinitely slow probe.
            _series(naming.DEPENDENCY_PROBE_DURATION.name, POSTGRES, "0.9x24"),
            _series(naming.DEPENDENCY_PROBE_TIMEOUT.name, POSTGRES, "0x24"),
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_DEPENDENCY_DOWN, "6m", None),
            _expect(spec, naming.ALERT_DEPENDENCY_DOWN, "8m", POSTGRES, **down),
            _expect(spec, naming.ALERT_DEPENDENCY_CIRCUIT_OPEN, "11m", POSTGRES, **down),
            _expect(spec, naming.ALERT_DEPENDENCY_PROBE_SLOW, "9m", None),
            _expect(
                spec,
                naming.ALERT_DEPENDENCY_PROBE_SLOW,
                "11m",
                REDIS,
                dependency="redis",
                kind="redis",
                share="90%",
            ),
        ],
    }


def _scrape_test(spec: SLOSpec) -> dict[str, Any]:
    api = {"job": naming.JOB_API}
    return {
        "name": "the exporter and one of two API instances stop answering scrapes",
        "interval": "1m",
        "input_series": [
            _series(Stack.UP.name, EXPORTER, "0x20"),
            _series(Stack.UP.name, {**api, "instance": "api-1:8000"}, "0x20"),
            _series(Stack.UP.name, {**api, "instance": "api-2:8000"}, "1x20"),
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_EXPORTER_DOWN, "6m", EXPORTER),
            _expect(spec, naming.ALERT_TARGET_DOWN, "9m", None),
            _expect(spec, naming.ALERT_TARGET_DOWN, "11m", api, value="50", job=naming.JOB_API),
        ],
    }


def _exporter_absent_test(spec: SLOSpec) -> dict[str, Any]:
    return {
        "name": "the exporter is missing from the scrape configuration",
        "interval": "1m",
        "input_series": [
            _series(Stack.UP.name, {"job": naming.JOB_API, "instance": "api-1:8000"}, "1x10")
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_EXPORTER_DOWN, "6m", {"job": naming.JOB_EXPORTER}),
        ],
    }


def _pipeline_test(spec: SLOSpec) -> dict[str, Any]:
    group = {"rule_group": "/etc/prometheus/rules/slos-api.rules.yml;obsstack-slo-api-latency"}
    return {
        "name": "rule evaluations and half the PagerDuty notifications fail; Watchdog fires",
        "interval": "1m",
        "input_series": [
            _series(Stack.RULE_EVALUATION_FAILURES.name, group, "0+1x30"),
            _series(Stack.AM_NOTIFICATIONS.name, ALERTMANAGER, "0+10x30"),
            _series(Stack.AM_NOTIFICATIONS_FAILED.name, ALERTMANAGER, "0+5x30"),
        ],
        "alert_rule_test": [
            _expect(spec, naming.ALERT_WATCHDOG, "0s", {}),
            _expect(spec, naming.ALERT_RULE_EVALUATION_FAILURES, "10m", None),
            _expect(spec, naming.ALERT_RULE_EVALUATION_FAILURES, "20m", group, value="5", **group),
            _expect(
                spec,
                naming.ALERT_NOTIFICATIONS_FAILING,
                "10m",
                ALERTMANAGER,
                share="50%",
                instance=ALERTMANAGER["instance"],
                integration="pagerduty",
            ),
        ],
    }


def render_tests(spec: SLOSpec) -> list[dict[str, Any]]:
    return [
        _dependency_test(spec),
        _scrape_test(spec),
        _exporter_absent_test(spec),
        _pipeline_test(spec),
    ]


def render(spec: SLOSpec, stack_rules: str) -> str:
    document = {
        "rule_files": [f"../{stack_rules}"],
        "evaluation_interval": "1m",
        "tests": render_tests(spec),
    }
    return to_yaml(document, "alerts/stack_tests.py")
