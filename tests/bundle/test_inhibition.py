"""Inhibition in the real Alertmanager (Debian package) with the generated configuration:
alerts are posted to its API and its own view of which are inhibited is read back.

Only AlertExplained inhibits, and only within its stack: the alert it explains (same SLO, or
same dependency and instance) and nothing else. The louder alerts themselves (DependencyDown, a
page) mute nothing. The order of events and the resolves are in test_paging_matrix.
"""

from __future__ import annotations

import httpx

from obsstack.core import naming
from tests.bundle.conftest import Stack
from tests.support.processes import wait_until

PAGE = {naming.SEVERITY_LABEL: naming.SEVERITY_PAGE, naming.TIER_LABEL: naming.TIER_PAGE}
TICKET = {naming.SEVERITY_LABEL: naming.SEVERITY_TICKET, naming.TIER_LABEL: naming.TIER_TICKET}
INHIBITOR = {naming.SEVERITY_LABEL: naming.SEVERITY_NONE, naming.TIER_LABEL: naming.TIER_INHIBITOR}
AVAILABILITY = {naming.SERVICE_LABEL: "api", naming.SLO_LABEL: "availability"}
LATENCY = {naming.SERVICE_LABEL: "api", naming.SLO_LABEL: "latency"}
REDIS = {naming.DEPENDENCY: "redis", naming.KIND: "redis", "instance": "exporter:9410"}
POSTGRES = {naming.DEPENDENCY: "postgres", naming.KIND: "postgres", "instance": "exporter:9410"}


def explained(explains: str, cause: str) -> dict[str, str]:
    return {
        "alertname": naming.ALERT_EXPLAINED,
        naming.EXPLAINS_LABEL: explains,
        naming.CAUSE_LABEL: cause,
        **INHIBITOR,
    }


# id -> (labels, inhibited)
ALERTS = {
    "page-explained": ({**explained("page", "dependency"), **AVAILABILITY}, False),
    "ticket-explained": ({**explained("ticket", "page"), **LATENCY}, False),
    "slow-explained": (
        {**explained(naming.ALERT_DEPENDENCY_PROBE_SLOW, "dependency"), **REDIS},
        False,
    ),
    # explained: same stack, same SLO
    "page": ({"alertname": naming.ALERT_SLO_BURN_RATE_PAGE, **AVAILABILITY, **PAGE}, True),
    "renamed-page": (
        {"alertname": "ApiErrors", **AVAILABILITY, **PAGE, "severity": "pageteam"},
        True,
    ),
    "ticket": ({"alertname": naming.ALERT_SLO_BURN_RATE_TICKET, **LATENCY, **TICKET}, True),
    "slow": ({"alertname": naming.ALERT_DEPENDENCY_PROBE_SLOW, **REDIS, **TICKET}, True),
    # not explained
    "page-of-stack-b": (
        {"alertname": naming.ALERT_SLO_BURN_RATE_PAGE, **AVAILABILITY, **PAGE, "stack": "b"},
        False,
    ),
    "page-of-other-slo": ({"alertname": naming.ALERT_SLO_BURN_RATE_PAGE, **LATENCY, **PAGE}, False),
    "ticket-beside-its-page": (
        {"alertname": naming.ALERT_SLO_BURN_RATE_TICKET, **AVAILABILITY, **TICKET},
        False,
    ),
    "budget-exhausted": (
        {"alertname": naming.ALERT_SLO_BUDGET_EXHAUSTED, **LATENCY, **TICKET},
        False,
    ),
    "down": ({"alertname": naming.ALERT_DEPENDENCY_DOWN, **REDIS, **PAGE}, False),
    "circuit-open": ({"alertname": naming.ALERT_DEPENDENCY_CIRCUIT_OPEN, **REDIS, **TICKET}, False),
    "slow-postgres": (
        {"alertname": naming.ALERT_DEPENDENCY_PROBE_SLOW, **POSTGRES, **TICKET},
        False,
    ),
}


def post(stack: Stack) -> None:
    body = [
        {
            "labels": {naming.STACK_LABEL: "a", **labels, "id": name},
            "annotations": {"summary": "test"},
        }
        for name, (labels, _) in ALERTS.items()
    ]
    httpx.post(stack.url("alertmanager", "/api/v2/alerts"), json=body, timeout=5).raise_for_status()


def inhibited(stack: Stack) -> dict[str, bool]:
    alerts = httpx.get(stack.url("alertmanager", "/api/v2/alerts"), timeout=5).json()
    return {a["labels"]["id"]: bool(a["status"]["inhibitedBy"]) for a in alerts}


def test_alert_explained_mutes_what_it_explains_and_nothing_else(alertmanager_stack):
    post(alertmanager_stack)
    expected = {name: muted for name, (_, muted) in ALERTS.items()}
    wait_until(
        lambda: inhibited(alertmanager_stack) == expected,
        15,
        f"inhibition {expected}, got {inhibited(alertmanager_stack)}",
    )
