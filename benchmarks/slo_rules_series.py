"""Synthetic API services for the SLO rule benchmark, served over HTTP for Prometheus to scrape.

Each service has 3 instances (targets); each instance exposes the OpenTelemetry HTTP histogram
``http_server_request_duration_seconds`` for a number of routes x 5 status codes, with the 14
default bucket bounds plus ``+Inf`` and ``_count``: 80 series per route and target. Traffic is
steady: every counter grows at a fixed rate from the fleet's ``origin`` (a wall-clock time), so
the value of a series at any time, past or present, is ``rate * (time - origin)``, exposed with
its timestamp (Prometheus honours exposed timestamps by default). The backfilled history
(:mod:`benchmarks.slo_rules_backfill`) and the live scrapes are one series, without a reset.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from obsstack.core import naming
from obsstack.instrumentation import DEFAULT_DURATION_BUCKETS

INSTANCES = 3
CODES = {"200": 0.90, "201": 0.05, "404": 0.0495, "500": 0.0003, "503": 0.0002}
METRIC = naming.HTTP_SERVER_REQUEST_DURATION.name
BOUNDS = (*(repr(float(b)) for b in DEFAULT_DURATION_BUCKETS), "+Inf")


def _cdf(seconds: float, median: float) -> float:
    """Share of requests faster than ``seconds`` (log-normal latency, sigma 0.6)."""
    if math.isinf(seconds):
        return 1.0
    return 0.5 * (1 + math.erf(math.log(seconds / median) / (0.6 * math.sqrt(2))))


@dataclass(frozen=True)
class Series:
    """One counter series of a target: name, labels as the exporter writes them, rate per s."""

    name: str
    labels: tuple[tuple[str, str], ...]
    rate: float

    def text(self, extra: tuple[tuple[str, str], ...] = ()) -> str:
        """``name{labels}``, with ``extra`` labels (job, instance) first."""
        inner = ",".join(f'{k}="{v}"' for k, v in extra + self.labels)
        return f"{self.name}{{{inner}}}"


@dataclass(frozen=True)
class Target:
    """One instance of a service: its scrape labels and its series."""

    job: str
    instance: str
    series: tuple[Series, ...]

    @property
    def target_labels(self) -> tuple[tuple[str, str], ...]:
        """The labels Prometheus adds to every scraped series of this target."""
        return (("job", self.job), ("instance", self.instance))

    def exposition(self, millis: int, origin: float) -> bytes:
        """The target's metrics at ``millis`` (ms since the epoch), in text format.

        Each sample carries that timestamp: the value is exact at it, however late the
        scrape reaches the handler (a busy machine delays it by up to a second, which would
        skew a 5m rate by a few tenths of a percent).
        """
        age, stamp = millis / 1000 - origin, f" {millis}\n"
        return "".join(f"{s.text()} {s.rate * age:.6f}{stamp}" for s in self.series).encode()


def service_targets(name: str, requests_per_second: float, routes: int) -> list[Target]:
    """The targets of one service: its traffic spread over instances, routes and codes.

    Routes get a 1/rank share of the traffic and a slower median latency the higher the rank.
    """
    weights = [1 / (r + 1) for r in range(routes)]
    scale = requests_per_second / INSTANCES / sum(weights)
    targets = []
    for instance in range(INSTANCES):
        series = []
        for route in range(routes):
            median = 0.02 + 0.002 * route
            for code, share in CODES.items():
                rate = weights[route] * scale * share
                labels = (
                    ("http_request_method", "GET"),
                    ("http_route", f"/v1/r{route:02d}"),
                    ("http_response_status_code", code),
                )
                series.append(Series(f"{METRIC}_count", labels, rate))
                for bound in BOUNDS:
                    fast = rate * _cdf(float(bound), median)
                    series.append(Series(f"{METRIC}_bucket", (*labels, ("le", bound)), fast))
        targets.append(Target(name, f"{name}-{instance}", tuple(series)))
    return targets


class Fleet:
    """The services' targets, and an HTTP server exposing ``/metrics/<instance>``."""

    def __init__(self, services: dict[str, float], routes: int, origin: float) -> None:
        """``services``: name -> requests per second; ``origin``: when every counter was 0."""
        self.targets = {
            t.instance: t
            for name, rps in services.items()
            for t in service_targets(name, rps, routes)
        }
        self.origin = origin
        self.server: ThreadingHTTPServer | None = None

    def series(self) -> Iterator[tuple[Target, Series]]:
        for target in self.targets.values():
            for series in target.series:
                yield target, series

    def serve(self, port: int) -> None:
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target = fleet.targets[self.path.rpartition("/")[2]]
                body = target.exposition(int(time.time() * 1000), fleet.origin)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def scrape_configs(self, port: int) -> list[dict[str, Any]]:
        """One job per service, one target per instance (path and instance label set)."""
        jobs: dict[str, list[dict[str, Any]]] = {}
        for target in self.targets.values():
            jobs.setdefault(target.job, []).append(
                {
                    "targets": [f"127.0.0.1:{port}"],
                    "labels": {
                        "__metrics_path__": f"/metrics/{target.instance}",
                        "instance": target.instance,
                    },
                }
            )
        return [{"job_name": job, "static_configs": configs} for job, configs in jobs.items()]
