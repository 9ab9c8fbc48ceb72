"""OTLP span export: each sampled span is written to protobuf when it ends
(:mod:`span_encoding`), and the SDK's batch processor sends the bytes from its thread.

Written when it ends, a span costs its encoding once (about 10 us, a third of the SDK's
encoder) on the thread that ended it, spread over the requests; the SDK's processor had its
thread encode a whole batch in one go (512 spans, about 17 ms under the GIL) while the event
loop waited, and its queue held the span objects, where it now holds one small tuple a span.
Everything else is the SDK's: the ``OTEL_BSP_*`` settings, endpoint, headers, timeout,
compression, retries, the request size limit and the exporter's own metrics. An SDK built
differently from the one this was written against (opentelemetry-sdk and the OTLP exporters
1.45) keeps its own path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from obsstack.instrumentation.span_encoding import EncodedSpan, encode_span, encode_spans

_logger = logging.getLogger("obsstack.tracing")


class OtlpHttpSpanExporter(HttpSpanExporter):
    """OTLP/HTTP (protobuf) span exporter, taking spans or spans already written."""

    @property
    def takes_encoded_spans(self) -> bool:
        """Whether the SDK's exporter has the parts this one sends with."""
        return (
            getattr(self, "_client", None) is not None
            and getattr(self, "_metrics", None) is not None
            and isinstance(getattr(self, "_max_request_size", None), int)
        )

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        if self._shutdown or not self.takes_encoded_spans:
            return super().export(spans)
        limit: int = self._max_request_size
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = encode_spans(spans)
            except Exception as error:
                _logger.error("Failed to encode span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if 0 < limit < len(data):
                _logger.warning(
                    "Dropping span batch: serialized size %d bytes exceeds max_request_size "
                    "%d bytes.",
                    len(data),
                    limit,
                )
                result.error = ValueError(f"span batch of {len(data)} bytes over {limit}")
                return SpanExportResult.FAILURE
            sent = self._client.export(data)
            if not sent.success:
                result.error = sent.error
                if sent.status_code is not None:
                    result.error_attrs = {"http.response.status_code": sent.status_code}
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


def grpc_span_exporter() -> SpanExporter:
    """The OTLP/gRPC span exporter, the request parsed from the written spans (in C); gRPC is
    imported only when it is used."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    class OtlpGrpcSpanExporter(OTLPSpanExporter):
        takes_encoded_spans = True

        def _translate_data(self, data: Sequence[Any]) -> ExportTraceServiceRequest:
            request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(
                encode_spans(data)
            )
            return request

    return OtlpGrpcSpanExporter()


class EncodingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's batch span processor, queueing each sampled span written when it ends."""

    def __init__(self, exporter: SpanExporter) -> None:
        super().__init__(exporter)
        self._encoding = getattr(exporter, "takes_encoded_spans", False) and hasattr(
            self, "_batch_processor"
        )

    def on_end(self, span: ReadableSpan) -> None:
        if not self._encoding:
            super().on_end(span)
            return
        if not (span.context and span.context.trace_flags.sampled):
            return
        try:
            encoded: EncodedSpan = encode_span(span)
        except Exception as error:  # the SDK would fail the span's whole batch
            _logger.error("Failed to encode span %r: %s", span.name, error)
            return
        self._batch_processor.emit(encoded)  # type: ignore[arg-type]
