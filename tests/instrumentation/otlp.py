"""OTLP trace and log receivers for tests: protocol doubles of the OpenTelemetry Collector.

``OtlpReceiver`` answers ``POST /v1/traces`` and ``POST /v1/logs`` as the Collector's OTLP/HTTP
receiver does (200 with an empty ``ExportTraceServiceResponse`` / ``ExportLogsServiceResponse``);
``OtlpGrpcReceiver`` serves the OTLP/gRPC ``TraceService.Export`` and ``LogsService.Export``
methods. Both decode every request with ``opentelemetry-proto``. ``stall()`` makes the HTTP
receiver hold every export unanswered until ``release()`` (a collector that hangs, then recovers).
"""

from __future__ import annotations

import gzip
import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
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


@dataclass(frozen=True)
class ReceivedLog:
    resource: dict[str, Any]
    scope: str
    body: Any
    severity_number: int
    severity_text: str
    trace_id: str  # "" outside a span
    span_id: str
    attributes: dict[str, Any]
    time_unix_nano: int

    @property
    def service(self) -> str:
        return str(self.resource.get("service.name", ""))


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in any_value.kvlist_value.values}
    if kind == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    return None if kind is None else getattr(any_value, kind)


class OtlpReceiver:
    """Collects the spans and log records of every export request it receives."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.logs: list[ReceivedLog] = []
        self.log_exports = 0  # export requests for logs, answered or not
        self._released = threading.Event()
        self._released.set()
        self.http = HttpDouble(
            {("POST", "/v1/traces"): self._export_spans, ("POST", "/v1/logs"): self._export_logs}
        )
        self.endpoint = f"{self.http.url}/v1/traces"
        self.logs_endpoint = f"{self.http.url}/v1/logs"

    def stall(self) -> None:
        """Hold every export from now on unanswered, until :meth:`release`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def _export_spans(self, request: Request) -> Reply:
        self._released.wait(60)
        message = ExportTraceServiceRequest()
        message.ParseFromString(_body(request))
        collect(message, self.spans)
        payload = ExportTraceServiceResponse().SerializeToString()
        return _ProtobufReply(200, payload)

    def _export_logs(self, request: Request) -> Reply:
        self.log_exports += 1
        self._released.wait(60)
        message = ExportLogsServiceRequest()
        message.ParseFromString(_body(request))
        collect_logs(message, self.logs)
        return _ProtobufReply(200, ExportLogsServiceResponse().SerializeToString())

    def server_spans(self, route: str) -> list[ReceivedSpan]:
        return server_spans(self.spans, route)

    def log_bodies(self) -> list[Any]:
        return [record.body for record in self.logs]

    def close(self) -> None:
        self.release()
        self.http.close()


def _body(request: Request) -> bytes:
    if request.headers.get("content-encoding") == "gzip":
        return gzip.decompress(request.body)
    return request.body


class OtlpGrpcReceiver:
    """Collects the spans and log records of every OTLP/gRPC export it receives (plaintext,
    on loopback)."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.logs: list[ReceivedLog] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        spans, logs = self.spans, self.logs

        class TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> ExportTraceServiceResponse:
                collect(request, spans)
                return ExportTraceServiceResponse()

        class LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: Any, context: Any) -> ExportLogsServiceResponse:
                collect_logs(request, logs)
                return ExportLogsServiceResponse()

        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceServicer(), self.server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(LogsServicer(), self.server)
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


def collect_logs(message: Any, records: list[ReceivedLog]) -> None:
    """Append the log records of one ``ExportLogsServiceRequest`` to ``records``."""
    for resource_logs in message.resource_logs:
        resource = {a.key: _value(a.value) for a in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                records.append(
                    ReceivedLog(
                        resource=resource,
                        scope=scope_logs.scope.name,
                        body=_value(record.body),
                        severity_number=record.severity_number,
                        severity_text=record.severity_text,
                        trace_id=record.trace_id.hex(),
                        span_id=record.span_id.hex(),
                        attributes={a.key: _value(a.value) for a in record.attributes},
                        time_unix_nano=record.time_unix_nano,
                    )
                )


class _ProtobufReply(Reply):
    def encoded(self) -> tuple[bytes, str]:
        return bytes(self.body), "application/x-protobuf"
