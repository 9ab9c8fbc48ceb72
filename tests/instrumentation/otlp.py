"""OTLP trace receivers for tests: protocol doubles of the OpenTelemetry Collector.

``OtlpReceiver`` answers ``POST /v1/traces`` as the Collector's OTLP/HTTP receiver does (200 with
an empty ``ExportTraceServiceResponse``); ``OtlpGrpcReceiver`` serves the OTLP/gRPC
``TraceService.Export`` method. Both decode every request with ``opentelemetry-proto``.
"""

from __future__ import annotations

import gzip
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
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
        collect(message, self.spans)
        payload = ExportTraceServiceResponse().SerializeToString()
        return _ProtobufReply(200, payload)

    def server_spans(self, route: str) -> list[ReceivedSpan]:
        return server_spans(self.spans, route)

    def close(self) -> None:
        self.http.close()


class OtlpGrpcReceiver:
    """Collects the spans of every OTLP/gRPC export it receives (plaintext, on loopback)."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        spans = self.spans

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> ExportTraceServiceResponse:
                collect(request, spans)
                return ExportTraceServiceResponse()

        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def server_spans(self, route: str) -> list[ReceivedSpan]:
        return server_spans(self.spans, route)

    def close(self) -> None:
        self.server.stop(grace=None)


def server_spans(spans: list[ReceivedSpan], route: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.is_server and s.attributes.get("http.route") == route]


def collect(message: Any, spans: list[ReceivedSpan]) -> None:
    """Append the spans of one ``ExportTraceServiceRequest`` to ``spans``."""
    for resource_spans in message.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
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


class _ProtobufReply(Reply):
    def encoded(self) -> tuple[bytes, str]:
        return bytes(self.body), "application/x-protobuf"
