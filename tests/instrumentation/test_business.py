"""Business metric helpers: names from the naming module, bounded labels, the exported cap."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from obsstack.core import naming
from obsstack.instrumentation import BusinessMetrics, LabelCap, RankedCap
from tests.instrumentation.helpers import samples


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_the_tenant_cap_holds_and_is_exported():
    registry = CollectorRegistry()
    business = BusinessMetrics(registry, tenant_cap=3, pinned_tenants=["big-corp"])
    for n in range(40):
        business.record_tenant_request(f"tenant-{n % 10}")
    business.record_tenant_request("big-corp")

    text = exposition(registry)
    counts = {dict(k)[naming.TENANT]: v for k, v in samples(text, "tenant_requests_total").items()}
    assert counts == {"big-corp": 1, "tenant-0": 4, "tenant-1": 4, naming.OTHER_TENANT: 32}
    assert samples(text, naming.TENANT_LABEL_CAP.name) == {(): 3}


def test_ai_queries_count_every_query_and_failures_apart():
    registry = CollectorRegistry()
    business = BusinessMetrics(registry)
    with business.ai_query("code_assistant"):
        pass
    with pytest.raises(TimeoutError), business.ai_query("code_assistant"):
        raise TimeoutError("model API timed out")
    business.record_ai_query("planner", 2.5)

    text = exposition(registry)
    agent = naming.AGENT_TYPE
    assert samples(text, naming.AI_QUERIES.name) == {
        ((agent, "code_assistant"),): 2,
        ((agent, "planner"),): 1,
    }
    # Present at 0 for every agent seen, so failure ratios exist before the first failure.
    assert samples(text, naming.AI_QUERY_FAILURES.name) == {
        ((agent, "code_assistant"),): 1,
        ((agent, "planner"),): 0,
    }
    assert samples(text, naming.AI_QUERY_DURATION.name + "_sum")[((agent, "planner"),)] == 2.5


def test_declared_labels_are_exported_at_zero():
    registry = CollectorRegistry()
    BusinessMetrics(registry).declare(["planner"], ["approved"])
    text = exposition(registry)
    assert samples(text, naming.AI_QUERIES.name) == {((naming.AGENT_TYPE, "planner"),): 0}
    assert samples(text, naming.AI_QUERY_FAILURES.name) == {((naming.AGENT_TYPE, "planner"),): 0}
    assert samples(text, naming.CODE_REVIEWS.name) == {((naming.RESULT, "approved"),): 0}


def test_code_reviews_and_active_users():
    registry = CollectorRegistry()
    business = BusinessMetrics(registry)
    business.record_code_review("approved")
    business.record_code_review("approved")
    business.record_code_review("changes_requested")
    business.set_active_users(17)

    text = exposition(registry)
    assert samples(text, naming.CODE_REVIEWS.name) == {
        ((naming.RESULT, "approved"),): 2,
        ((naming.RESULT, "changes_requested"),): 1,
    }
    assert samples(text, naming.ACTIVE_USERS.name) == {(): 17}


def test_agent_types_from_user_input_cannot_grow_the_series_without_bound():
    registry = CollectorRegistry()
    business = BusinessMetrics(registry)
    for n in range(500):
        business.record_ai_query(f"agent-{n}", 0.1)
    assert len(samples(exposition(registry), naming.AI_QUERIES.name)) <= 33


def test_a_label_keeps_its_value_once_admitted():
    cap = LabelCap(2)
    admitted = [cap(v) for v in ("a", "b", "c", "a", "d", "b")]
    assert admitted == ["a", "b", "other", "a", "other", "b"]


def test_ranked_cap_keeps_the_largest_and_sums_the_rest():
    cap = RankedCap(2)
    first = cap.apply([(("t1",), 5.0), (("t2",), 50.0), (("t3",), 20.0), (("t4",), 1.0)])
    assert first == {("t2",): 50.0, ("t3",): 20.0, ("other",): 6.0}
    # t1 grew past t3, but t3 keeps its slot while it is present: no series flaps.
    second = cap.apply([(("t1",), 90.0), (("t2",), 60.0), (("t3",), 21.0)])
    assert second == {("t2",): 60.0, ("t3",): 21.0, ("other",): 90.0}
    # t3 vanished: its slot goes to the largest newcomer.
    third = cap.apply([(("t1",), 95.0), (("t2",), 61.0), (("t4",), 2.0)])
    assert third == {("t1",): 95.0, ("t2",): 61.0, ("other",): 2.0}


def test_ai_query_durations_carry_the_trace_id_as_an_exemplar():
    from opentelemetry.sdk.trace import TracerProvider
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

    registry = CollectorRegistry()
    business = BusinessMetrics(registry)
    with TracerProvider().get_tracer("test").start_as_current_span("query") as span:
        business.record_ai_query("planner", 2.5)
    trace_id = f"{span.get_span_context().trace_id:032x}"
    text = openmetrics(registry).decode()
    bucket = 'ai_query_duration_seconds_bucket{agent_type="planner",le="3.0"} 1.0'
    assert f'{bucket} # {{trace_id="{trace_id}"}} 2.5' in text
