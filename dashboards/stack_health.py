"""Stack health: is the monitoring itself working? Prometheus (targets, rules, TSDB),
Alertmanager (notifications per integration), the telemetry pipelines of the OpenTelemetry
Collector and Jaeger, and Loki's ingestion.

Queries group by ``job`` rather than filtering on job names, so the panels work whatever the
scrape jobs of the stack's components are called.
"""

from __future__ import annotations

from typing import Any

from dashboards.conventions import STACK_HEALTH
from dashboards.layout import Cell, Section, dashboard
from dashboards.panels import Query, stat, steps, table, timeline, timeseries, value_map
from dashboards.promql import per_minute, rate
from exporters import naming as n

C = n.StackComponentMetrics
# Jaeger v2 is built on the Collector: spans it stores go through its jaeger_storage_exporter.
JAEGER_STORAGE = 'exporter=~"jaeger_storage.*"'


def _prometheus() -> Section:
    return Section(
        "Prometheus",
        [
            Cell(
                stat(
                    "Targets up",
                    "Scrape targets whose last scrape succeeded, out of all targets.",
                    "percentunit",
                    [Query(f"sum({C.UP.name}) / count({C.UP.name})")],
                    thresholds=steps("red", (0.9, "orange"), (1, "green")),
                    graph=True,
                ),
                6,
            ),
            Cell(
                timeline(
                    "Scrape targets by job",
                    "Whether every target of each scrape job is up (Up), or at least one is "
                    "down (Down).",
                    [Query(f"min by (job) ({C.UP.name})", "{{job}}")],
                    mappings=value_map({0: ("Down", "red"), 1: ("Up", "green")}),
                ),
                18,
            ),
            Cell(
                timeseries(
                    "Rule evaluation failures",
                    "Failed rule evaluations per minute, by rule group. Anything above zero "
                    "means a recording rule or alert is not being computed.",
                    "cpm",
                    [
                        Query(
                            per_minute(C.RULE_EVALUATION_FAILURES.name, by="rule_group"),
                            "{{rule_group}}",
                        )
                    ],
                    thresholds=steps("green", (0.001, "red")),
                    threshold_lines=True,
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Rule group evaluation time",
                    "Duration of each rule group's last evaluation. A group that takes longer "
                    "than its evaluation interval skips evaluations.",
                    "s",
                    [
                        Query(
                            f"max by (rule_group) ({C.RULE_GROUP_LAST_DURATION.name})",
                            "{{rule_group}}",
                        ),
                        Query(f"max({C.RULE_GROUP_INTERVAL.name})", "evaluation interval"),
                    ],
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


def build() -> Any:
    """The Stack health dashboard (grafanalib)."""
    return dashboard(
        STACK_HEALTH,
        "Is the monitoring working: Prometheus targets, rules and storage, Alertmanager "
        "notifications, the Collector's and Jaeger's pipelines, and Loki's ingestion.",
        [_prometheus(), _alerting(), _pipelines(), _loki()],
        time_from="now-6h",
    )
