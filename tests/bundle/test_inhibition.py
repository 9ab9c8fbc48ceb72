"""Inhibition in the real Alertmanager (Debian package) with the generated configuration:
alerts are posted to its API and its own view of which are inhibited is read back."""

from __future__ import annotations

import httpx

from exporters import naming
from tests.bundle.conftest import Stack
from tests.support.processes import wait_until


def post(stack: Stack, *alerts: dict[str, str]) -> None:
    body = [{"labels": labels, "annotations": {"summary": "test"}} for labels in alerts]
    httpx.post(stack.url("alertmanager", "/api/v2/alerts"), json=body, timeout=5).raise_for_status()


def inhibited(stack: Stack) -> dict[str, bool]:
    alerts = httpx.get(stack.url("alertmanager", "/api/v2/alerts"), timeout=5).json()
    return {a["labels"]["id"]: bool(a["status"]["inhibitedBy"]) for a in alerts}


def test_dependency_down_and_page_tier_inhibit_what_they_explain(alertmanager_stack, spec):
    dependents = spec.dependents("redis")
    independent = [s.name for s in spec.services if s.name not in dependents]
    assert dependents and independent, "the shipped spec has services on and off redis"
    service, other = dependents[0], independent[0]
    slo = spec.slos_of(service)[0].name
    page = {"severity": naming.SEVERITY_PAGE, naming.TIER_LABEL: naming.TIER_PAGE}
    ticket = {"severity": naming.SEVERITY_TICKET, naming.TIER_LABEL: naming.TIER_TICKET}
    post(
        alertmanager_stack,
        {"id": "down", "alertname": naming.ALERT_DEPENDENCY_DOWN, "dependency": "redis", **page},
        {
            "id": "slow",
            "alertname": naming.ALERT_DEPENDENCY_PROBE_SLOW,
            "dependency": "redis",
            **ticket,
        },
        {
            "id": "slow-pg",
            "alertname": naming.ALERT_DEPENDENCY_PROBE_SLOW,
            "dependency": "postgres",
            **ticket,
        },
        {
            "id": "dependent-page",
            "alertname": naming.ALERT_SLO_BURN_RATE_PAGE,
            "service": service,
            "slo": slo,
            **page,
        },
        {
            "id": "independent-page",
            "alertname": naming.ALERT_SLO_BURN_RATE_PAGE,
            "service": other,
            "slo": spec.slos_of(other)[0].name,
            **page,
        },
        {
            "id": "independent-ticket",
            "alertname": naming.ALERT_SLO_BURN_RATE_TICKET,
            "service": other,
            "slo": spec.slos_of(other)[0].name,
            **ticket,
        },
        {
            "id": "other-slo-ticket",
            "alertname": naming.ALERT_SLO_BURN_RATE_TICKET,
            "service": other,
            "slo": "another-slo",
            **ticket,
        },
    )
    expected = {
        "down": False,
        "slow": True,  # DependencyDown of the same dependency
        "slow-pg": False,
        "dependent-page": True,  # the redis outage explains this service's burn
        "independent-page": False,
        "independent-ticket": True,  # the page tier of the same SLO fires
        "other-slo-ticket": False,
    }
    wait_until(
        lambda: inhibited(alertmanager_stack) == expected,
        15,
        f"inhibition {expected}, got {inhibited(alertmanager_stack)}",
    )
