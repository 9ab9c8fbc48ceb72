"""The middleware's server spans are the spans the SDK's ``start_span`` makes: the same ids
from the same random state, the same sampling decision, the same recorded span seen by the span
processors and the SDK's own span metrics; anything the shortcut does not know takes
``start_span``."""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    TracerProvider,
    sampling,
)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from obsstack.instrumentation import server_spans
from obsstack.instrumentation.server_spans import ServerSpans

ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "GET",
    "url.path": "/items/7",
    "server.port": 8000,
    "user_agent.original": "curl/8.5",
}
SAMPLERS = {
    "always_on": lambda: sampling.ALWAYS_ON,
    "always_off": lambda: sampling.ALWAYS_OFF,
    "traceidratio": lambda: sampling.TraceIdRatioBased(0.5),
    "parentbased_traceidratio": lambda: sampling.ParentBasedTraceIdRatio(0.5),
    "parentbased_always_on": lambda: sampling.ParentBased(sampling.ALWAYS_ON),
    "parentbased_always_off": lambda: sampling.ParentBased(sampling.ALWAYS_OFF),
    "parentbased_inverted": lambda: sampling.ParentBased(
        sampling.TraceIdRatioBased(0.25),
        remote_parent_sampled=sampling.ALWAYS_OFF,
        remote_parent_not_sampled=sampling.ALWAYS_ON,
    ),
}
STATE = TraceState([("vendor", "x1")])
PARENTS = {
    "none": None,
    "remote sampled": SpanContext(0xA1, 0xB1, True, TraceFlags(0x03), STATE),
    "remote not sampled": SpanContext(0xA2, 0xB2, True, TraceFlags(0x00), STATE),
    "local sampled": SpanContext(0xA3, 0xB3, False, TraceFlags(0x01)),
    "local not sampled": SpanContext(0xA4, 0xB4, False, TraceFlags(0x02)),
}


