"""The RED metrics of an HTTP server, with OpenTelemetry semantic-convention names and labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram

from obsstack.core import naming
from obsstack.instrumentation.loop_metrics import LoopCollector, LoopFamily

# Resolve the usual latency objectives (100 ms, 250 ms, 500 ms, 1 s): the OpenTelemetry
# recommendation for http.server.request.duration.
DEFAULT_DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
DEFAULT_SIZE_BUCKETS: tuple[float, ...] = tuple(float(4**n) for n in range(3, 13))  # 64 B..16 MiB

# Methods outside this set are counted as _OTHER, so a scanner cannot invent label values.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
OTHER_METHOD = "_OTHER"


def check_buckets(buckets: Sequence[float]) -> tuple[float, ...]:
    """Sorted, positive, distinct bucket bounds; ValueError otherwise."""
    bounds = tuple(float(b) for b in buckets)
    if not bounds or any(b <= 0 for b in bounds) or list(bounds) != sorted(set(bounds)):
        raise ValueError(f"buckets must be increasing positive numbers (got {list(buckets)})")
    return bounds


def _client_histogram(
    spec: naming.MetricSpec, registry: CollectorRegistry, buckets: Sequence[float]
) -> Histogram:
    return Histogram(spec.name, spec.help, list(spec.labels), registry=registry, buckets=buckets)


class HttpMetrics:
    """The server metrics, with their labelled series cached for the hot path.

    In one process they are lock-free loop metrics (see :mod:`loop_metrics`); in multi-process
    mode prometheus-client's, whose values live in the shared directory.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        duration_buckets: Sequence[float] = DEFAULT_DURATION_BUCKETS,
        size_buckets: Sequence[float] = DEFAULT_SIZE_BUCKETS,
        *,
        multiprocess: bool = False,
    ) -> None:
        durations, sizes = check_buckets(duration_buckets), check_buckets(size_buckets)
        self.duration: Any
        self.request_size: Any
        self.response_size: Any
        self.active: Any
        if multiprocess:
            self.duration = _client_histogram(
                naming.HTTP_SERVER_REQUEST_DURATION, registry, durations
            )
            self.request_size = _client_histogram(
                naming.HTTP_SERVER_REQUEST_BODY_SIZE, registry, sizes
            )
            self.response_size = _client_histogram(
                naming.HTTP_SERVER_RESPONSE_BODY_SIZE, registry, sizes
            )
            self.active = Gauge(
                naming.HTTP_SERVER_ACTIVE_REQUESTS.name,
                naming.HTTP_SERVER_ACTIVE_REQUESTS.help,
                list(naming.HTTP_SERVER_ACTIVE_REQUESTS.labels),
                registry=registry,
                multiprocess_mode="livesum",
            )
        else:
            self.duration = LoopFamily(naming.HTTP_SERVER_REQUEST_DURATION, durations)
            self.request_size = LoopFamily(naming.HTTP_SERVER_REQUEST_BODY_SIZE, sizes)
            self.response_size = LoopFamily(naming.HTTP_SERVER_RESPONSE_BODY_SIZE, sizes)
            self.active = LoopFamily(naming.HTTP_SERVER_ACTIVE_REQUESTS)
            registry.register(
                LoopCollector([self.duration, self.active, self.request_size, self.response_size])
            )
        self._finished: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._active: dict[str, Any] = {}
        self._request_size: dict[tuple[str, str], Any] = {}

    def active_child(self, method: str) -> Any:
        child = self._active.get(method)
        if child is None:
            child = self._active[method] = self.active.labels(method)
        return child

    def finished_children(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """(duration series, response size series) for one label set."""
        key = (method, route, status)
        children = self._finished.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (self.duration.labels(*labels), self.response_size.labels(*labels))
            self._finished[key] = children
        return children

    def request_size_child(self, method: str, route: str) -> Any:
        key = (method, route)
        child = self._request_size.get(key)
        if child is None:
            child = self._request_size[key] = self.request_size.labels(method, route)
        return child
