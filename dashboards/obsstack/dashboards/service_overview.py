"""Service overview: rate, errors and duration (RED) of one instrumented FastAPI service.

Everything comes from the OpenTelemetry HTTP server metrics that ``instrument_app`` exports
(``http_server_request_duration_seconds`` and friends), per route template.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from obsstack.core import naming
from obsstack.dashboards.conventions import (
    AVAILABILITY_TARGET,
    BUSINESS_KPIS,
    LATENCY_P95_TARGET,
    LOKI_UID,
    SERVICE_OVERVIEW,
    dashboard_url,
    error_ratio_steps,
    page_burn_rate,
)
from obsstack.dashboards.layout import Cell, Section, dashboard, query_variable
from obsstack.dashboards.panels import Query, bargauge, link, stat, steps, timeseries
from obsstack.dashboards.promql import quantile, rate, ratio_or_zero

DURATION = naming.HTTP_SERVER_REQUEST_DURATION.name
COUNT = f"{DURATION}_count"
ACTIVE = naming.HTTP_SERVER_ACTIVE_REQUESTS.name
ROUTE = naming.HTTP_ROUTE
STATUS = naming.HTTP_RESPONSE_STATUS_CODE
METHOD = naming.HTTP_REQUEST_METHOD
SELECTOR = 'job="$job", instance=~"$instance"'
SERVER_ERRORS = f'{SELECTOR}, {STATUS}=~"5.."'

# The platform plan's targets: 99.9 % of requests without a server error, p95 under 100 ms.
ERROR_STEPS = error_ratio_steps(AVAILABILITY_TARGET)
ERROR_TEXT = (
    f"Green within the plan's {AVAILABILITY_TARGET * 100:g} % target; orange from "
    f"{ERROR_STEPS[0][0] * 100:g} % (the error budget spent faster than it accrues), red from "
    f"{ERROR_STEPS[1][0] * 100:g} % ({page_burn_rate():g} times as fast: the rate that pages)."
)
LATENCY_STEPS = ((LATENCY_P95_TARGET, "orange"),)
LATENCY_TEXT = (
    f"Orange above the plan's target of {LATENCY_P95_TARGET * 1000:g} ms, which applies to "
    "interactive requests: AI queries and code reviews wait for a model or a review run and "
    "exceed it by nature (the api/latency SLO on the SLOs dashboard leaves them out)."
)


def logs_url() -> str:
    """Explore on Loki with the selected service's logs, over the dashboard's time range.

    Loki names a stream by its OTLP ``service.name`` (label ``service_name``), which is the
    service's Prometheus job: what ``instrument_app`` and the Collector both call the service.
    """
    pane = {
        "datasource": LOKI_UID,
        "queries": [
            {
                "refId": "A",
                "expr": '{service_name="JOB"}',
                "datasource": {"type": "loki", "uid": LOKI_UID},
            }
        ],
        "range": {"from": "FROM", "to": "TO"},
    }
    encoded = quote(json.dumps({"a": pane}, separators=(",", ":")), safe="")
    for placeholder, variable in (("JOB", "${job}"), ("FROM", "${__from}"), ("TO", "${__to}")):
        encoded = encoded.replace(placeholder, variable)
    return f"/explore?schemaVersion=1&orgId=1&panes={encoded}"


LOGS = link("Logs of this service (Loki)", logs_url())
BY_AGENT = link("Business KPIs: AI query failures by agent type", dashboard_url(BUSINESS_KPIS))


def error_ratio(by: str = "") -> str:
    """5xx responses over all responses; 0 (not missing) for routes without any 5xx."""
    return ratio_or_zero(rate(COUNT, SERVER_ERRORS, by), rate(COUNT, SELECTOR, by))


def latency(q: float, by: str = "") -> str:
    """The ``q`` quantile of request duration."""
    return quantile(q, DURATION, SELECTOR, by)


def _headline() -> Section:
    """Is it broken, since when, and which route: the questions on-call asks first."""
    by_route = "{{" + ROUTE + "}}"
    return Section(
        "Golden signals: is it broken, since when, which route?",
        [
            Cell(
                stat(
                    "Request rate",
                    "Requests per second served by the selected instances, every route. No "
                    "target: the graph shows a drop or a surge and when it began.",
                    "reqps",
                    [Query(rate(COUNT, SELECTOR))],
                    thresholds=steps("blue"),
                    graph=True,
                    links=[LOGS],
                ),
                3,
                6,
            ),
            Cell(
                stat(
                    "Error ratio",
                    "Share of requests answered with a 5xx status, every route. " + ERROR_TEXT,
                    "percentunit",
                    [Query(error_ratio())],
                    thresholds=steps("green", *ERROR_STEPS),
                    graph=True,
                    background=True,
                    decimals=2,
                    links=[LOGS],
                ),
                4,
                6,
            ),
            Cell(
                bargauge(
                    "Error ratio by route",
                    "Share of each route's requests answered with a 5xx status, now. "
                    + ERROR_TEXT
                    + " AI queries share one route: their failures by agent type are on the "
                    "Business KPIs dashboard.",
                    "percentunit",
                    [Query(error_ratio(ROUTE), by_route, instant=True)],
                    thresholds=steps("green", *ERROR_STEPS),
                    links=[BY_AGENT],
                ),
                7,
                6,
            ),
            Cell(
                stat(
                    "p95 latency",
                    "95th percentile of request duration over every route. " + LATENCY_TEXT,
                    "s",
                    [Query(latency(0.95))],
                    thresholds=steps("green", *LATENCY_STEPS),
                    graph=True,
                ),
                3,
                6,
            ),
            Cell(
                bargauge(
                    "p95 latency by route",
                    "95th percentile of each route's request duration, now. " + LATENCY_TEXT,
                    "s",
                    [Query(latency(0.95, ROUTE), by_route, instant=True)],
                    thresholds=steps("green", *LATENCY_STEPS),
                ),
                7,
                6,
            ),
        ],
    )


def _traffic() -> Section:
    return Section(
        "Traffic and errors",
        [
            Cell(
                timeseries(
                    "Request rate per route",
                    "Requests per second by route template. Unmatched paths share one "
                    f"route value ({naming.UNMATCHED_ROUTE!r}) so scanners add no series.",
                    "reqps",
                    [Query(rate(COUNT, SELECTOR, ROUTE), "{{" + ROUTE + "}}")],
                    legend_calcs=("mean", "max"),
                ),
                12,
            ),
            Cell(
                timeseries(
                    "Responses by status code",
                    "Requests per second by HTTP status code, stacked.",
                    "reqps",
                    [Query(rate(COUNT, SELECTOR, STATUS), "{{" + STATUS + "}}")],
                    stacked=True,
                ),
                12,
            ),
            Cell(
                timeseries(
                    "Error ratio per route",
                    "Share of each route's requests answered with a 5xx status over time: "
                    "since when a route fails, with the thresholds dashed. " + ERROR_TEXT,
                    "percentunit",
                    [Query(error_ratio(ROUTE), "{{" + ROUTE + "}}")],
                    minimum=0,
                    thresholds=steps("green", *ERROR_STEPS),
                    threshold_lines=True,
                    legend_calcs=("mean", "max"),
                ),
                24,
            ),
        ],
    )


def _latency() -> Section:
    return Section(
        "Latency",
        [
            Cell(
                timeseries(
                    "Request duration p50 / p95 / p99",
                    "Percentiles of request duration over every route. The dots are exemplars: "
                    "click one to open its trace in Jaeger. The dashed line is the plan's p95 "
                    f"target, {LATENCY_P95_TARGET * 1000:g} ms.",
                    "s",
                    [
                        Query(latency(0.5), "p50", exemplar=True),
                        Query(latency(0.95), "p95"),
                        Query(latency(0.99), "p99"),
                    ],
                    thresholds=steps("green", *LATENCY_STEPS),
                    threshold_lines=True,
                ),
                12,
            ),
            Cell(
                timeseries(
                    "p95 duration per route",
                    "95th percentile of request duration by route template, with exemplars "
                    "that open the trace in Jaeger. The dashed line is the plan's p95 target, "
                    f"{LATENCY_P95_TARGET * 1000:g} ms, for interactive requests.",
                    "s",
                    [Query(latency(0.95, ROUTE), "{{" + ROUTE + "}}", exemplar=True)],
                    thresholds=steps("green", *LATENCY_STEPS),
                    threshold_lines=True,
                    legend_calcs=("mean", "max"),
                ),
                12,
            ),
        ],
    )


def _saturation() -> Section:
    return Section(
        "Saturation and payloads",
        [
            Cell(
                timeseries(
                    "In-flight requests by method",
                    "Requests being served, by HTTP method, summed over the selected instances.",
                    "short",
                    [
                        Query(
                            f"sum by ({METHOD}) ({ACTIVE}{{{SELECTOR}}})",
                            "{{" + METHOD + "}}",
                        )
                    ],
                    stacked=True,
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Instances serving",
                    "Instances of the service whose last scrape succeeded (up), out of the "
                    "instances selected.",
                    "short",
                    [
                        Query('sum(up{job="$job", instance=~"$instance"})', "up"),
                        Query('count(up{job="$job", instance=~"$instance"})', "selected"),
                    ],
                    minimum=0,
                ),
                8,
            ),
            Cell(
                timeseries(
                    "Response size p95 per route",
                    "95th percentile of response body size by route template.",
                    "bytes",
                    [
                        Query(
                            quantile(
                                0.95, naming.HTTP_SERVER_RESPONSE_BODY_SIZE.name, SELECTOR, ROUTE
                            ),
                            "{{" + ROUTE + "}}",
                        )
                    ],
                ),
                8,
            ),
        ],
    )


def build() -> Any:
    """The Service overview dashboard (grafanalib)."""
    job = query_variable(
        "job",
        "Service",
        f"label_values({COUNT}, job)",
        multi=False,
        include_all=False,
    )
    instance = query_variable(
        "instance", "Instance", f'label_values({COUNT}{{job="$job"}}, instance)'
    )
    return dashboard(
        SERVICE_OVERVIEW,
        "Rate, errors and duration of one instrumented service, per route, from the "
        "OpenTelemetry HTTP server metrics. Latency panels show exemplars linked to Jaeger.",
        [_headline(), _traffic(), _latency(), _saturation()],
        variables=[job, instance],
        time_from="now-3h",
    )