def _provider(sampler: sampling.Sampler, **kwargs: Any) -> tuple[Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, resource=Resource.create({"a": 1}), **kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _context(parent: SpanContext | None) -> Context | None:
    return None if parent is None else trace.set_span_in_context(NonRecordingSpan(parent))


def _seen(span: Any) -> tuple[Any, ...]:
    """What a user or a span processor sees of a started span."""
    return (type(span), span.get_span_context(), span.is_recording())


def _finished(span: ReadableSpan) -> tuple[Any, ...]:
    return (
        span.name,
        span.context,
        span.parent,
        span.kind,
        list((span.attributes or {}).items()),
        span.dropped_attributes,
        span.resource,
        span.instrumentation_scope,
        span.status.status_code,
        span.events,
        span.links,
    )


@pytest.mark.parametrize("parent", PARENTS)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_the_same_span_as_start_span(sampler: str, parent: str) -> None:
    provider, exporter = _provider(SAMPLERS[sampler]())
    tracer = provider.get_tracer("obsstack.instrumentation", "1.0")
    spans = ServerSpans.for_tracer(tracer)
    assert spans is not None
    context = _context(PARENTS[parent])
    recorded = 0
    for seed in range(40):
        random.seed(seed)
        expected = tracer.start_span("GET", context, SpanKind.SERVER, ATTRIBUTES)
        random.seed(seed)
        made = spans.start("GET", context, lambda: dict(ATTRIBUTES))
        assert _seen(made) == _seen(expected)
        recorded += made.is_recording()
        for span in (expected, made):
            span.set_attribute("http.route", "/items/{id}")
            span.end()
    finished = exporter.get_finished_spans()
    assert [_finished(span) for span in finished[1::2]] == [
        _finished(span) for span in finished[::2]
    ]
    assert len(finished) == 2 * recorded


def _fields(made: Any) -> list[tuple[str, Any]]:
    """The fields of a span (or of its attributes, events or links) in the order they were set,
    locks and the inner lists shown by what they hold; times and end callbacks by their kind."""
    shown = []
    for key, value in vars(made).items():
        if isinstance(value, BoundedAttributes | BoundedList):
            value = (type(value), _fields(value))
        elif isinstance(value, deque):
            value = (list(value), value.maxlen)
        elif type(value) is type(threading.Lock()):
            value = ("lock", value.locked())
        elif key == "_start_time":
            value = type(value)
        elif key == "_record_end_metrics":
            value = value.__qualname__
        shown.append((key, value))
    return shown


@pytest.mark.parametrize(
    "limits",
    [SpanLimits(), SpanLimits(max_events=2, max_links=1, max_span_attribute_length=32)],
    ids=["default", "small"],
)
@pytest.mark.parametrize("parent", ["none", "remote sampled"])
@pytest.mark.parametrize("metrics", [False, True], ids=["", "sdk metrics"])
def test_a_recording_span_holds_the_fields_the_sdk_gives_it(
    limits: SpanLimits, parent: str, metrics: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if metrics:
        monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    provider, _exporter = _provider(
        sampling.ALWAYS_ON,
        span_limits=limits,
        meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
    )
    tracer = provider.get_tracer("obsstack.instrumentation", "1.0")
    spans = ServerSpans.for_tracer(tracer)
    assert spans is not None
    context = _context(PARENTS[parent])
    random.seed(5)
    expected: Any = tracer.start_span("GET", context, SpanKind.SERVER, ATTRIBUTES)
    random.seed(5)
    made: Any = spans.start("GET", context, lambda: dict(ATTRIBUTES))
    assert type(made) is type(expected)
    assert _fields(made) == _fields(expected)
    made.add_event("retry", {"attempt": 1})
    made.add_link(PARENTS["local sampled"])
    expected.add_event("retry", {"attempt": 1})
    expected.add_link(PARENTS["local sampled"])
    assert [(e.name, e.attributes) for e in made.events] == [
        (e.name, e.attributes) for e in expected.events
    ]
    assert [(link.context, link.attributes) for link in made.links] == [
        (link.context, link.attributes) for link in expected.links
    ]


@pytest.mark.parametrize(
    "limits",
    [
        SpanLimits(),
        SpanLimits(max_span_attributes=3),
        SpanLimits(max_span_attribute_length=4),
        SpanLimits(max_span_attributes=0),
    ],
    ids=["default", "three attributes", "values of four", "no attributes"],
)
@pytest.mark.parametrize(
    "values",
    [
        ATTRIBUTES,
        {**ATTRIBUTES, "flag": True, "ratio": 0.5, "port": None, "ids": [1, 2]},
        {"a": "x" * 300, "b": 7},
    ],
    ids=["server", "other types", "long"],
)
def test_attributes_are_kept_as_the_sdk_keeps_them(
    limits: SpanLimits, values: dict[str, Any]
) -> None:
    provider, exporter = _provider(sampling.ALWAYS_ON, span_limits=limits)
    tracer = provider.get_tracer("t")
    spans = ServerSpans.for_tracer(tracer)
    assert spans is not None
    for shortcut in (False, True):
        random.seed(1)
        if shortcut:
            span = spans.start("GET", None, lambda: dict(values))
        else:
            span = tracer.start_span("GET", None, SpanKind.SERVER, values)
        span.set_attribute("http.route", "/items/{id}")
        span.end()
    expected, made = exporter.get_finished_spans()
    assert _finished(made) == _finished(expected)


@pytest.mark.parametrize(
    "limits",
    [SpanLimits(), SpanLimits(max_span_attributes=5), SpanLimits(max_span_attribute_length=4)],
    ids=["default", "full at five", "values of four"],
)
@pytest.mark.parametrize(
    "values",
    [
        {"http.route": "/items/{id}", "http.response.status_code": 200, "url.path": "/x"},
        {"http.response.status_code": 500, "error.type": "ValueError", "retry": True},
    ],
    ids=["plain", "other types"],
)
def test_the_final_name_and_attributes_are_set_as_the_sdk_sets_them(
    limits: SpanLimits, values: dict[str, Any]
) -> None:
    provider, exporter = _provider(sampling.ALWAYS_ON, span_limits=limits)
    tracer = provider.get_tracer("t")
    for shortcut in (False, True):
        random.seed(1)
        span = tracer.start_span("GET", None, SpanKind.SERVER, ATTRIBUTES)
        if shortcut:
            server_spans.finish(span, "GET /items/{id}", dict(values))
        else:
            span.update_name("GET /items/{id}")
            span.set_attributes(values)
        span.end()
    expected, made = exporter.get_finished_spans()
    assert _finished(made) == _finished(expected)


def test_an_ended_span_keeps_its_name_and_attributes_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, exporter = _provider(sampling.ALWAYS_ON)
    span = provider.get_tracer("t").start_span("GET", None, SpanKind.SERVER, ATTRIBUTES)
    span.end()
    server_spans.finish(span, "GET /items/{id}", {"http.route": "/items/{id}"})
    [finished] = exporter.get_finished_spans()
    assert finished.name == "GET" and dict(finished.attributes or {}) == ATTRIBUTES
    assert [record.getMessage() for record in caplog.records] == [
        "Tried calling update_name on an ended span.",
        "Setting attribute on ended span.",
    ]


class _Seen(SpanProcessor):
    """Keeps what the span processors are handed when a span ends."""

    def __init__(self) -> None:
        self.ending: list[Any] = []
        self.ended: list[Any] = []

    def _on_ending(self, span: Any) -> None:
        self.ending.append(span)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


@pytest.mark.parametrize("metrics", [False, True], ids=["", "sdk metrics"])
def test_a_span_ends_as_the_sdk_ends_it(metrics: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if metrics:
        monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    reader = InMemoryMetricReader()
    provider, exporter = _provider(
        sampling.ALWAYS_ON, meter_provider=MeterProvider(metric_readers=[reader])
    )
    seen = _Seen()
    provider.add_span_processor(seen)
    tracer = provider.get_tracer("t")
    spans = []
    for shortcut in (False, True):
        random.seed(2)
        span: Any = tracer.start_span("GET", _context(PARENTS["remote sampled"]), SpanKind.SERVER)
        span.set_attribute("http.route", "/items/{id}")
        server_spans.end(span) if shortcut else span.end()
        spans.append(span)
    assert seen.ending == spans
    expected, made = seen.ended
    assert type(made) is type(expected) is ReadableSpan
    times: list[Any] = [made._end_time, made._start_time, expected._end_time, expected._start_time]
    assert [(key, value) for key, value in _fields(made) if key != "_end_time"] == [
        (key, value) for key, value in _fields(expected) if key != "_end_time"
    ]
    assert times == sorted(times, reverse=True) and all(times)
    assert made._events is spans[1]._events and made._attributes is spans[1]._attributes
    assert made._attributes._immutable
    assert len(exporter.get_finished_spans()) == 2
    if metrics:
        data = reader.get_metrics_data()
        assert data is not None
        live = [
            point.value
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "otel.sdk.span.live"
            for point in metric.data.data_points
            if isinstance(point, NumberDataPoint)
        ]
        assert live == [0]


def test_ending_an_ended_span_says_so_as_the_sdk_does(caplog: pytest.LogCaptureFixture) -> None:
    provider, exporter = _provider(sampling.ALWAYS_ON)
    span = provider.get_tracer("t").start_span("GET", None, SpanKind.SERVER)
    server_spans.end(span)
    server_spans.end(span)
    assert len(exporter.get_finished_spans()) == 1
    assert [record.getMessage() for record in caplog.records] == ["Calling end() on an ended span."]
    server_spans.end(trace.INVALID_SPAN)  # a span that does not record: nothing to end


def test_both_ways_of_deciding_sample_the_same_share() -> None:
    provider, _exporter = _provider(sampling.ParentBasedTraceIdRatio(0.1))
    spans = ServerSpans.for_tracer(provider.get_tracer("t"))
    assert spans is not None
    random.seed(7)
    sampled = sum(spans.start("GET", None, dict).is_recording() for _ in range(20_000))
    assert 1_800 < sampled < 2_200


def test_the_sdk_span_metrics_count_both_ways_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    counts = []
    for shortcut in (False, True):
        reader = InMemoryMetricReader()
        provider, _exporter = _provider(
            sampling.ParentBasedTraceIdRatio(0.5),
            meter_provider=MeterProvider(metric_readers=[reader]),
        )
        tracer = provider.get_tracer("t")
        spans = ServerSpans.for_tracer(tracer)
        assert spans is not None
        random.seed(3)
        for i in range(60):
            context = _context(list(PARENTS.values())[i % len(PARENTS)])
            if shortcut:
                spans.start("GET", context, dict).end()
            else:
                tracer.start_span("GET", context, SpanKind.SERVER, {}).end()
        data = reader.get_metrics_data()
        assert data is not None
        counts.append(
            sorted(
                (metric.name, tuple(sorted((point.attributes or {}).items())), point.value)
                for resource in data.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
                for point in metric.data.data_points
                if isinstance(point, NumberDataPoint)
            )
        )
    assert counts[0] == counts[1]
    assert any(name == "otel.sdk.span.started" for name, _attributes, _value in counts[0])


class _UserSampler(sampling.Sampler):
    def should_sample(self, *args: Any, **kwargs: Any) -> sampling.SamplingResult:
        return sampling.SamplingResult(sampling.Decision.RECORD_AND_SAMPLE, {"user": True})

    def get_description(self) -> str:
        return "user"


class _UserRatio(sampling.TraceIdRatioBased):
    def should_sample(self, *args: Any, **kwargs: Any) -> sampling.SamplingResult:
        return sampling.SamplingResult(sampling.Decision.RECORD_ONLY)


class _UserIds(RandomIdGenerator):
    def generate_span_id(self) -> int:
        return 42


@pytest.mark.parametrize(
    "provider",
    [
        lambda: TracerProvider(sampler=_UserSampler()),
        lambda: TracerProvider(sampler=sampling.ParentBased(_UserRatio(0.5))),
        lambda: TracerProvider(sampler=sampling.StaticSampler(sampling.Decision.RECORD_ONLY)),
        lambda: TracerProvider(id_generator=_UserIds()),
    ],
    ids=["sampler", "ratio subclass", "record only", "id generator"],
)
def test_what_the_shortcut_does_not_know_is_left_to_start_span(provider: Any) -> None:
    assert ServerSpans.for_tracer(provider().get_tracer("t")) is None


def test_another_sdk_is_left_to_start_span(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = TracerProvider().get_tracer("t")
    assert ServerSpans.for_tracer(tracer) is not None
    monkeypatch.setattr(server_spans, "_VERIFIED", "0" * 64)
    assert ServerSpans.for_tracer(tracer) is None
    assert ServerSpans.for_tracer(trace.NoOpTracer()) is None


def test_a_tracer_changed_after_the_start_takes_start_span() -> None:
    provider, exporter = _provider(sampling.ALWAYS_ON)
    tracer = provider.get_tracer("t")
    spans = ServerSpans.for_tracer(tracer)
    assert spans is not None
    tracer.sampler = _UserSampler()
    spans.start("GET", None, lambda: {"a": 1}).end()
    assert exporter.get_finished_spans()[0].attributes == {"user": True}
    tracer.sampler = spans.sampler
    tracer._set_tracer_config(tracer._tracer_config.__class__(is_enabled=False))
    assert spans.start("GET", None, lambda: {}).get_span_context().is_valid is False
