"""Business KPIs: AI queries by agent type, code reviews, users and tenants, cache, backups,
PostgreSQL/Neo4j sync drift, logins and rate limiting.

Two sources: what the services count as they serve (``ai_queries_total`` ..., from
``instrument_app``'s business metrics) and what the KPI exporter reads from the platform's
database (``platform_*``, ``kpi_*``).
"""

from __future__ import annotations

from typing import Any

from obsstack.core import naming as n
from obsstack.dashboards.conventions import (
    AI_AVAILABILITY_TARGET,
    BUSINESS_KPIS,
    CACHE_HIT_LOW,
    CACHE_HIT_TARGET,
    DEPENDENCIES,
    dashboard_url,
    error_ratio_steps,
    page_burn_rate,
)
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
from obsstack.dashboards.promql import over_range, per_minute, quantile, rate, ratio_or_zero

AGENTS = 'agent_type=~"$agent_type"'
AI_FAILURE_STEPS = error_ratio_steps(AI_AVAILABILITY_TARGET)
AI_FAILURE_TEXT = (
    f"Orange from {AI_FAILURE_STEPS[0][0] * 100:g} % (above the {AI_AVAILABILITY_TARGET * 100:g} "
    f"% AI availability target: the error budget spent faster than it accrues), red from "
    f"{AI_FAILURE_STEPS[1][0] * 100:g} % ({page_burn_rate():g} times as fast: the rate that "
    "pages)."
)
TOP_TENANTS = 10  # bars shown in the tenant panels; the label cap bounds the series behind them
HOUR = 3600.0


def _agents() -> Section:
    failures = rate(n.AI_QUERY_FAILURES.name, AGENTS, n.AGENT_TYPE)
    queries = rate(n.AI_QUERIES.name, AGENTS, n.AGENT_TYPE)
    failure_ratio = ratio_or_zero(failures, queries)
    return Section(
        "AI agents: are queries failing, since when, which agent type?",
        [
            Cell(
                stat(
                    "AI query failure ratio",
                    "Share of AI queries that failed, every selected agent type together. "
                    + AI_FAILURE_TEXT,
                    "percentunit",
                    [
                        Query(
                            ratio_or_zero(
                                rate(n.AI_QUERY_FAILURES.name, AGENTS),
                                rate(n.AI_QUERIES.name, AGENTS),
                            )
                        )
                    ],
                    thresholds=steps("green", *AI_FAILURE_STEPS),
                    graph=True,
                    background=True,
                    decimals=2,
                ),
                4,
                7,
            ),
            Cell(
                bargauge(
                    "Failure ratio by agent type",
                    "Share of each agent type's AI queries that failed, now. " + AI_FAILURE_TEXT,
                    "percentunit",
                    [Query(failure_ratio, "{{agent_type}}", instant=True)],
                    thresholds=steps("green", *AI_FAILURE_STEPS),
                ),
                8,
                7,
            ),
            Cell(
                timeseries(
                    "AI query failure ratio by agent type",
                    "Share of each agent type's AI queries that failed (failures / queries) "
                    "over time, with the thresholds dashed.",
                    "percentunit",
                    [Query(failure_ratio, "{{agent_type}}")],
                    minimum=0,
                    thresholds=steps("green", *AI_FAILURE_STEPS),
                    threshold_lines=True,
                ),
                12,
                7,
            ),
            Cell(
                timeseries(
                    "AI queries by agent type",
                    "AI queries per second answered by the services, by agent type, stacked.",
                    "reqps",
                    [Query(queries, "{{agent_type}}")],
                    stacked=True,
                    legend_calcs=("mean", "max"),
                ),
                8,
            ),
            Cell(
                timeseries(
                    "AI query duration p95 by agent type",
                    "95th percentile of AI query duration by agent type (the request that "
                    "served a slow query has its exemplar on the Service overview).",
                    "s",
                    [
                        Query(
                            quantile(0.95, n.AI_QUERY_DURATION.name, AGENTS, n.AGENT_TYPE),
                            "{{agent_type}}",
                        )
                    ],
                ),
                8,
            ),
            Cell(
                bargauge(
                    "AI queries in the time range",
                    "AI queries per agent type over the dashboard's time range: services' count "
                    "and what the platform database recorded.",
                    "short",
                    [
                        Query(
                            over_range(n.AI_QUERIES.name, AGENTS, n.AGENT_TYPE),
                            "{{agent_type}}",
                            instant=True,
                        ),
                        Query(
                            over_range(n.PLATFORM_AI_QUERIES.name, AGENTS, n.AGENT_TYPE),
                            "{{agent_type}} (database)",
                            instant=True,
                        ),
                    ],
                    thresholds=steps("blue"),
                ),
                8,
            ),
        ],
    )


def _reviews_and_users() -> Section:
    return Section(
        "Code reviews and users",
        [
            Cell(
                timeseries(
                    "Code reviews by result",
                    "Code reviews completed per minute by result (approved, changes "
                    "requested, failed ...).",
                    "cpm",
                    [Query(per_minute(n.CODE_REVIEWS.name, by=n.RESULT), "{{result}}")],
                    bars=True,
                    stacked=True,
                ),
                12,
            ),
            Cell(
                timeseries(
                    "Active users",
                    "Users active in the last 5 minutes: reported by the services, and "
                    "counted in the platform database across every instance.",
                    "short",
                    [
                        Query(f"max({n.ACTIVE_USERS.name})", "services"),
                        Query(f"max({n.PLATFORM_ACTIVE_USERS.name})", "database"),
                    ],
                    minimum=0,
                ),
                12,
            ),
        ],
    )


