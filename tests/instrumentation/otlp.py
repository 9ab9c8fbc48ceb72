"""An OTLP/HTTP trace receiver for tests: a protocol double of the OpenTelemetry Collector.

It answers ``POST /v1/traces`` as the Collector's ``otlphttp`` receiver does (200 with an
empty ``ExportTraceServiceResponse``) and decodes every request with ``opentelemetry-proto``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.support.doubles import HttpDouble, Reply, Request


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: int

    @property
    def is_server(self) -> bool:
        return self.kind == Span.SPAN_KIND_SERVER

    @property
    def is_client(self) -> bool:
        return self.kind == Span.SPAN_KIND_CLIENT


def _value(any_value: Any) -> Any:
    return getattr(any_value, any_value.WhichOneof("value") or "string_value")


class OtlpReceiver:
    """Collects the spans of every export request it receives."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.http = HttpDouble({("POST", "/v1/traces"): self._export})
        self.endpoint = f"{self.http.url}/v1/traces"

    def _export(self, request: Request) -> Reply:
        body = request.body
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        for resource_spans in message.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name", "")),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            status_code=span.status.code,
                        )
                    )
        payload = ExportTraceServiceResponse().SerializeToString()
        return _ProtobufReply(200, payload)

    def server_spans(self, route: str) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.is_server and s.attributes.get("http.route") == route]

    def close(self) -> None:
        self.http.close()


class _ProtobufReply(Reply):
    def encoded(self) -> tuple[bytes, str]:
        return bytes(self.body), "application/x-protobuf"
