"""Dependencies: every probed dependency's state, probe latency against its budget, circuit
breaker, failures by reason, then one section per kind with what that kind's probe measures.

Every panel that shows dependencies links each series to this dashboard filtered on that
dependency, so a click narrows the view to it.
"""

from __future__ import annotations

from typing import Any

from obsstack.core import naming as n
from obsstack.dashboards.conventions import AVAILABILITY_TARGET, DEPENDENCIES, dashboard_url
from obsstack.dashboards.layout import Cell, Section, dashboard, query_variable
from obsstack.dashboards.panels import (
    Query,
    bargauge,
    link,
    stat,
    steps,
    table,
    timeline,
    timeseries,
    value_map,
)
from obsstack.dashboards.promql import per_minute, rate

SELECTOR = 'dependency=~"$dependency", kind=~"$kind"'
DEP = "{{dependency}}"
ONE_DEPENDENCY = link(
    "Dependencies: ${__field.labels.dependency}",
    dashboard_url(DEPENDENCIES, dependency="${__field.labels.dependency}"),
)
UP_MAP = value_map({0: ("Down", "red"), 1: ("Up", "green")})
CIRCUIT_MAP = value_map(
    {
        n.CIRCUIT_CLOSED: ("Closed", "green"),
        n.CIRCUIT_OPEN: ("Open", "red"),
    }
)
ES_STATUS_MAP = value_map(
    {value: (name, name) for name, value in n.ELASTICSEARCH_STATUS_VALUES.items()}
)
DAY = 86400.0


def per_dependency(spec: n.MetricSpec, how: str = "max") -> str:
    """``how by (dependency) (metric{selection})``: one series per dependency."""
    return f"{how} by (dependency) ({spec.name}{{{SELECTOR}}})"


def events_per_minute(spec: n.MetricSpec, by: str = "dependency") -> str:
    """A counter's rate, per minute, per ``by``."""
    return per_minute(spec.name, SELECTOR, by)


