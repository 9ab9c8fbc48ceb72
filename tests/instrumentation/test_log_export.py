"""Logs over OTLP from a real uvicorn process instrumented with ``instrument_app``: records
decoded from the protobuf an OTLP receiver double gets, checked against the request's spans;
and a collector that hangs or refuses, which must cost the service neither time nor memory."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from obsstack.core.otel_logs import EXIT_FLUSH_SECONDS
from tests.instrumentation.otlp import OtlpGrpcReceiver, OtlpReceiver, ReceivedLog
from tests.instrumentation.test_tracing import log_lines, start_sample
from tests.support.doubles import Blackhole
from tests.support.processes import Process, free_port, running, wait_until

EXPORT_FAILING = "log export over OTLP is failing: records are dropped, not kept, until it works"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    yield otlp
    otlp.close()


def records(receiver: OtlpReceiver | OtlpGrpcReceiver, body: str) -> list[ReceivedLog]:
    return [record for record in receiver.logs if record.body == body]


@pytest.mark.parametrize("native", [False, True], ids=["middleware", "fastapi"])
def test_a_request_log_record_carries_its_trace_request_and_tenant(tmp_path, receiver, native):
    process, url = start_sample(
        tmp_path,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http.url,
            "OTEL_SERVICE_NAME": "sample-service",
            "SAMPLE_FASTAPI_TRACING": "1" if native else "0",
        },
    )
    with running(process):
        response = httpx.get(f"{url}/items/42", headers={"x-request-id": "req-logs-1"})
        assert response.status_code == 200
        wait_until(lambda: records(receiver, "item requested"), 10, "the log record")
        wait_until(lambda: receiver.server_spans("/items/{item_id}"), 10, "the server span")
    [record] = records(receiver, "item requested")
    [span] = receiver.server_spans("/items/{item_id}")
    assert record.trace_id == span.trace_id
    # The span current in the endpoint: the server span, or FastAPI's own endpoint span in it.
    spans = {s.span_id for s in receiver.spans if s.trace_id == span.trace_id}
    assert record.span_id in spans
    if not native:
        assert record.span_id == span.span_id
    assert (record.severity_text, record.scope) == ("INFO", "sample")
    assert record.attributes["item"] == 42
    assert record.attributes["request_id"] == "req-logs-1"
    assert record.attributes["tenant_id"] == "acme"
    assert record.service == "sample-service"
    assert record.resource["service.instance.id"]
    # The same line, as JSON, on stderr.
    [line] = [entry for entry in log_lines(process) if entry["message"] == "item requested"]
    assert (line["trace_id"], line["span_id"]) == (record.trace_id, record.span_id)
    # Stopped by SIGTERM: what was logged until the application had shut down was sent.
    assert records(receiver, "Waiting for application shutdown.")


def test_exported_records_are_redacted_as_the_json_lines(tmp_path, receiver):
    process, url = start_sample(
        tmp_path, {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": receiver.logs_endpoint}
    )
    with running(process):
        assert httpx.get(f"{url}/leak").status_code == 200
        wait_until(lambda: len(receiver.logs) >= 2 + 3, 10, "the leaky records")  # + startup
    exported = repr(receiver.logs)
    for secret in ("sk-live-0123456789abcdefghij", "c2VjcmV0OnNlY3JldA==", "hunter2"):
        assert secret not in exported
    assert records(receiver, "database unreachable at postgresql://app:<redacted>@db:5432/platform")
    [warning] = [r for r in receiver.logs if str(r.body).startswith("calling the model API")]
    assert warning.attributes["headers"] == {"Authorization": "<redacted>"}
    assert warning.service == "sample-service"  # instrument_app's name, no OTEL_SERVICE_NAME
    assert receiver.spans == []  # a logs endpoint only: no tracing


def test_logs_and_spans_over_otlp_grpc(tmp_path):
    receiver = OtlpGrpcReceiver()
    try:
        process, url = start_sample(
            tmp_path,
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            },
            name="grpc",
        )
        with running(process):
            assert httpx.get(f"{url}/items/5").status_code == 200
            wait_until(lambda: records(receiver, "item requested"), 10, "a record over gRPC")
            wait_until(lambda: receiver.server_spans("/items/{item_id}"), 10, "a span over gRPC")
        [record] = records(receiver, "item requested")
        [span] = receiver.server_spans("/items/{item_id}")
        assert (record.trace_id, record.span_id) == (span.trace_id, span.span_id)
        assert record.service == "sample-service"
    finally:
        receiver.close()


def test_log_export_can_be_turned_off_while_traces_are_exported(tmp_path, receiver):
    process, url = start_sample(
        tmp_path,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http.url, "OTEL_LOGS_EXPORTER": "none"},
        name="no-logs",
    )
    with running(process):
        assert httpx.get(f"{url}/items/5").status_code == 200
        wait_until(lambda: receiver.server_spans("/items/{item_id}"), 10, "the span")
        assert [e for e in log_lines(process) if e["message"] == "item requested"]
    assert receiver.logs == []
    assert receiver.log_exports == 0


def reported(process: Process) -> Callable[[], bool]:
    return lambda: EXPORT_FAILING in process.output()


def rss_kib(process: Process) -> int:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_hung_or_refusing_collector_adds_no_latency_and_no_memory(tmp_path, receiver):
    """Four sample services side by side, requests sent to them in turn: logs not exported,
    exported to a working receiver, to a blackhole (accepts, never answers) and to a port
    that refuses. The last two answer as fast as the working one, their memory stays flat
    while thousands of records are dropped, and each says once that export is failing."""
    hole = Blackhole()
    limits = {"OTEL_BLRP_MAX_QUEUE_SIZE": "256", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "64"}
    endpoints = {
        "off": {},
        "working": {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": receiver.logs_endpoint},
        "blackhole": {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"http://127.0.0.1:{hole.port}/v1/logs"},
        "refused": {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"http://127.0.0.1:{free_port()}/v1/logs"},
    }
    services = {
        name: start_sample(tmp_path, {**limits, **env, "OTEL_EXPORTER_OTLP_TIMEOUT": "2"}, name)
        for name, env in endpoints.items()
    }
    try:
        clients = {
            name: httpx.Client(base_url=url, timeout=10) for name, (_, url) in services.items()
        }
        latencies: dict[str, list[float]] = {name: [] for name in services}
        memory: dict[str, list[int]] = {name: [] for name in services}
        for i in range(2500):
            if i in (500, 2499):
                for name, (process, _) in services.items():
                    memory[name].append(rss_kib(process))
            for name, client in clients.items():
                started = time.perf_counter()
                assert client.get(f"/items/{i}").status_code == 200
                latencies[name].append(time.perf_counter() - started)
        wait_until(lambda: hole.accepted > 0, 10, "an export attempt to the blackhole")
        figures = {
            name: (
                statistics.median(values) * 1000,
                statistics.quantiles(values, n=100)[94] * 1000,
                (memory[name][1] - memory[name][0]) / 1024,
            )
            for name, values in latencies.items()
        }
        print("median ms, p95 ms, RSS growth MiB:", figures)
        working_median, working_p95, _ = figures["working"]
        for name in ("blackhole", "refused"):
            median, p95, growth = figures[name]
            assert median <= working_median * 1.3 + 0.5, figures
            assert p95 <= working_p95 * 1.5 + 2, figures
            assert growth < 8, figures  # 2000 records more, at most 256 of them queued
            process = services[name][0]
            wait_until(reported(process), 10, f"{name}'s report")
            assert [e["message"] for e in log_lines(process) if e["logger"] != "sample"].count(
                EXPORT_FAILING
            ) == 1
            assert '"logger": "opentelemetry' not in process.output()
        for client in clients.values():
            client.close()
        for name in ("blackhole", "refused"):  # exit waits for the export a bounded time
            started = time.perf_counter()
            services[name][0].stop()
            assert time.perf_counter() - started < EXIT_FLUSH_SECONDS + 2
    finally:
        for process, _ in services.values():
            process.stop()
        hole.close()
