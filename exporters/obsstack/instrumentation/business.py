"""The platform's business metrics, for the services that serve AI queries and code reviews.

Every query counts in ``ai_queries_total``; the failed ones also in ``ai_query_failures_total``
(two counters, not a result label: the error ratio is failures / queries); durations carry
the trace id as an exemplar when the query ran in a sampled trace. Agent types, review
results and tenants are bounded by :class:`LabelCap`, whose tenant limit is exported.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from obsstack.core import naming
from obsstack.core.cardinality import LabelCap

DEFAULT_AI_DURATION_BUCKETS: tuple[float, ...] = (
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0,
)  # fmt: skip
DEFAULT_TENANT_CAP = 50
_AGENT_TYPE_CAP = 32  # the platform has ten agents; room for more, not for arbitrary strings
_RESULT_CAP = 16


def _counter(spec: naming.MetricSpec, registry: CollectorRegistry) -> Counter:
    return Counter(spec.family, spec.help, list(spec.labels), registry=registry)


class BusinessMetrics:
    """Counters and gauges of the AI SaaS platform, named by :mod:`obsstack.core.naming`."""

    def __init__(
        self,
        registry: CollectorRegistry = REGISTRY,
        *,
        tenant_cap: int = DEFAULT_TENANT_CAP,
        pinned_tenants: Iterable[str] = (),
        ai_duration_buckets: Sequence[float] = DEFAULT_AI_DURATION_BUCKETS,
    ) -> None:
        self.ai_queries = _counter(naming.AI_QUERIES, registry)
        self.ai_query_failures = _counter(naming.AI_QUERY_FAILURES, registry)
        self.ai_query_duration = Histogram(
            naming.AI_QUERY_DURATION.name,
            naming.AI_QUERY_DURATION.help,
            list(naming.AI_QUERY_DURATION.labels),
            registry=registry,
            buckets=ai_duration_buckets,
        )
        self.code_reviews = _counter(naming.CODE_REVIEWS, registry)
        self.active_users = Gauge(
            naming.ACTIVE_USERS.name,
            naming.ACTIVE_USERS.help,
            registry=registry,
            multiprocess_mode="livemax",  # every worker reads the same shared value
        )
        self.tenant_requests = _counter(naming.TENANT_REQUESTS, registry)
        self.tenant_label_cap = Gauge(
            naming.TENANT_LABEL_CAP.name,
            naming.TENANT_LABEL_CAP.help,
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.tenant_label_cap.set(tenant_cap)
        self.tenants = LabelCap(tenant_cap, pinned_tenants)
        self.agent_types = LabelCap(_AGENT_TYPE_CAP)
        self.results = LabelCap(_RESULT_CAP)

    def declare(self, agent_types: Iterable[str] = (), review_results: Iterable[str] = ()) -> None:
        """Export the known label values at 0 before the first event, so rates start at 0."""
        for agent_type in agent_types:
            label = self.agent_types(agent_type)
            self.ai_queries.labels(label)
            self.ai_query_failures.labels(label)
            self.ai_query_duration.labels(label)
        for result in review_results:
            self.code_reviews.labels(self.results(result))

    def record_ai_query(self, agent_type: str, duration: float, *, failed: bool = False) -> None:
        """One AI query of ``agent_type`` that took ``duration`` seconds."""
        label = self.agent_types(agent_type)
        self.ai_queries.labels(label).inc()
        failures = self.ai_query_failures.labels(label)  # present at 0, for failure ratios
        if failed:
            failures.inc()
        # The trace of a slow query is one click away from the latency panel.
        context = trace.get_current_span().get_span_context()
        exemplar = (
            {"trace_id": trace.format_trace_id(context.trace_id)}
            if context.is_valid and context.trace_flags.sampled
            else None
        )
        self.ai_query_duration.labels(label).observe(duration, exemplar)

    @contextmanager
    def ai_query(self, agent_type: str) -> Iterator[None]:
        """Time the block as one AI query; an exception escaping it counts as a failure."""
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            self.record_ai_query(agent_type, time.perf_counter() - started, failed=True)
            raise
        self.record_ai_query(agent_type, time.perf_counter() - started)

    def record_code_review(self, result: str) -> None:
        """One finished code review (``approved``, ``changes_requested``, ``failed``...)."""
        self.code_reviews.labels(self.results(result)).inc()

    def set_active_users(self, count: int) -> None:
        self.active_users.set(count)

    def record_tenant_request(self, tenant: str) -> str:
        """Count one request of ``tenant``; returns the label used (``other`` past the cap)."""
        label = self.tenants(tenant)
        self.tenant_requests.labels(label).inc()
        return label
