"""The SDK's OTLP span exporters, encoding with :mod:`span_encoding` (the same bytes, for a
fifth of the time the export thread holds the GIL).

Everything else is the SDK's: endpoint, headers, timeout, compression, retries, the request
size limit and the exporter's own metrics. An SDK whose exporter is built differently from the
one this was written against (opentelemetry-exporter-otlp-proto-http 1.45) keeps its own
encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from obsstack.instrumentation.span_encoding import encode_spans


class OtlpHttpSpanExporter(HttpSpanExporter):
    """OTLP/HTTP (protobuf) span exporter."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        client = getattr(self, "_client", None)
        metrics = getattr(self, "_metrics", None)
        limit = getattr(self, "_max_request_size", None)
        if self._shutdown or client is None or metrics is None or not isinstance(limit, int):
            return super().export(spans)
        try:
            data = encode_spans(spans)
        except Exception:  # the SDK's encoder says what it cannot encode, and counts it
            return super().export(spans)
        if 0 < limit < len(data):
            return super().export(spans)  # dropped, said and counted by the SDK
        with metrics.export_operation(len(spans)) as result:
            sent = client.export(data)
            if not sent.success:
                result.error = sent.error
                if sent.status_code is not None:
                    result.error_attrs = {"http.response.status_code": sent.status_code}
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


def grpc_span_exporter() -> SpanExporter:
    """The OTLP/gRPC span exporter, the request parsed from the encoded bytes (in C); gRPC is
    imported only when it is used."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    class OtlpGrpcSpanExporter(OTLPSpanExporter):
        def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
            request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(
                encode_spans(data)
            )
            return request

    return OtlpGrpcSpanExporter()
