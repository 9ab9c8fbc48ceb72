"""Stack health: is the monitoring itself working? Prometheus (targets, rules, TSDB),
Alertmanager (notifications per integration), the telemetry pipelines of the OpenTelemetry
Collector and Jaeger, Loki's ingestion, and the host and containers the stack runs on
(node-exporter, cAdvisor).

Queries group by ``job`` rather than filtering on job names, so the panels work whatever the
scrape jobs of the stack's components are called.
"""

from __future__ import annotations

from typing import Any

from obsstack.core import naming as n
from obsstack.dashboards.conventions import STACK_HEALTH
from obsstack.dashboards.layout import Cell, Section, dashboard
from obsstack.dashboards.panels import Query, stat, steps, table, timeline, timeseries, value_map
from obsstack.dashboards.promql import per_minute, rate, selector

C = n.StackComponentMetrics
# Jaeger v2 is built on the Collector: spans it stores go through its jaeger_storage_exporter.
JAEGER_STORAGE = 'exporter=~"jaeger_storage.*"'
# The filesystems the disk alerts watch: writable or not, no tmpfs, overlay or squashfs.
DISKS = f'fstype!~"{n.VOLATILE_FSTYPES}"'
CONTAINERS = 'name!=""'
HOUR = 3600
# "Time until full" shows this for a mount that is not filling (or would take longer).
NOT_FILLING = 30 * 24 * HOUR


def _overview() -> Section:
    watchdog = f'{C.ALERTS.name}{{alertname="{n.ALERT_WATCHDOG}", alertstate="firing"}}'
    return Section(
        "Is the monitoring working: scrapes, rules, notifications, the Watchdog?",
        [
            Cell(
                stat(
                    "Targets up",
                    "Scrape targets whose last scrape succeeded, out of all targets. Red under "
                    "90 %, orange until every target is up.",
                    "percentunit",
                    [Query(f"sum({C.UP.name}) / count({C.UP.name})")],
                    thresholds=steps("red", (0.9, "orange"), (1, "green")),
                    graph=True,
                    background=True,
                ),
                4,
            ),
            Cell(
                stat(
                    "Failed rule evaluations",
                    "Rule evaluations that failed per minute, every rule group. Red above "
                    "zero: a recording rule or alert is not being computed.",
                    "cpm",
                    [Query(per_minute(C.RULE_EVALUATION_FAILURES.name))],
                    thresholds=steps("green", (0.001, "red")),
                    graph=True,
                    background=True,
                ),
                4,
            ),
            Cell(
                stat(
                    "Failed notifications",
                    "Notifications Alertmanager failed to deliver per minute, every "
                    "integration. Red above zero: pages that reached nobody.",
                    "cpm",
                    [Query(per_minute(C.AM_NOTIFICATIONS_FAILED.name))],
                    thresholds=steps("green", (0.001, "red")),
                    graph=True,
                    background=True,
                ),
                4,
            ),
            Cell(
                stat(
                    "Watchdog",
                    "The Watchdog alert always fires; when it does not, rules are not "
                    "evaluated or Prometheus cannot reach Alertmanager.",
                    "none",
                    [Query(f"count({watchdog}) or vector(0)")],
                    mappings=value_map({0: ("Not firing", "red"), 1: ("Firing", "green")}),
                    thresholds=steps("red", (1, "green")),
                    background=True,
                ),
                4,
            ),
            Cell(
                timeline(
                    "Scrape targets by job",
                    "Whether every target of each scrape job is up (Up), or at least one is "
                    "down (Down).",
                    [Query(f"min by (job) ({C.UP.name})", "{{job}}")],
                    mappings=value_map({0: ("Down", "red"), 1: ("Up", "green")}),
                ),
                8,
            ),
        ],
    )


def _by_group_name(aggregation: str, expr: str) -> str:
    """``expr`` (by ``rule_group``) by a ``group`` label for the legend: Prometheus'
    ``rule_group`` is the rule file's whole path and the group's name
    (``/etc/prometheus/rules/slo.yml;saas-api-slo``), ``group`` the name and the file's base
    name (``saas-api-slo (slo.yml)``)."""
    named = f'label_replace({expr}, "group", "$2 ($1)", "rule_group", "(?:.*/)?([^/]*);(.*)")'
    return f"{aggregation} by (group) ({named})"


