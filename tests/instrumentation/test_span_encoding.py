"""Spans written as OTLP protobuf by obsstack are the bytes the SDK's encoder makes, whatever
the span holds, written when they end or in a batch, and the exporters send them."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceFlags, TraceState

from obsstack.instrumentation import span_encoding
from obsstack.instrumentation.span_encoding import EncodedSpan, encode_spans
from obsstack.instrumentation.span_export import (
    EncodingBatchSpanProcessor,
    OtlpHttpSpanExporter,
    grpc_span_exporter,
)

SERVER_ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "GET",
    "url.path": "/items/7",
    "url.scheme": "http",
    "network.protocol.version": "1.1",
    "server.address": "127.0.0.1",
    "server.port": 8000,
    "client.address": "127.0.0.1",
    "user_agent.original": "curl/8.5",
}


def finished_spans(resource_attributes: dict[str, Any] | None = None) -> list[ReadableSpan]:
    """Spans with every kind of field: attribute types, events, links, statuses, parents."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource_attributes or {"a": 1}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("obsstack.instrumentation", "1.2.3")
    other = provider.get_tracer("other", None, schema_url="https://x/s", attributes={"k": True})
    with tracer.start_as_current_span("GET /items/{id}", kind=SpanKind.SERVER) as span:
        span.set_attributes(SERVER_ATTRIBUTES)
        span.set_attributes({"negative": -5, "big": 2**62, "no": False, "empty": "", "zero": 0.0})
        span.set_attributes({"ints": [1, 2], "texts": ["a", ""], "flags": [True], "nan": 1e300})
        span.set_attribute("long", "é" * 200)
        span.set_attribute("long.key." + "k" * 80, "v")
        span.add_event("checkpoint", {"step": "parse"})
        span.add_event("")
        span.record_exception(ValueError("boom"))
        span.set_status(Status(StatusCode.ERROR, "boom"))
        link = Link(SpanContext(1, 2, True, TraceFlags(1), TraceState([("a", "b")])), {"x": 1})
        with other.start_as_current_span("child", links=[link]) as child:
            child.set_status(Status(StatusCode.OK))
    remote = SpanContext(
        0xABC, 0xDEF, True, TraceFlags(1), TraceState([("vendor", "v1"), ("other", "v2")])
    )
    parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    with tracer.start_as_current_span("x" * 300, context=parent, kind=SpanKind.CLIENT):
        pass
    for kind in SpanKind:
        tracer.start_span("", kind=kind).end()
    return list(exporter.get_finished_spans())


def limited_spans() -> list[ReadableSpan]:
    """Spans over their limits, with dropped attributes, events and links."""
    exporter = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=2, max_events=1, max_links=1, max_attribute_length=3)
    provider = TracerProvider(span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    links = [Link(SpanContext(n, n, False)) for n in (1, 2, 3)]
    with provider.get_tracer("t").start_as_current_span("over", links=links) as span:
        span.set_attributes({"a": "long value", "b": 2, "c": [1, 2, 3]})
        span.add_event("first", {"x": "long value", "y": 1})
        span.add_event("second")
    return list(exporter.get_finished_spans())


class _OwnReadableSpan(ReadableSpan):
    """A span class of a user's or another library's: read through its properties."""


@pytest.mark.parametrize("read", ["fields", "properties", "subclass"])
def test_spans_are_the_bytes_of_the_sdk_encoder(read: str, monkeypatch: pytest.MonkeyPatch):
    spans = finished_spans() + limited_spans()
    if read == "properties":  # another SDK's ReadableSpan
        monkeypatch.setattr(span_encoding, "_READABLE_SPAN_VERIFIED", "0" * 64)
    elif read == "subclass":
        for span in spans:
            span.__class__ = _OwnReadableSpan
    span_encoding._reads_fields.cache_clear()
    try:
        assert span_encoding._reads_fields() is (read != "properties")
        assert encode_spans(spans) == sdk_encode(spans).SerializePartialToString()
    finally:
        span_encoding._reads_fields.cache_clear()


def test_a_large_resource_and_a_batch_of_server_spans_are_the_same_bytes_too():
    spans = finished_spans({"service.name": "s" * 200, "service.instance.id": "i"}) * 300
    assert encode_spans(spans) == sdk_encode(spans).SerializePartialToString()


def test_values_that_repeat_are_kept_a_bounded_number_and_every_span_is_the_sdks_bytes():
    """Kept pairs and span names are the first ones seen: a path per request fills them, the
    rest is written each time; 1 and True, equal in Python, stay an int and a bool."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("obsstack.instrumentation")
    for number in range(span_encoding._PAIRS_MAX + 500):
        with tracer.start_as_current_span(f"GET {number}", kind=SpanKind.SERVER) as span:
            span.set_attributes({**SERVER_ATTRIBUTES, "url.path": f"/items/{number}"})
            span.set_attributes({"n": 1, "flag": True, "zero": 0, "no": False})
    spans = list(exporter.get_finished_spans())
    for encoded, sdk in ((encode_spans(spans), sdk_encode(spans)), (encode_spans(spans[-3:]),
                         sdk_encode(spans[-3:]))):  # fmt: skip
        assert encoded == sdk.SerializePartialToString()
    assert len(span_encoding._pairs) == len(span_encoding._names) == span_encoding._PAIRS_MAX


def test_an_attribute_the_sdk_cannot_encode_is_left_out_as_the_sdk_does(caplog):
    [span] = [s for s in finished_spans() if s.name == "child"]
    unencodable: dict[str, Any] = {"fine": "yes", "huge": 2**70, "odd": object()}
    span._attributes = unencodable
    with caplog.at_level(logging.ERROR):
        encoded = encode_spans([span])
    assert encoded == sdk_encode([span]).SerializePartialToString()
    assert "Failed to encode key huge" in caplog.text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_grpc_exporter_sends_the_request_the_sdk_would():
    spans = finished_spans()
    request = grpc_span_exporter()._translate_data(spans)  # type: ignore[attr-defined]
    assert isinstance(request, ExportTraceServiceRequest)
    assert request == sdk_encode(spans)


def test_the_batch_processor_queues_spans_written_when_they_end():
    """What the exporter sends is what the SDK's encoder makes of the same spans."""
    sent: list[bytes] = []

    class Exporter(OtlpHttpSpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            assert all(isinstance(span, EncodedSpan) for span in spans)
            sent.append(encode_spans(spans))
            return SpanExportResult.SUCCESS

    exporter = Exporter(endpoint="http://127.0.0.1:9/v1/traces")
    assert exporter.takes_encoded_spans
    kept = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "s"}))
    provider.add_span_processor(EncodingBatchSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("obsstack.instrumentation")
    for number in range(3):
        with tracer.start_as_current_span(f"GET /{number}", attributes=SERVER_ATTRIBUTES):
            pass
    provider.force_flush()
    assert b"".join(sent) == sdk_encode(kept.get_finished_spans()).SerializePartialToString()
    provider.shutdown()
