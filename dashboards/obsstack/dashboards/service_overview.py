"""Service overview: rate, errors and duration (RED) of one instrumented FastAPI service.

Everything comes from the OpenTelemetry HTTP server metrics that ``instrument_app`` exports
(``http_server_request_duration_seconds`` and friends), per route template.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from obsstack.core import naming
from obsstack.dashboards.conventions import LOKI_UID, SERVICE_OVERVIEW
from obsstack.dashboards.layout import Cell, Section, dashboard, query_variable
from obsstack.dashboards.panels import Query, link, stat, steps, timeseries
from obsstack.dashboards.promql import quantile, rate, ratio_or_zero

DURATION = naming.HTTP_SERVER_REQUEST_DURATION.name
COUNT = f"{DURATION}_count"
ACTIVE = naming.HTTP_SERVER_ACTIVE_REQUESTS.name
ROUTE = naming.HTTP_ROUTE
STATUS = naming.HTTP_RESPONSE_STATUS_CODE
METHOD = naming.HTTP_REQUEST_METHOD
SELECTOR = 'job="$job", instance=~"$instance"'
SERVER_ERRORS = f'{SELECTOR}, {STATUS}=~"5.."'

# Error ratio targets for colouring: 1 % is worth a look, 5 % is an incident.
ERROR_STEPS = (0.01, "orange"), (0.05, "red")


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


def error_ratio(by: str = "") -> str:
    """5xx responses over all responses; 0 (not missing) for routes without any 5xx."""
    return ratio_or_zero(rate(COUNT, SERVER_ERRORS, by), rate(COUNT, SELECTOR, by))


def latency(q: float, by: str = "") -> str:
    """The ``q`` quantile of request duration."""
    return quantile(q, DURATION, SELECTOR, by)


def _headline() -> Section:
    return Section(
        "Golden signals",
        [
            Cell(
                stat(
                    "Request rate",
                    "Requests per second served by the selected instances, every route.",
                    "reqps",
                    [Query(rate(COUNT, SELECTOR))],
                    graph=True,
                    links=[LOGS],
                ),
                6,
                5,
            ),
            Cell(
                stat(
                    "Error ratio",
                    "Share of requests answered with a 5xx status. Orange from 1 %, red from 5 %.",
                    "percentunit",
                    [Query(error_ratio())],
                    thresholds=steps("green", *ERROR_STEPS),
                    graph=True,
                    decimals=2,
                    links=[LOGS],
                ),
                6,
                5,
            ),
            Cell(
                stat(
                    "p95 latency",
                    "95th percentile of request duration over every route.",
                    "s",
                    [Query(latency(0.95))],
                    thresholds=steps("green", (0.1, "orange"), (0.5, "red")),
                    graph=True,
                ),
                6,
                5,
            ),
            Cell(
                stat(
                    "In-flight requests",
                    "Requests being served right now (http_server_active_requests).",
                    "short",
                    [Query(f"sum({ACTIVE}{{{SELECTOR}}})")],
                    graph=True,
                ),
                6,
                5,
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
                    "Share of each route's requests answered with a 5xx status; the dashed "
                    "lines mark 1 % and 5 %.",
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
                    "click one to open its trace in Jaeger.",
                    "s",
                    [
                        Query(latency(0.5), "p50", exemplar=True),
                        Query(latency(0.95), "p95"),
                        Query(latency(0.99), "p99"),
                    ],
                ),
                12,
            ),
            Cell(
                timeseries(
                    "p95 duration per route",
                    "95th percentile of request duration by route template, with exemplars "
                    "that open the trace in Jaeger.",
                    "s",
                    [Query(latency(0.95, ROUTE), "{{" + ROUTE + "}}", exemplar=True)],
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