def _prometheus() -> Section:
    return Section(
        "Prometheus",
        [
            Cell(
                timeseries(
                    "Rule evaluation failures",
                    "Failed rule evaluations per minute, by rule group. Anything above zero "
                    "means a recording rule or alert is not being computed.",
                    "cpm",
                    [
                        Query(
                            _by_group_name(
                                "sum",
                                per_minute(C.RULE_EVALUATION_FAILURES.name, by="rule_group"),
                            ),
                            "{{group}}",
                        )
                    ],
                    thresholds=steps("green", (0.001, "red")),
                    threshold_lines=True,
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Rule group evaluation time / interval",
                    "Duration of each rule group's last evaluation as a share of its evaluation "
                    "interval. At 100 % (the red line) the group skips evaluations.",
                    "percentunit",
                    [
                        Query(
                            _by_group_name(
                                "max",
                                f"max by (rule_group) ({C.RULE_GROUP_LAST_DURATION.name}) / "
                                f"max by (rule_group) ({C.RULE_GROUP_INTERVAL.name})",
                            ),
                            "{{group}}",
                        ),
                    ],
                    minimum=0,
                    thresholds=steps("green", (0.5, "orange"), (1, "red")),
                    threshold_lines=True,
                ),
                8,
            ),
            Cell(
                timeseries(
                    "TSDB blocks size",
                    "Bytes of the TSDB blocks persisted on disk.",
                    "bytes",
                    [Query(f"sum({C.TSDB_STORAGE_BLOCKS_BYTES.name})", "blocks")],
                    minimum=0,
                ),
                4,
            ),
            Cell(
                timeseries(
                    "TSDB head series",
                    "Series in the head block: what Prometheus holds in memory. A jump means "
                    "a new high-cardinality label somewhere.",
                    "short",
                    [Query(f"sum({C.TSDB_HEAD_SERIES.name})", "head series")],
                    minimum=0,
                ),
                4,
            ),
        ],
    )


def _alerting() -> Section:
    return Section(
        "Alerting",
        [
            Cell(
                timeseries(
                    "Notifications sent per integration",
                    "Notifications Alertmanager attempted per minute, by integration "
                    "(pagerduty, opsgenie, webhook ...).",
                    "cpm",
                    [
                        Query(
                            per_minute(C.AM_NOTIFICATIONS.name, by="integration"), "{{integration}}"
                        )
                    ],
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Failed notifications per integration",
                    "Notifications that failed per minute, by integration: pages that did not "
                    "reach anyone. AlertmanagerNotificationsFailing fires on them.",
                    "cpm",
                    [
                        Query(
                            per_minute(C.AM_NOTIFICATIONS_FAILED.name, by="integration"),
                            "{{integration}}",
                        ),
                        Query(per_minute(C.NOTIFICATIONS_DROPPED.name), "dropped by Prometheus"),
                    ],
                    thresholds=steps("green", (0.001, "red")),
                    threshold_lines=True,
                ),
                8,
            ),
            Cell(
                table(
                    "Firing alerts",
                    "Alerts firing now, from Prometheus' ALERTS series. Watchdog always fires: "
                    "its absence means the alerting pipeline is broken.",
                    "none",
                    [
                        Query(
                            "count by (alertname, severity) "
                            f'({C.ALERTS.name}{{alertstate="firing"}})',
                            instant=True,
                            table=True,
                        )
                    ],
                    rename={"Value": "series"},
                ),
                8,
            ),
        ],
    )


def _signal(
    title: str,
    description: str,
    accepted: n.MetricSpec,
    refused: n.MetricSpec,
    sent: n.MetricSpec,
    failed: n.MetricSpec,
) -> Cell:
    return Cell(
        timeseries(
            title,
            description,
            "short",
            [
                Query(rate(accepted.name, by="job, receiver"), "{{job}} {{receiver}} accepted"),
                Query(rate(refused.name, by="job, receiver"), "{{job}} {{receiver}} refused"),
                Query(rate(sent.name, by="job, exporter"), "{{job}} {{exporter}} sent"),
                Query(rate(failed.name, by="job, exporter"), "{{job}} {{exporter}} failed"),
            ],
        ),
        8,
    )


