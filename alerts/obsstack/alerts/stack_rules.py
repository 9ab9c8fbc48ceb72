"""The stack's own alerts: dependencies, exporter, scrape targets, rules, notifications, the
host (node-exporter) and the containers (cAdvisor), Watchdog.

Same conventions as the SLO alerts: ``severity`` and a stable ``tier`` label, ``for:``, a static
``summary``, a ``description`` templated with labels and value, ``runbook_url`` and
``dashboard_url``. Descriptions are format strings filled either with Prometheus template
snippets (for the rules) or with concrete values (for the generated promtool test).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obsstack.alerts.model import SLOSpec, runbook_anchor
from obsstack.core import naming
from obsstack.core.naming import StackComponentMetrics as Stack

DEPENDENCIES_DASHBOARD = "/d/obsstack-dependencies/dependencies?var-dependency={dependency}"
STACK_DASHBOARD = "/d/obsstack-stack-health/stack-health"
PAGE = (naming.SEVERITY_PAGE, naming.TIER_PAGE)
TICKET = (naming.SEVERITY_TICKET, naming.TIER_TICKET)
HEARTBEAT = (naming.SEVERITY_NONE, naming.TIER_HEARTBEAT)

# How each template field is written in a Prometheus template.
TEMPLATE_FIELDS = {
    "dependency": "{{ $labels.dependency }}",
    "kind": "{{ $labels.kind }}",
    "job": "{{ $labels.job }}",
    "instance": "{{ $labels.instance }}",
    "rule_group": "{{ $labels.rule_group }}",
    "integration": "{{ $labels.integration }}",
    "mountpoint": "{{ $labels.mountpoint }}",
    "device": "{{ $labels.device }}",
    "name": "{{ $labels.name }}",
    "service": "{{ $labels." + Stack.COMPOSE_SERVICE_LABEL + " }}",
    "value": '{{ $value | printf "%.0f" }}',
    "share": "{{ $value | humanizePercentage }}",
}

_EXPORTER_UP = f'{Stack.UP.name}{{job="{naming.JOB_EXPORTER}"}}'
_NODE_UP = f'{Stack.UP.name}{{job="{naming.JOB_NODE}"}}'
# Targets with an alert of their own (ExporterDown, HostDown) are left to it.
_OTHER_UP = f'{Stack.UP.name}{{job!~"{naming.JOB_EXPORTER}|{naming.JOB_NODE}"}}'
_BY_TARGET = "sum by (job, instance, integration)"

# Filesystems that can fill up, as node-exporter users select them.
_FILESYSTEMS = f'{{job="{naming.JOB_NODE}",fstype!~"{naming.VOLATILE_FSTYPES}"}}'
_AVAIL = f"{Stack.NODE_FILESYSTEM_AVAIL.name}{_FILESYSTEMS}"
_SIZE = f"{Stack.NODE_FILESYSTEM_SIZE.name}{_FILESYSTEMS}"
_WRITABLE = f"{Stack.NODE_FILESYSTEM_READONLY.name}{_FILESYSTEMS} == 0"
_SPACE_LEFT = f"(\n  {_AVAIL}\n  /\n  {_SIZE}\n)"
DISK_TREND_WINDOW = "6h"  # the pace a prediction extrapolates
DISK_MIN_HISTORY = "1h"  # no prediction from a mount seen for less than this


def disk_fills(within_hours: int, below: float) -> str:
    """A writable filesystem with less than ``below`` of its space left that, at the pace of
    the last 6 hours, is full within ``within_hours``; the value is the share left."""
    return (
        f"{_SPACE_LEFT} < {below}\n"
        f"and\npredict_linear({_AVAIL}[{DISK_TREND_WINDOW}], {within_hours} * 3600) < 0\n"
        f"and\n{_WRITABLE}\n"
        f"and\n{_AVAIL} offset {DISK_MIN_HISTORY}"
    )


_NODE = f'{{job="{naming.JOB_NODE}"}}'
_MEMORY_LEFT = (
    f"(\n  {Stack.NODE_MEMORY_AVAILABLE.name}{_NODE}\n  /\n"
    f"  {Stack.NODE_MEMORY_TOTAL.name}{_NODE}\n)"
)
# Stalls: PSI where the kernel has it (the share of time some task waited for memory), major
# page faults (pages read back from disk) everywhere.
_MEMORY_STALLS = (
    f"rate({Stack.NODE_PRESSURE_MEMORY_WAITING.name}{_NODE}[5m]) > 0.1\n"
    f"  or\n  rate({Stack.NODE_VMSTAT_PGMAJFAULT.name}{_NODE}[5m]) > 1000"
)

_CONTAINERS = f'{{job="{naming.JOB_CADVISOR}",name!=""}}'
# cAdvisor 0.56 reports a container's creation time as its start time, which a restart in place
# leaves as it is; its CPU counter, read from the cgroup each run gets anew, starts over from 0.
# A run that has used more CPU by the next scrape than the previous run in all hides a restart:
# in a tight crash loop some go uncounted, hence "at least".
_RESTARTS = f"max without (cpu) (resets({Stack.CONTAINER_CPU_USAGE.name}{_CONTAINERS}[15m]))"


@dataclass(frozen=True)
class StackAlert:
    name: str
    expr: str
    for_: str
    level: tuple[str, str]  # (severity, tier)
    summary: str
    description: str  # format string over TEMPLATE_FIELDS
    dashboard: str


ALERTS = (
    StackAlert(
        naming.ALERT_DEPENDENCY_DOWN,
        f"{naming.DEPENDENCY_UP.name} == 0",
        "2m",
        PAGE,
        "A dependency of the platform is down",
        "{dependency} ({kind}) has failed every probe for 2 minutes. The probe exporter's "
        "dependency_probe_failures_total says why (timeout, refused, auth, protocol, unhealthy). "
        "SLO alerts of the services that depend on it are inhibited while this fires.",
        DEPENDENCIES_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_DEPENDENCY_CIRCUIT_OPEN,
        f"{naming.DEPENDENCY_CIRCUIT_STATE.name} == {naming.CIRCUIT_OPEN}",
        "5m",
        TICKET,
        "The exporter stopped probing a failing dependency",
        "The circuit breaker for {dependency} ({kind}) has been open for 5 minutes: the exporter "
        "reports it down and tries one trial probe a scrape (or a cool-down apart).",
        DEPENDENCIES_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_DEPENDENCY_PROBE_SLOW,
        f"{naming.DEPENDENCY_PROBE_DURATION.name}\n/\n"
        f"({naming.DEPENDENCY_PROBE_TIMEOUT.name} > 0)\n> 0.8",
        "10m",
        TICKET,
        "A dependency answers its probe close to the timeout",
        "Probes of {dependency} ({kind}) have taken {share} of their time budget for 10 "
        "minutes: one more slowdown and they time out.",
        DEPENDENCIES_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_EXPORTER_DOWN,
        f"{_EXPORTER_UP} == 0\nor\nabsent({_EXPORTER_UP})",
        "5m",
        PAGE,
        "The dependency probe exporter is not scraped",
        "Prometheus has had no successful scrape of the probe exporter (job "
        f"{naming.JOB_EXPORTER}) for 5 minutes: dependency outages go unseen and "
        "DependencyDown cannot fire.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_TARGET_DOWN,
        f"100 * (\n  count by (job) ({_OTHER_UP} == 0)\n  /\n"
        f"  count by (job) ({_OTHER_UP})\n) > 10",
        "10m",
        TICKET,
        "Scrape targets are down",
        "{value}% of the targets of job {job} have been down for 10 minutes.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_RULE_EVALUATION_FAILURES,
        f"increase({Stack.RULE_EVALUATION_FAILURES.name}[5m]) > 0",
        "15m",
        PAGE,
        "Prometheus fails to evaluate rules",
        "Rule group {rule_group} failed {value} evaluations in the last 5 minutes: its "
        "recording rules have gaps and its alerts (SLO alerts included) may not fire.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_NOTIFICATIONS_FAILING,
        f"{_BY_TARGET} (rate({Stack.AM_NOTIFICATIONS_FAILED.name}[5m]))\n/\n"
        f"{_BY_TARGET} (rate({Stack.AM_NOTIFICATIONS.name}[5m]))\n> 0.01",
        "5m",
        PAGE,
        "Alertmanager cannot deliver notifications",
        "Alertmanager {instance} failed {share} of its {integration} notifications in the last "
        "5 minutes: on-call engineers may not be paged.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_HOST_DOWN,
        f"{_NODE_UP} == 0",
        "5m",
        PAGE,
        "A host's node-exporter is not scraped",
        "Prometheus has had no successful scrape of node-exporter on {instance} for 5 minutes: "
        "the host is down or unreachable, or its node-exporter is, and its disk and memory "
        "alerts cannot fire.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_HOST_DISK_FILLS_IN_4H,
        disk_fills(4, 0.2),
        "30m",
        PAGE,
        "A disk fills up within 4 hours",
        "{mountpoint} ({device}) on {instance} has {share} of its space left and, at the pace "
        "of the last 6 hours, is full within 4 hours.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_HOST_DISK_FILLS_IN_24H,
        disk_fills(24, 0.4),
        "1h",
        TICKET,
        "A disk fills up within a day",
        "{mountpoint} ({device}) on {instance} has {share} of its space left and, at the pace "
        "of the last 6 hours, is full within 24 hours.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_HOST_DISK_ALMOST_FULL,
        f"{_SPACE_LEFT} < 0.05\nand\n{_WRITABLE}",
        "15m",
        PAGE,
        "A disk is almost full",
        "{mountpoint} ({device}) on {instance} has {share} of its space left: writes fail "
        "when it is full (Prometheus' own TSDB among them, if it lives there).",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_HOST_MEMORY_PRESSURE,
        f"{_MEMORY_LEFT} < 0.1\nand\n(\n  {_MEMORY_STALLS}\n)",
        "15m",
        TICKET,
        "A host is short of memory and stalls on it",
        "{instance} has had {share} of its memory available for 15 minutes, and its tasks "
        "wait for memory (PSI) or read pages back from disk (major faults): it is slow now, "
        "and the OOM killer is next.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_HOST_OOM_KILL,
        f"increase({Stack.NODE_VMSTAT_OOM_KILL.name}{_NODE}[15m]) > 0",
        "0s",
        TICKET,
        "The kernel killed a process for lack of memory",
        "The OOM killer on {instance} killed {value} process(es) in the last 15 minutes: a "
        "container at its memory limit, or the host short of memory. A killed main process "
        "restarts its container.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_CONTAINER_RESTARTING,
        f"{_RESTARTS} > 2",
        "5m",
        TICKET,
        "A container keeps restarting",
        "Container {name} (compose service {service}) restarted at least {value} times in the "
        "last 15 minutes.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_CONTAINER_OOM_KILLED,
        f"increase({Stack.CONTAINER_OOM_EVENTS.name}{_CONTAINERS}[15m]) > 0",
        "0s",
        TICKET,
        "A process of a container was killed for lack of memory",
        "The OOM killer killed {value} process(es) of container {name} (compose service "
        "{service}) in the last 15 minutes, at its memory limit or with the host short of "
        "memory.",
        STACK_DASHBOARD,
    ),
    StackAlert(
        naming.ALERT_WATCHDOG,
        "vector(1)",
        "0s",
        HEARTBEAT,
        "The alerting pipeline is alive",
        "Always firing, on purpose. Route it to a dead man's switch: when the switch stops "
        "hearing it, Prometheus, Alertmanager or the route between them is broken.",
        STACK_DASHBOARD,
    ),
)


def alert_notes(alert: StackAlert, spec: SLOSpec, **values: str) -> dict[str, str]:
    """The alert's annotations; ``values`` replace the template snippets (for tests)."""
    fields = {**TEMPLATE_FIELDS, **values}
    return {
        "summary": alert.summary,
        "description": alert.description.format(**fields),
        "runbook_url": f"{spec.runbooks_url}#{runbook_anchor(alert.name)}",
        "dashboard_url": spec.grafana_url + alert.dashboard.format(**fields),
    }