def _tenants() -> Section:
    return Section(
        "Tenants",
        [
            Cell(
                bargauge(
                    f"Top {TOP_TENANTS} tenants by requests",
                    f"Requests over the time range of the {TOP_TENANTS} busiest tenants. "
                    f"Tenants beyond the label cap are counted together as {n.OTHER_TENANT!r}.",
                    "short",
                    [
                        Query(
                            f"topk({TOP_TENANTS}, "
                            f"{over_range(n.TENANT_REQUESTS.name, by=n.TENANT)})",
                            "{{tenant}}",
                            instant=True,
                        )
                    ],
                    thresholds=steps("blue"),
                ),
                8,
                9,
            ),
            Cell(
                bargauge(
                    f"Top {TOP_TENANTS} tenants by rate-limit rejections",
                    "Requests rejected by the rate limiter over the time range, per tenant.",
                    "short",
                    [
                        Query(
                            f"topk({TOP_TENANTS}, "
                            f"{over_range(n.PLATFORM_RATE_LIMIT_REJECTIONS.name, by=n.TENANT)})",
                            "{{tenant}}",
                            instant=True,
                        )
                    ],
                    thresholds=steps("blue"),
                ),
                8,
                9,
            ),
            Cell(
                timeseries(
                    "Tenants by plan",
                    "Tenants of the platform, by subscription plan, and the tenant label cap "
                    "of the services: tenants beyond it share one label value.",
                    "short",
                    [
                        Query(f"sum by ({n.PLAN}) ({n.PLATFORM_TENANTS.name})", "{{plan}}"),
                        Query(f"max({n.TENANT_LABEL_CAP.name})", "tenant label cap"),
                    ],
                    minimum=0,
                ),
                8,
                9,
            ),
        ],
    )


def _operations() -> Section:
    hits = rate(n.DEPENDENCY_REDIS_KEYSPACE_HITS.name)
    misses = rate(n.DEPENDENCY_REDIS_KEYSPACE_MISSES.name)
    return Section(
        "Cache, backups, sync and logins",
        [
            Cell(
                stat(
                    "Cache hit rate",
                    "Share of Redis key lookups that found their key, every Redis dependency "
                    f"together. Green from the plan's {CACHE_HIT_TARGET * 100:g} % target, "
                    f"orange from {CACHE_HIT_LOW * 100:g} %, red below.",
                    "percentunit",
                    [Query(f"{hits} / ({hits} + {misses})")],
                    thresholds=steps("red", (CACHE_HIT_LOW, "orange"), (CACHE_HIT_TARGET, "green")),
                    graph=True,
                    links=[link("Dependencies: Redis", dashboard_url(DEPENDENCIES, kind="redis"))],
                ),
                6,
                6,
            ),
            Cell(
                stat(
                    "Backup age",
                    "Time since the last successful backup finished. Orange after 26 hours, "
                    "red after 2 days.",
                    "s",
                    [Query(f"time() - max({n.PLATFORM_BACKUP_LAST_SUCCESS.name})")],
                    thresholds=steps("green", (26 * HOUR, "orange"), (48 * HOUR, "red")),
                ),
                6,
                6,
            ),
            Cell(
                timeseries(
                    "PostgreSQL / Neo4j sync drift",
                    "PostgreSQL rows minus Neo4j graph nodes per entity; 0 when the graph is "
                    "in sync.",
                    "short",
                    [
                        Query(
                            f"sum by ({n.ENTITY}) ({n.PLATFORM_GRAPH_SYNC_DRIFT.name})",
                            "{{entity}}",
                        )
                    ],
                ),
                12,
                6,
            ),
            Cell(
                timeseries(
                    "Login failures and lockouts",
                    "Failed logins and accounts locked after repeated failures, per minute.",
                    "cpm",
                    [
                        Query(per_minute(n.PLATFORM_LOGIN_FAILURES.name), "login failures"),
                        Query(per_minute(n.PLATFORM_ACCOUNT_LOCKOUTS.name), "lockouts"),
                    ],
                ),
                12,
            ),
            Cell(
                timeline(
                    "KPI queries",
                    "Whether each KPI query of the KPI exporter succeeded on its last run; a "
                    "failed query keeps its last values, so the panels above go stale.",
                    [Query(f"max by ({n.QUERY}) ({n.KPI_QUERY_SUCCESS.name})", "{{query}}")],
                    mappings=value_map({0: ("Failed", "red"), 1: ("OK", "green")}),
                ),
                6,
            ),
            Cell(
                table(
                    "KPI query freshness",
                    "Duration of each KPI query's last run, and the time since its last success.",
                    "s",
                    [
                        Query(
                            f"max by ({n.QUERY}) ({n.KPI_QUERY_DURATION.name})",
                            instant=True,
                            table=True,
                        ),
                        Query(
                            f"time() - max by ({n.QUERY}) ({n.KPI_LAST_SUCCESS.name})",
                            instant=True,
                            table=True,
                        ),
                    ],
                    rename={"Value #A": "last run took", "Value #B": "since last success"},
                    sort_by="since last success",
                ),
                6,
            ),
        ],
    )


def build() -> Any:
    """The Business KPIs dashboard (grafanalib)."""
    agent_type = query_variable(
        "agent_type", "Agent type", f"label_values({n.AI_QUERIES.name}, {n.AGENT_TYPE})"
    )
    return dashboard(
        BUSINESS_KPIS,
        "What the platform delivers: AI queries per agent type, code reviews, users and "
        "tenants, cache, backups, graph sync, logins and rate limiting.",
        [_agents(), _reviews_and_users(), _tenants(), _operations()],
        variables=[agent_type],
        time_from="now-24h",
    )
