"""What every obsstack dashboard agrees on: data source uids, dashboard uids and URLs, variables.

The provisioning files under ``compose/grafana/provisioning/`` give the data sources these fixed
uids, so links between dashboards and from exemplars to traces work on any Grafana they are
loaded into.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from obsstack.core import naming

SCHEMA_VERSION = 39  # Grafana 11.0; newer Grafana migrates it on load, older ones cannot
TAG = "obsstack"
UID_PREFIX = "obsstack-"

# Data sources, as provisioned by compose/grafana/provisioning/datasources/datasources.yaml.
PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"
JAEGER_UID = "jaeger"
ALERTMANAGER_UID = "alertmanager"
PROMETHEUS_TYPE = "prometheus"
EXEMPLAR_TRACE_ID_LABEL = "trace_id"  # the exemplar label the instrumentation writes

# Every panel and target reads from the data source chosen in this variable.
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = {"type": PROMETHEUS_TYPE, "uid": "${" + DATASOURCE_VARIABLE + "}"}

# Dashboard titles; their uids derive from them (see ``uid_for``) and other files link to them.
SERVICE_OVERVIEW = "Service overview"
DEPENDENCIES = "Dependencies"
BUSINESS_KPIS = "Business KPIs"
SLOS = "SLOs"
STACK_HEALTH = "Stack health"

# The platform plan's own targets, drawn as thresholds where they apply. alerts/slos.yaml holds
# the same figures as SLOs (tests/dashboards/test_oncall_view.py keeps them equal).
AVAILABILITY_TARGET = 0.999  # 99.9 % of requests without a server error; 99.9 % uptime
AI_AVAILABILITY_TARGET = 0.99  # AI queries answered without failure (the ai SLO)
LATENCY_P95_TARGET = 0.1  # seconds: p95 latency of the interactive requests
CACHE_HIT_TARGET = 0.9
CACHE_HIT_LOW = 0.8  # below this the cache hit rate is red, orange up to the target

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def uid_for(title: str) -> str:
    """The stable uid of the dashboard ``title``: ``Stack health`` -> ``obsstack-stack-health``."""
    uid = UID_PREFIX + _NOT_SLUG.sub("-", title.lower()).strip("-")
    if len(uid) > 40:  # Grafana's limit
        raise ValueError(f"dashboard uid {uid!r} is longer than 40 characters")
    return uid


def dashboard_url(title: str, **variables: str | Sequence[str]) -> str:
    """A link to another obsstack dashboard that keeps the time range and the data source.

    ``variables`` become ``var-NAME=VALUE`` parameters (one per value of a sequence); values
    may use Grafana's link variables such as ``${__field.labels.dependency}``.
    """
    uid = uid_for(title)
    slug = uid.removeprefix(UID_PREFIX)
    params = [
        f"var-{name}={value}"
        for name, values in variables.items()
        for value in ([values] if isinstance(values, str) else values)
    ]
    params += ["${" + DATASOURCE_VARIABLE + ":queryparam}", "${__url_time_range}"]
    return f"/d/{uid}/{slug}?" + "&".join(params)


@cache
def page_burn_rate() -> float:
    """The fastest burn rate that pages in the default alert windows (14.4: 2 % of a 30-day
    budget in an hour)."""
    # The SLO compiler is imported when a dashboard is built: every obsstack command imports
    # this module (the dashboards command's default folder), the exporters among them.
    from obsstack.alerts.windows import DEFAULT_TABLE, builtin_tables

    table = builtin_tables()[DEFAULT_TABLE]
    return max(
        w.factor
        for tier in table.tiers_for(table.period)
        if tier.name == naming.TIER_PAGE
        for w in tier.windows
    )


def error_ratio_steps(objective: float) -> tuple[tuple[float, str], ...]:
    """Threshold steps (above green) for an error ratio against ``objective``: orange once
    errors spend the error budget faster than it accrues (above ``1 - objective``), red at the
    rate that pages (:func:`page_burn_rate` times the budget)."""
    from obsstack.alerts.model import number_text

    budget = float(number_text(1 - objective))
    return (budget, "orange"), (float(number_text(budget * page_burn_rate())), "red")