# A dependency that is down is also slow to probe and has its circuit open: those alerts are
# explained (and muted) while DependencyDown is pending or firing for the same dependency.
EXPLAINED_BY_DEPENDENCY_DOWN = (
    naming.ALERT_DEPENDENCY_PROBE_SLOW,
    naming.ALERT_DEPENDENCY_CIRCUIT_OPEN,
)


def explained(alert: StackAlert, spec: SLOSpec) -> dict[str, Any]:
    """``AlertExplained`` for ``alert``: its own condition while its dependency is down."""
    down = f'ALERTS{{alertname="{naming.ALERT_DEPENDENCY_DOWN}"}}'
    return {
        "alert": naming.ALERT_EXPLAINED,
        "expr": f"(\n{alert.expr}\n)\nand on({naming.DEPENDENCY}) {down}",
        "for": "0s",
        "labels": {
            naming.CAUSE_LABEL: naming.CAUSE_DEPENDENCY,
            naming.EXPLAINS_LABEL: alert.name,
            naming.SEVERITY_LABEL: naming.SEVERITY_NONE,
            naming.TIER_LABEL: naming.TIER_INHIBITOR,
        },
        "annotations": {
            "summary": f"{alert.name} of a dependency is held back: the dependency is down",
            "description": (
                f"Alertmanager mutes {alert.name} for {{dependency}} while this fires: "
                "DependencyDown tells the story. It stops as soon as the explained alert's own "
                "condition clears, so its resolve always gets through."
            ).format(**TEMPLATE_FIELDS),
            "runbook_url": f"{spec.runbooks_url}#{runbook_anchor(naming.ALERT_EXPLAINED)}",
            "dashboard_url": spec.grafana_url + alert.dashboard.format(**TEMPLATE_FIELDS),
        },
    }


def rule_group(spec: SLOSpec) -> dict[str, Any]:
    """The ``obsstack-stack`` rule group, then the inhibitors of the alerts a down dependency
    explains (after DependencyDown, so they read this evaluation's ALERTS)."""
    rules = []
    for alert in ALERTS:
        severity, tier = alert.level
        rules.append(
            {
                "alert": alert.name,
                "expr": alert.expr,
                "for": alert.for_,
                "labels": {naming.SEVERITY_LABEL: severity, naming.TIER_LABEL: tier},
                "annotations": alert_notes(alert, spec),
            }
        )
    rules += [explained(a, spec) for a in ALERTS if a.name in EXPLAINED_BY_DEPENDENCY_DOWN]
    return {"name": naming.STACK_RULE_GROUP, "rules": rules}
