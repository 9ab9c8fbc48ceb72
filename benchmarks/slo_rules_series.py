"""Synthetic API services for the SLO rule benchmark, served over HTTP for Prometheus to scrape.

Each service has 3 instances (targets); each instance exposes the OpenTelemetry HTTP histogram
``http_server_request_duration_seconds`` for 20 routes x 5 status codes, with the 14 default
bucket bounds plus ``+Inf`` and ``_count``: 1600 series per target. Counters grow with wall time
at fixed per-series rates; a service can be switched into an error burst (5 % of requests 5xx)
or a latency burst (90 % slower than 100 ms) from a given time on.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporters import naming
from exporters.instrumentation import DEFAULT_DURATION_BUCKETS

ROUTES = 20
INSTANCES = 3
CODES = {"200": 0.90, "201": 0.05, "404": 0.0495, "500": 0.0003, "503": 0.0002}
METRIC = naming.HTTP_SERVER_REQUEST_DURATION.name
BOUNDS = (*(repr(float(b)) for b in DEFAULT_DURATION_BUCKETS), "+Inf")


def _cdf(seconds: float, median: float) -> float:
    """Share of requests faster than ``seconds`` (log-normal latency, sigma 0.6)."""
    if math.isinf(seconds):
        return 1.0
    return 0.5 * (1 + math.erf(math.log(seconds / median) / (0.6 * math.sqrt(2))))


@dataclass
class Service:
    name: str
    requests_per_second: float
    error_burst_at: float = math.inf
    latency_burst_at: float = math.inf
    lines: dict[int, list[tuple[str, float, float, float]]] = field(default_factory=dict)

    def build(self) -> None:
        """Per instance: (series text, rate before a burst, extra rate after, burst start)."""
        weights = [1 / (r + 1) for r in range(ROUTES)]
        scale = self.requests_per_second / INSTANCES / sum(weights)
        for instance in range(INSTANCES):
            out = []
            for route in range(ROUTES):
                median = 0.02 + 0.002 * route
                for code, share in CODES.items():
                    rate = weights[route] * scale * share
                    labels = (
                        f'http_request_method="GET",http_route="/v1/r{route:02d}",'
                        f'http_response_status_code="{code}"'
                    )
                    # The error burst: 5 % more traffic, all answered 500 (as fast as usual).
                    errors = weights[route] * scale * 0.05 if code == "500" else 0.0
                    out.append((f"{METRIC}_count{{{labels}}}", rate, errors, self.error_burst_at))
                    for bound in BOUNDS:
                        fast = _cdf(float(bound), median)
                        line = f'{METRIC}_bucket{{{labels},le="{bound}"}}'
                        if errors and self.error_burst_at < math.inf:
                            out.append((line, rate * fast, errors * fast, self.error_burst_at))
                            continue
                        slow = _cdf(float(bound), 2.0)  # the latency burst: 90 %+ over 100 ms
                        burst = (line, rate * fast, rate * (slow - fast), self.latency_burst_at)
                        out.append(burst)
            self.lines[instance] = out

    def exposition(self, instance: int, elapsed: float) -> bytes:
        parts = []
        for line, rate, extra, burst_at in self.lines[instance]:
            value = rate * elapsed + (extra * (elapsed - burst_at) if elapsed > burst_at else 0)
            parts.append(f"{line} {value:.3f}\n")
        return "".join(parts).encode()


class Fleet:
    """The services, and an HTTP server exposing ``/metrics/<service>/<instance>``."""

    def __init__(self, services: list[Service]) -> None:
        self.services = {s.name: s for s in services}
        for service in services:
            service.build()
        self.started = time.monotonic()
        self.server: ThreadingHTTPServer | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def serve(self, port: int) -> None:
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                _, _, name, instance = self.path.split("/")
                body = fleet.services[name].exposition(int(instance), fleet.elapsed())
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
        jobs = []
        for name in self.services:
            targets = [
                {
                    "targets": [f"127.0.0.1:{port}"],
                    "labels": {
                        "__metrics_path__": f"/metrics/{name}/{i}",
                        "instance": f"{name}-{i}",
                    },
                }
                for i in range(INSTANCES)
            ]
            jobs.append({"job_name": name, "static_configs": targets})
        return jobs