def _state() -> Section:
    uptime = f"avg_over_time({n.DEPENDENCY_UP.name}{{{SELECTOR}}}[$__range])"
    return Section(
        "State: which dependency is down, since when?",
        [
            Cell(
                stat(
                    "Dependencies up",
                    "Each dependency's last probe: Up or Down. Click one to focus on it.",
                    "none",
                    [Query(per_dependency(n.DEPENDENCY_UP), DEP)],
                    mappings=UP_MAP,
                    thresholds=steps("red", (1, "green")),
                    background=True,
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
                5,
            ),
            Cell(
                stat(
                    "Uptime over the time range",
                    "Share of the dashboard's time range each dependency answered its probes. "
                    f"Red below the plan's {AVAILABILITY_TARGET * 100:g} % uptime target.",
                    "percentunit",
                    [Query(f"min by (dependency) ({uptime})", DEP, instant=True)],
                    thresholds=steps("red", (AVAILABILITY_TARGET, "green")),
                    background=True,
                    decimals=2,
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
                5,
            ),
            Cell(
                timeline(
                    "Up / down",
                    "Probe result of each dependency over time.",
                    [Query(per_dependency(n.DEPENDENCY_UP), DEP)],
                    mappings=UP_MAP,
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
            ),
            Cell(
                timeline(
                    "Circuit breaker",
                    "Closed: probed normally. Open: down after repeated failures; a trial "
                    "probe (each scrape, or once per cooldown) closes it when it succeeds.",
                    [Query(per_dependency(n.DEPENDENCY_CIRCUIT_STATE), DEP)],
                    mappings=CIRCUIT_MAP,
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
            ),
        ],
    )


def _probes() -> Section:
    return Section(
        "Probes",
        [
            Cell(
                timeseries(
                    "Probe latency vs timeout",
                    "Wall time of each probe against the time budget it had (the timeout lines). "
                    "A probe that nears its budget is about to time out.",
                    "s",
                    [
                        Query(per_dependency(n.DEPENDENCY_PROBE_DURATION), DEP),
                        Query(per_dependency(n.DEPENDENCY_PROBE_TIMEOUT), DEP + " timeout"),
                    ],
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
            ),
            Cell(
                bargauge(
                    "Probe latency / timeout",
                    "Share of its time budget each dependency's last probe used; the "
                    "DependencyProbeSlow alert fires above 80 %.",
                    "percentunit",
                    [
                        Query(
                            f"max by (dependency) ({n.DEPENDENCY_PROBE_DURATION.name}{{{SELECTOR}}}"
                            f" / {n.DEPENDENCY_PROBE_TIMEOUT.name}{{{SELECTOR}}})",
                            DEP,
                            instant=True,
                        )
                    ],
                    maximum=1,
                    thresholds=steps("green", (0.5, "orange"), (0.8, "red")),
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
            ),
            Cell(
                timeseries(
                    "Failures by reason",
                    "Failed probes per minute by dependency and reason: timeout, refused, "
                    "auth, protocol or unhealthy.",
                    "cpm",
                    [
                        Query(
                            events_per_minute(n.DEPENDENCY_PROBE_FAILURES, "dependency, reason"),
                            DEP + " {{reason}}",
                        )
                    ],
                    bars=True,
                    stacked=True,
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
            ),
            Cell(
                timeseries(
                    "Retries and circuit opens",
                    "Extra attempts after transient errors, and circuit breaker openings, "
                    "per minute.",
                    "cpm",
                    [
                        Query(events_per_minute(n.DEPENDENCY_PROBE_RETRIES), DEP + " retries"),
                        Query(
                            events_per_minute(n.DEPENDENCY_CIRCUIT_OPENS), DEP + " circuit opens"
                        ),
                    ],
                    data_links=[ONE_DEPENDENCY],
                ),
                6,
            ),
            Cell(
                table(
                    "Last successful probe",
                    "Time since each dependency last answered a probe successfully.",
                    "s",
                    [
                        Query(
                            f"clamp_min(time() - {per_dependency(n.DEPENDENCY_LAST_SUCCESS)}, 0)",
                            instant=True,
                            table=True,
                        )
                    ],
                    rename={"Value": "since last success"},
                    sort_by="since last success",
                ),
                6,
            ),
        ],
    )


def _postgres() -> Section:
    return Section(
        "PostgreSQL",
        [
            Cell(
                timeseries(
                    "Connections vs max_connections",
                    "Client connections in use against the server's max_connections (the max "
                    "lines).",
                    "short",
                    [
                        Query(per_dependency(n.DEPENDENCY_POSTGRES_CONNECTIONS), DEP),
                        Query(per_dependency(n.DEPENDENCY_POSTGRES_MAX_CONNECTIONS), DEP + " max"),
                    ],
                    minimum=0,
                    data_links=[ONE_DEPENDENCY],
                ),
                10,
            ),
            Cell(
                timeseries(
                    "Connect and query time",
                    "Time to connect and authenticate, and round trip of SELECT 1 under "
                    "statement_timeout.",
                    "s",
                    [
                        Query(
                            per_dependency(n.DEPENDENCY_POSTGRES_CONNECT_DURATION),
                            DEP + " connect",
                        ),
                        Query(per_dependency(n.DEPENDENCY_POSTGRES_QUERY_DURATION), DEP + " query"),
                    ],
                    data_links=[ONE_DEPENDENCY],
                ),
                10,
            ),
            Cell(
                stat(
                    "Role",
                    "Primary, or replica (pg_is_in_recovery()).",
                    "none",
                    [Query(per_dependency(n.DEPENDENCY_POSTGRES_IN_RECOVERY), DEP)],
                    mappings=value_map({0: ("Primary", "green"), 1: ("Replica", "blue")}),
                    data_links=[ONE_DEPENDENCY],
                ),
                4,
            ),
        ],
    )


def _redis() -> Section:
    hits = rate(n.DEPENDENCY_REDIS_KEYSPACE_HITS.name, SELECTOR, "dependency")
    misses = rate(n.DEPENDENCY_REDIS_KEYSPACE_MISSES.name, SELECTOR, "dependency")
    return Section(
        "Redis",
        [
            Cell(
                timeseries(
                    "Memory used vs maxmemory",
                    "used_memory against maxmemory (the max lines; absent when unlimited).",
                    "bytes",
                    [
                        Query(per_dependency(n.DEPENDENCY_REDIS_MEMORY_USED), DEP),
                        Query(per_dependency(n.DEPENDENCY_REDIS_MEMORY_MAX) + " > 0", DEP + " max"),
                    ],
                    minimum=0,
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Keyspace hit ratio",
                    "Share of key lookups that found their key, over the rate interval.",
                    "percentunit",
                    [
                        Query(
                            f"{hits} / ({hits} + {misses})",
                            DEP,
                        )
                    ],
                    minimum=0,
                    maximum=1,
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Clients vs maxclients",
                    "Connected clients against the maxclients setting (the max lines).",
                    "short",
                    [
                        Query(per_dependency(n.DEPENDENCY_REDIS_CONNECTED_CLIENTS), DEP),
                        Query(per_dependency(n.DEPENDENCY_REDIS_MAX_CLIENTS), DEP + " max"),
                    ],
                    minimum=0,
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
        ],
    )


def _search_and_graph() -> Section:
    return Section(
        "Elasticsearch, Qdrant and Neo4j",
        [
            Cell(
                timeline(
                    "Elasticsearch cluster status",
                    "Cluster health from /_cluster/health: green, yellow or red.",
                    [Query(per_dependency(n.DEPENDENCY_ELASTICSEARCH_STATUS), DEP)],
                    mappings=ES_STATUS_MAP,
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Elasticsearch unassigned shards and nodes",
                    "Unassigned shards (any is worth a look) and nodes in the cluster.",
                    "short",
                    [
                        Query(
                            per_dependency(n.DEPENDENCY_ELASTICSEARCH_UNASSIGNED_SHARDS),
                            DEP + " unassigned shards",
                        ),
                        Query(per_dependency(n.DEPENDENCY_ELASTICSEARCH_NODES), DEP + " nodes"),
                    ],
                    minimum=0,
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
            Cell(
                timeline(
                    "Qdrant readiness",
                    "Whether /readyz answers 200: not ready while shards load.",
                    [Query(per_dependency(n.DEPENDENCY_QDRANT_READY), DEP)],
                    mappings=value_map({0: ("Not ready", "red"), 1: ("Ready", "green")}),
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Neo4j query time",
                    "Round trip of the Cypher query RETURN 1 over the HTTP API.",
                    "s",
                    [Query(per_dependency(n.DEPENDENCY_NEO4J_QUERY_DURATION), DEP)],
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
            ),
            Cell(
                stat(
                    "Qdrant collections",
                    "Collections in each Qdrant (reported when an API key is configured).",
                    "short",
                    [Query(per_dependency(n.DEPENDENCY_QDRANT_COLLECTIONS), DEP)],
                    thresholds=steps("blue"),
                    data_links=[ONE_DEPENDENCY],
                ),
                12,
            ),
        ],
    )


def _headroom(remaining: n.MetricSpec, limit: n.MetricSpec) -> str:
    return f"min by (dependency) ({remaining.name}{{{SELECTOR}}} / {limit.name}{{{SELECTOR}}})"


def _http() -> Section:
    return Section(
        "AI APIs and HTTP endpoints",
        [
            Cell(
                bargauge(
                    "Rate-limit headroom",
                    "Share of the request and token rate limits left, from the "
                    "x-ratelimit-* headers of the last response (OpenAI).",
                    "percentunit",
                    [
                        Query(
                            _headroom(
                                n.DEPENDENCY_HTTP_RATELIMIT_REMAINING_REQUESTS,
                                n.DEPENDENCY_HTTP_RATELIMIT_LIMIT_REQUESTS,
                            ),
                            DEP + " requests",
                            instant=True,
                        ),
                        Query(
                            _headroom(
                                n.DEPENDENCY_HTTP_RATELIMIT_REMAINING_TOKENS,
                                n.DEPENDENCY_HTTP_RATELIMIT_LIMIT_TOKENS,
                            ),
                            DEP + " tokens",
                            instant=True,
                        ),
                    ],
                    maximum=1,
                    thresholds=steps("red", (0.1, "orange"), (0.25, "green")),
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
            Cell(
                bargauge(
                    "TLS certificate expiry",
                    "Time left before each HTTPS dependency's certificate expires. Orange under "
                    "30 days, red under 7.",
                    "s",
                    [
                        Query(
                            per_dependency(n.DEPENDENCY_HTTP_TLS_EXPIRY, "min") + " - time()",
                            DEP,
                            instant=True,
                        )
                    ],
                    thresholds=steps("red", (7 * DAY, "orange"), (30 * DAY, "green")),
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
            Cell(
                stat(
                    "HTTP status",
                    "Status code of each HTTP dependency's last response.",
                    "none",
                    [Query(per_dependency(n.DEPENDENCY_HTTP_STATUS_CODE), DEP)],
                    thresholds=steps("green", (400, "orange"), (500, "red")),
                    data_links=[ONE_DEPENDENCY],
                ),
                8,
            ),
        ],
    )


def build() -> Any:
    """The Dependencies dashboard (grafanalib)."""
    dependency = query_variable(
        "dependency", "Dependency", f"label_values({n.DEPENDENCY_UP.name}, dependency)"
    )
    kind = query_variable("kind", "Kind", f"label_values({n.DEPENDENCY_UP.name}, kind)")
    return dashboard(
        DEPENDENCIES,
        "Every dependency the probe exporter checks: state, probe latency against its budget, "
        "circuit breaker, failures by reason, and what each kind's probe measures.",
        [_state(), _probes(), _postgres(), _redis(), _search_and_graph(), _http()],
        variables=[dependency, kind],
        time_from="now-3h",
    )