def _pipelines() -> Section:
    return Section(
        "Telemetry pipelines: OpenTelemetry Collector and Jaeger",
        [
            _signal(
                "Spans per second",
                "Spans accepted and refused by each receiver, sent and failed by each exporter, "
                "per second, for the Collector and Jaeger (grouped by scrape job).",
                C.RECEIVER_ACCEPTED_SPANS,
                C.RECEIVER_REFUSED_SPANS,
                C.EXPORTER_SENT_SPANS,
                C.EXPORTER_SEND_FAILED_SPANS,
            ),
            _signal(
                "Log records per second",
                "Log records accepted and refused by each receiver, sent and failed by each "
                "exporter, per second.",
                C.RECEIVER_ACCEPTED_LOG_RECORDS,
                C.RECEIVER_REFUSED_LOG_RECORDS,
                C.EXPORTER_SENT_LOG_RECORDS,
                C.EXPORTER_SEND_FAILED_LOG_RECORDS,
            ),
            _signal(
                "Metric points per second",
                "Metric points accepted and refused by each receiver, sent and failed by each "
                "exporter, per second.",
                C.RECEIVER_ACCEPTED_METRIC_POINTS,
                C.RECEIVER_REFUSED_METRIC_POINTS,
                C.EXPORTER_SENT_METRIC_POINTS,
                C.EXPORTER_SEND_FAILED_METRIC_POINTS,
            ),
            Cell(
                timeseries(
                    "Exporter queue usage",
                    "Batches waiting in each exporter's sending queue, as a share of its "
                    "capacity. A full queue drops data.",
                    "percentunit",
                    [
                        Query(
                            f"max by (job, exporter) ({C.EXPORTER_QUEUE_SIZE.name}) / "
                            f"max by (job, exporter) ({C.EXPORTER_QUEUE_CAPACITY.name})",
                            "{{job}} {{exporter}}",
                        )
                    ],
                    minimum=0,
                    maximum=1,
                    thresholds=steps("green", (0.5, "orange"), (0.9, "red")),
                    threshold_lines=True,
                ),
                12,
            ),
            Cell(
                timeseries(
                    "Jaeger: spans stored",
                    "Spans Jaeger wrote to its trace storage, and the ones it failed to write, "
                    "per second.",
                    "short",
                    [
                        Query(
                            rate(C.EXPORTER_SENT_SPANS.name, JAEGER_STORAGE, "job"),
                            "{{job}} stored",
                        ),
                        Query(
                            rate(C.EXPORTER_SEND_FAILED_SPANS.name, JAEGER_STORAGE, "job"),
                            "{{job}} failed",
                        ),
                    ],
                ),
                12,
            ),
        ],
    )


def _loki() -> Section:
    return Section(
        "Loki",
        [
            Cell(
                timeseries(
                    "Log lines received",
                    "Log entries Loki's distributor received per second, by tenant.",
                    "short",
                    [Query(rate(C.LOKI_LINES_RECEIVED.name, by="tenant"), "{{tenant}}")],
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Log bytes received",
                    "Uncompressed bytes Loki's distributor received per second, by tenant.",
                    "Bps",
                    [Query(rate(C.LOKI_BYTES_RECEIVED.name, by="tenant"), "{{tenant}}")],
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Log lines rejected",
                    "Log entries Loki discarded per second, by reason (rate limits, too old, "
                    "too long ...).",
                    "short",
                    [Query(rate(C.LOKI_DISCARDED_SAMPLES.name, by="reason"), "{{reason}}")],
                ),
                8,
            ),
        ],
    )


