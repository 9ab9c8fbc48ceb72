"""Pages and their resolves in every order of events, through the real Alertmanager.

The generated configuration (short timings) runs in the Debian Alertmanager and pages the
PagerDuty and Opsgenie double (``tests.support.paging_apis``, not the bundle's own inbox).
Alerts are posted as Prometheus posts them (``tests.support.alert_sender``): firing alerts again
every resend delay, resolved ones for a resolved-retention window scaled down from 15 minutes
to 3 seconds. ``AlertExplained`` is fired as the rules fire it: while the explained alert's own
condition holds, from before that alert can be notified, and resolved together with it.

In every order, each alert that pages is one incident with exactly one trigger and one resolve
at every API of its receiver, none is left open, and an explained alert never pages.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from obsstack.core import naming
from obsstack.core.spec import format_duration
from tests.bundle.conftest import Paging, paging_stack
from tests.support.alert_sender import Alert
from tests.support.paging_apis import OPSGENIE, PAGERDUTY
from tests.support.processes import wait_until

GROUP_INTERVAL = 1.0
RESOLVED_RETENTION = 3.0
SETTLE = 3 * GROUP_INTERVAL  # long enough for any notification still due to be sent

SLO = {naming.SERVICE_LABEL: "api", naming.SLO_LABEL: "availability"}
REDIS = {
    naming.DEPENDENCY: "redis",
    naming.KIND: "redis",
    "job": naming.JOB_EXPORTER,
    "instance": "exporter:9410",
}
PAGE = {naming.SEVERITY_LABEL: naming.SEVERITY_PAGE, naming.TIER_LABEL: naming.TIER_PAGE}
TICKET = {naming.SEVERITY_LABEL: naming.SEVERITY_TICKET, naming.TIER_LABEL: naming.TIER_TICKET}
INHIBITOR = {naming.SEVERITY_LABEL: naming.SEVERITY_NONE, naming.TIER_LABEL: naming.TIER_INHIBITOR}


def explained(explains: str, cause: str) -> dict[str, str]:
    return {
        "alertname": naming.ALERT_EXPLAINED,
        naming.EXPLAINS_LABEL: explains,
        naming.CAUSE_LABEL: cause,
        **INHIBITOR,
    }


# Alerts by name; `name@b` is the same alert from stack b, every other one is from stack a.
ALERTS = {
    "down": {"alertname": naming.ALERT_DEPENDENCY_DOWN, **REDIS, **PAGE},
    "slow": {"alertname": naming.ALERT_DEPENDENCY_PROBE_SLOW, **REDIS, **TICKET},
    "page": {"alertname": naming.ALERT_SLO_BURN_RATE_PAGE, **SLO, **PAGE},
    "ticket": {"alertname": naming.ALERT_SLO_BURN_RATE_TICKET, **SLO, **TICKET},
    "page-explained": {**explained(naming.TIER_PAGE, naming.CAUSE_DEPENDENCY), **SLO},
    "ticket-explained": {**explained(naming.TIER_TICKET, naming.CAUSE_PAGE), **SLO},
    "slow-explained": {
        **explained(naming.ALERT_DEPENDENCY_PROBE_SLOW, naming.CAUSE_DEPENDENCY),
        **REDIS,
    },
}
APIS = {naming.TIER_PAGE: (PAGERDUTY, OPSGENIE), naming.TIER_TICKET: (OPSGENIE,)}


def alert(name: str) -> Alert:
    base, _, stack = name.partition("@")
    labels = {**ALERTS[base], naming.STACK_LABEL: stack or "a"}
    return Alert(labels, {"summary": name})  # the summary ends up in the page's title


def apis_of(name: str) -> tuple[str, ...]:
    return APIS[ALERTS[name.partition("@")[0]][naming.TIER_LABEL]]


@dataclass(frozen=True)
class Step:
    action: str  # fire, resolve, notified (wait until paged), pause, outlast
    names: tuple[str, ...] = ()


def fire(*names: str) -> Step:
    return Step("fire", names)


def resolve(*names: str) -> Step:
    return Step("resolve", names)


def notified(*names: str) -> Step:
    return Step("notified", names)


PAUSE = Step("pause")  # a few flushes, so that whatever is due is sent
OUTLAST = Step("outlast")  # past the window in which Prometheus re-sends a resolved alert


@dataclass(frozen=True)
class Scenario:
    steps: tuple[Step, ...]
    incidents: frozenset[str]  # the alerts that page (each: one trigger, one resolve)


def scenario(*steps: Step, incidents: set[str]) -> Scenario:
    return Scenario(steps, frozenset(incidents))


SCENARIOS = {
    "page first, then the dependency goes down and recovers first": scenario(
        fire("page"),
        notified("page"),
        fire("down", "page-explained"),
        notified("down"),
        resolve("down"),
        PAUSE,
        resolve("page", "page-explained"),
        incidents={"page", "down"},
    ),
    "page first, then the dependency goes down, the page recovers first": scenario(
        fire("page"),
        notified("page"),
        fire("down", "page-explained"),
        notified("down"),
        resolve("page", "page-explained"),
        PAUSE,
        resolve("down"),
        incidents={"page", "down"},
    ),
    "dependency down first and recovers first: the page never pages": scenario(
        fire("down"),
        notified("down"),
        fire("page-explained"),
        fire("page"),
        PAUSE,
        resolve("down"),
        PAUSE,
        resolve("page", "page-explained"),
        incidents={"down"},
    ),
    "dependency down first, the page recovers first: the page never pages": scenario(
        fire("down"),
        notified("down"),
        fire("page-explained"),
        fire("page"),
        PAUSE,
        resolve("page", "page-explained"),
        PAUSE,
        resolve("down"),
        incidents={"down"},
    ),
    "the dependency stays down past the retention after the page recovered": scenario(
        fire("page"),
        notified("page"),
        fire("down", "page-explained"),
        notified("down"),
        resolve("page", "page-explained"),
        OUTLAST,
        resolve("down"),
        incidents={"page", "down"},
    ),
    "ticket first, then its page, the page recovers first": scenario(
        fire("ticket"),
        notified("ticket"),
        fire("page", "ticket-explained"),
        notified("page"),
        resolve("page", "ticket-explained"),
        PAUSE,
        resolve("ticket"),
        incidents={"ticket", "page"},
    ),
    "page first, then its ticket, the ticket recovers first: the ticket never pages": scenario(
        fire("page"),
        notified("page"),
        fire("ticket-explained"),
        fire("ticket"),
        PAUSE,
        resolve("ticket", "ticket-explained"),
        PAUSE,
        resolve("page"),
        incidents={"page"},
    ),
    "the page fires past the retention after its ticket recovered": scenario(
        fire("ticket"),
        notified("ticket"),
        fire("page", "ticket-explained"),
        notified("page"),
        resolve("ticket", "ticket-explained"),
        OUTLAST,
        resolve("page"),
        incidents={"ticket", "page"},
    ),
    "the dependency stays down past the retention after its slow probe recovered": scenario(
        fire("slow"),
        notified("slow"),
        fire("down", "slow-explained"),
        notified("down"),
        resolve("slow", "slow-explained"),
        OUTLAST,
        resolve("down"),
        incidents={"slow", "down"},
    ),
    "stack a's dependency outage never mutes stack b's page": scenario(
        fire("down"),
        notified("down"),
        fire("page-explained"),
        fire("page", "page@b"),
        notified("page@b"),
        PAUSE,
        resolve("page", "page-explained", "page@b"),
        resolve("down"),
        incidents={"down", "page@b"},
    ),
}

TITLE = re.compile(r": (\S+) \([^)]*\)$")  # ...: <summary> (<stack>)


@pytest.fixture
def paging(tmp_path: Path) -> Iterator[Paging]:
    with paging_stack(
        tmp_path,
        resend_delay=GROUP_INTERVAL / 2,
        evaluation_interval=GROUP_INTERVAL,
        resolved_retention=RESOLVED_RETENTION,
        group_wait=format_duration(GROUP_INTERVAL / 2),
        group_interval=format_duration(GROUP_INTERVAL),
    ) as stack:
        yield stack


def paged(paging: Paging) -> list[tuple[str, str, int, int, bool]]:
    """(api, alert, triggers, resolves, still open) of every incident, sorted."""
    rows = []
    for incident in paging.apis.incidents():
        match = TITLE.search(incident.summary)
        name = match.group(1) if match else f"no trigger ({incident.key})"
        rows.append((incident.api, name, incident.triggers, incident.resolves, incident.open))
    return sorted(rows)


def was_paged(paging: Paging, name: str) -> bool:
    apis = {row[0] for row in paged(paging) if row[1] == name}
    return apis == set(apis_of(name))


def run(paging: Paging, step: Step) -> None:
    if step.action == "fire":
        paging.sender.fire(*(alert(name) for name in step.names))
    elif step.action == "resolve":
        paging.sender.resolve(*(alert(name) for name in step.names))
    elif step.action == "notified":
        names = step.names
        wait_until(lambda: all(was_paged(paging, n) for n in names), 15, f"{names} to page")
    elif step.action == "pause":
        time.sleep(SETTLE)
    else:
        time.sleep(RESOLVED_RETENTION + SETTLE)


@pytest.mark.parametrize("case", list(SCENARIOS), ids=list(SCENARIOS))
def test_each_incident_is_triggered_and_resolved_once(paging: Paging, case: str):
    for step in SCENARIOS[case].steps:
        run(paging, step)
    expected = sorted(
        (api, name, 1, 1, False) for name in SCENARIOS[case].incidents for api in apis_of(name)
    )
    with contextlib.suppress(AssertionError):  # compared below, with the difference shown
        wait_until(lambda: paged(paging) == expected, 15, "every incident resolved")
    time.sleep(SETTLE)  # and nothing more arrives
    assert paged(paging) == expected
    assert paging.apis.rejected == []


def test_alert_explained_never_notifies(paging: Paging):
    paging.sender.fire(alert("page-explained"), alert("slow-explained"))
    time.sleep(SETTLE)
    paging.sender.resolve(alert("page-explained"), alert("slow-explained"))
    time.sleep(SETTLE)
    assert paging.apis.incidents() == []
    assert paging.apis.webhooks("default") == []


def test_a_page_names_its_service_slo_and_stack(paging: Paging):
    paging.sender.fire(alert("page@b"))
    wait_until(lambda: was_paged(paging, "page@b"), 15, "the page")
    title = f"[FIRING:1] {naming.ALERT_SLO_BURN_RATE_PAGE} api/availability: page@b (b)"
    assert {incident.summary for incident in paging.apis.incidents()} == {title}