def _host() -> list[Cell]:
    avail = selector(C.NODE_FILESYSTEM_AVAIL.name, DISKS)
    size = selector(C.NODE_FILESYSTEM_SIZE.name, DISKS)
    idle = f'rate({C.NODE_CPU_SECONDS.name}{{mode="idle"}}[$__rate_interval])'
    iowait = f'rate({C.NODE_CPU_SECONDS.name}{{mode="iowait"}}[$__rate_interval])'
    filling = f"({avail} / -deriv({avail}[6h]) > 0)"
    return [
        Cell(
            timeseries(
                "Host CPU busy",
                "Share of the host's CPU time not idle, averaged over its CPUs, and the share "
                "spent waiting for disk I/O (iowait), per host (node-exporter).",
                "percentunit",
                [
                    Query(f"1 - avg by (instance) ({idle})", "{{instance}} busy"),
                    Query(f"avg by (instance) ({iowait})", "{{instance}} iowait"),
                ],
                minimum=0,
                maximum=1,
                thresholds=steps("green", (0.8, "orange"), (0.95, "red")),
                threshold_lines=True,
            ),
            8,
        ),
        Cell(
            timeseries(
                "Host memory available",
                "MemAvailable / MemTotal per host: memory new work can have without swapping "
                "(free plus page cache the kernel can drop). HostMemoryPressure fires under 10 % "
                "while tasks stall on memory.",
                "percentunit",
                [
                    Query(
                        f"{C.NODE_MEMORY_AVAILABLE.name} / {C.NODE_MEMORY_TOTAL.name}",
                        "{{instance}}",
                    )
                ],
                minimum=0,
                maximum=1,
                thresholds=steps("red", (0.1, "orange"), (0.2, "green")),
                threshold_lines=True,
            ),
            8,
        ),
        Cell(
            timeseries(
                "Host memory stalls",
                "Share of time some task waited for memory (PSI memory 'some'; no data on "
                "kernels without PSI). Above 10 % with little memory available, "
                "HostMemoryPressure fires.",
                "percentunit",
                [
                    Query(
                        f"rate({C.NODE_PRESSURE_MEMORY_WAITING.name}[$__rate_interval])",
                        "{{instance}}",
                    )
                ],
                minimum=0,
                thresholds=steps("green", (0.1, "red")),
                threshold_lines=True,
            ),
            8,
        ),
        Cell(
            timeseries(
                "Disk space used per mount",
                "Share of each filesystem's space in use (tmpfs, overlay and squashfs left "
                "out), per host and mount point. HostDiskAlmostFull fires above 95 % on a "
                "writable one.",
                "percentunit",
                [Query(f"1 - {avail} / {size}", "{{instance}} {{mountpoint}}")],
                minimum=0,
                maximum=1,
                thresholds=steps("green", (0.8, "orange"), (0.95, "red")),
                threshold_lines=True,
            ),
            8,
        ),
        Cell(
            stat(
                "Time until full per mount",
                "When each filesystem is full at the pace of the last 6 hours, the prediction "
                "of HostDiskWillFillIn4Hours and HostDiskWillFillIn24Hours: red under 4 "
                "hours, orange under a day. Not filling, or more than 30 days away: '30 days "
                "or more'.",
                "s",
                [
                    Query(
                        f"clamp_max({filling} or {avail} * 0 + {NOT_FILLING}, {NOT_FILLING})",
                        "{{instance}} {{mountpoint}}",
                    )
                ],
                thresholds=steps("red", (4 * HOUR, "orange"), (24 * HOUR, "green")),
                mappings=value_map({NOT_FILLING: ("30 days or more", "green")}),
            ),
            8,
        ),
        Cell(
            timeseries(
                "Host network traffic",
                "Bytes received and sent per second, per host and network device (loopback "
                "left out).",
                "Bps",
                [
                    Query(
                        rate(C.NODE_NETWORK_RECEIVE_BYTES.name, 'device!="lo"', "instance, device"),
                        "{{instance}} {{device}} received",
                    ),
                    Query(
                        rate(
                            C.NODE_NETWORK_TRANSMIT_BYTES.name, 'device!="lo"', "instance, device"
                        ),
                        "{{instance}} {{device}} sent",
                    ),
                ],
                minimum=0,
            ),
            8,
        ),
    ]


def _containers() -> list[Cell]:
    limit = selector(C.CONTAINER_SPEC_MEMORY_LIMIT.name, CONTAINERS)
    working_set = selector(C.CONTAINER_MEMORY_WORKING_SET.name, CONTAINERS)
    cpu = selector(C.CONTAINER_CPU_USAGE.name, CONTAINERS)
    oom = selector(C.CONTAINER_OOM_EVENTS.name, CONTAINERS)
    return [
        Cell(
            timeseries(
                "Container CPU",
                "CPU each container of the compose bundle uses, in CPUs (1 = one core busy), "
                "from cAdvisor.",
                "short",
                [Query(rate(C.CONTAINER_CPU_USAGE.name, CONTAINERS, "name"), "{{name}}")],
                minimum=0,
            ),
            8,
        ),
        Cell(
            timeseries(
                "Container memory",
                "Working set of each container (what its memory limit is compared with) and "
                "its limit, for containers that have one. A working set at its limit is an "
                "OOM kill coming.",
                "bytes",
                [
                    Query(
                        f"max by (name) ({working_set})",
                        "{{name}}",
                    ),
                    Query(f"max by (name) ({limit} > 0)", "{{name}} limit"),
                ],
                minimum=0,
            ),
            8,
        ),
        Cell(
            timeseries(
                "Container restarts and OOM kills",
                "Restarts of each container in the last 15 minutes (its CPU counter starting "
                "over; a lower bound in a tight crash loop) and the OOM kills cAdvisor counted "
                "for it. ContainerRestarting fires above 2.",
                "short",
                [
                    Query(
                        f"max by (name) (resets({cpu}[15m]))",
                        "{{name}} restarts",
                    ),
                    Query(
                        f"sum by (name) (increase({oom}[15m]))",
                        "{{name}} OOM kills",
                    ),
                ],
                minimum=0,
                thresholds=steps("green", (3, "red")),
                threshold_lines=True,
            ),
            8,
        ),
    ]


def _host_and_containers() -> Section:
    return Section("Host and containers", [*_host(), *_containers()])


def build() -> Any:
    """The Stack health dashboard (grafanalib)."""
    return dashboard(
        STACK_HEALTH,
        "Is the monitoring working: Prometheus targets, rules and storage, Alertmanager "
        "notifications, the Collector's and Jaeger's pipelines, Loki's ingestion, and the "
        "host and containers under them.",
        [_overview(), _prometheus(), _alerting(), _pipelines(), _loki(), _host_and_containers()],
        time_from="now-6h",
    )
