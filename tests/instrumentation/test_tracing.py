"""Traces, logs and exemplars of a real uvicorn process, checked against one another.

The spans are received by ``OtlpReceiver`` (an OTLP/HTTP protocol double of the Collector).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from obsstack.core import naming
from tests.instrumentation.otlp import OtlpGrpcReceiver, OtlpReceiver
from tests.support.doubles import Blackhole
from tests.support.processes import Process, free_port, http_ok, running, wait_until

SAMPLE = ["-m", "tests.instrumentation.sample_app"]


def start_sample(tmp_path: Path, env: dict[str, str], name: str = "sample") -> tuple[Process, str]:
    import sys

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process(
        [sys.executable, *SAMPLE, "--port", str(port)],
        tmp_path / f"{name}.log",
        env={
            "SAMPLE_UPSTREAM": url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
            **env,
        },
        cwd=Path(__file__).resolve().parents[2],
    )
    wait_until(http_ok(f"{url}/health"), 30, f"{name} to serve")
    return process, url


def log_lines(process: Process) -> list[dict[str, object]]:
    lines = []
    for line in process.output().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    yield otlp
    otlp.close()


@pytest.fixture(params=["middleware", "fastapi"])
def traced(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: OtlpReceiver
) -> Iterator[tuple[Process, str]]:
    """The sample service, its server spans made by the middleware or by FastAPI itself."""
    process, url = start_sample(
        tmp_path,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "sample-service",
            "SAMPLE_FASTAPI_TRACING": "1" if request.param == "fastapi" else "0",
        },
    )
    with running(process):
        yield process, url


def test_server_span_log_line_and_exemplar_carry_the_same_trace_id(traced, receiver):
    process, url = traced
    response = httpx.get(f"{url}/items/42", headers={"x-request-id": "req-e2e-1"})
    assert response.status_code == 200

    wait_until(lambda: receiver.server_spans("/items/{item_id}"), 10, "the server span")
    [span] = receiver.server_spans("/items/{item_id}")
    assert span.service == "sample-service"
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.response.status_code"] == 200

    [line] = [entry for entry in log_lines(process) if entry["message"] == "item requested"]
    assert line["trace_id"] == span.trace_id
    assert line["span_id"] != ""
    assert line["request_id"] == "req-e2e-1"
    assert line["tenant_id"] == "acme"
    assert {"timestamp", "level", "logger"} <= set(line)

    scrape = httpx.get(f"{url}/metrics", headers={"accept": "application/openmetrics-text"})
    exemplars = [
        sample.exemplar
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
        if sample.name == naming.HTTP_SERVER_REQUEST_DURATION.name + "_bucket"
        and sample.labels[naming.HTTP_ROUTE] == "/items/{item_id}"
        and sample.exemplar is not None
    ]
    assert [e.labels["trace_id"] for e in exemplars] == [span.trace_id]


def test_the_access_line_carries_the_requests_trace_request_and_tenant(tmp_path, receiver):
    """uvicorn's access line in a real server whose only log handler is the JSON one (the line
    written without a LogRecord): the same fields, in the same order, as the request's own
    lines, and its secrets redacted."""
    process, url = start_sample(
        tmp_path,
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.http.url}/v1/traces",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "SAMPLE_ACCESS_LOG": "1",
        },
    )
    with running(process):
        response = httpx.get(f"{url}/items/7?token=abc123", headers={"x-request-id": "req-a-1"})
        assert response.status_code == 200
        wait_until(
            lambda: any(e["logger"] == "uvicorn.access" for e in log_lines(process)), 10, "access"
        )
    lines = [e for e in log_lines(process) if e.get("request_id") == "req-a-1"]
    [own] = [e for e in lines if e["message"] == "item requested"]
    [access] = [e for e in lines if e["logger"] == "uvicorn.access"]
    assert list(access) == [
        "timestamp", "level", "logger", "message", "trace_id", "span_id", "request_id", "tenant_id"
    ]  # fmt: skip
    assert access["level"] == "INFO"
    assert str(access["message"]).endswith('"GET /items/7?token=<redacted> HTTP/1.1" 200')
    assert (access["trace_id"], access["span_id"], access["tenant_id"]) == (
        own["trace_id"],
        own["span_id"],
        "acme",
    )
    assert "abc123" not in process.output()


def test_one_server_span_per_request_and_client_spans_for_outgoing_calls(traced, receiver):
    _, url = traced
    incoming_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{incoming_trace}-00f067aa0ba902b7-01"
    assert httpx.get(f"{url}/fanout", headers={"traceparent": traceparent}).status_code == 200

    # The spans end (and may be exported) in turn: the callee's, the client's, the caller's.
    wait_until(lambda: receiver.server_spans("/fanout"), 10, "the caller's span")
    wait_until(lambda: receiver.server_spans("/items/{item_id}"), 10, "the downstream span")
    [outer] = receiver.server_spans("/fanout")
    assert outer.trace_id == incoming_trace
    assert outer.parent_span_id == "00f067aa0ba902b7"
    [client] = [s for s in receiver.spans if s.is_client]
    assert client.trace_id == incoming_trace
    assert client.parent_span_id in {
        s.span_id for s in receiver.spans if s.trace_id == incoming_trace
    }
    [inner] = receiver.server_spans("/items/{item_id}")
    # The callee continued the trace through the traceparent header the client span sent.
    assert inner.trace_id == incoming_trace
    assert inner.parent_span_id == client.span_id
    assert len([s for s in receiver.spans if s.is_server]) == 2


def test_requests_are_served_while_the_collector_hangs(tmp_path):
    hole = Blackhole()
    process, url = start_sample(
        tmp_path,
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{hole.port}/v1/traces",
            "OTEL_BSP_MAX_QUEUE_SIZE": "16",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
        },
        name="hung-collector",
    )
    try:
        with running(process):
            statuses = [httpx.get(f"{url}/items/{i}", timeout=10).status_code for i in range(60)]
            assert statuses == [200] * 60
            wait_until(lambda: hole.accepted > 0, 10, "an export attempt to the hung collector")
            assert httpx.get(f"{url}/items/1", timeout=10).status_code == 200
    finally:
        hole.close()


def test_tracing_is_off_without_an_endpoint(tmp_path, receiver):
    process, url = start_sample(tmp_path, {}, name="untraced")
    with running(process):
        assert httpx.get(f"{url}/items/1").status_code == 200
        [line] = [entry for entry in log_lines(process) if entry["message"] == "item requested"]
    assert "trace_id" not in line
    assert len(str(line["request_id"])) == 32
    assert receiver.spans == []


def test_secrets_in_log_lines_are_redacted(tmp_path):
    process, url = start_sample(tmp_path, {}, name="leaky")
    with running(process):
        assert httpx.get(f"{url}/leak").status_code == 200
        wait_until(lambda: "database unreachable" in process.output(), 5, "the log lines")
        output = process.output()
    for secret in ("sk-live-0123456789abcdefghij", "c2VjcmV0OnNlY3JldA==", "hunter2"):
        assert secret not in output
    lines = {entry["message"]: entry for entry in log_lines(process)}
    assert lines["database unreachable at postgresql://app:<redacted>@db:5432/platform"]
    warning = next(v for k, v in lines.items() if str(k).startswith("calling the model API"))
    assert warning["headers"] == {"Authorization": "<redacted>"}
    assert "Bearer <redacted>" in str(warning["message"])


def test_spans_are_exported_over_otlp_grpc_too(tmp_path):
    receiver = OtlpGrpcReceiver()
    try:
        process, url = start_sample(
            tmp_path,
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint,
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            },
            name="grpc",
        )
        with running(process):
            assert httpx.get(f"{url}/items/5").status_code == 200
            wait_until(lambda: receiver.server_spans("/items/{item_id}"), 10, "a span over gRPC")
        [span] = receiver.server_spans("/items/{item_id}")
        assert span.service == "sample-service"
    finally:
        receiver.close()


def test_tracing_leaves_the_process_environment_alone(receiver):
    """Client spans follow the stable HTTP conventions (the demo's tests read url.full), and
    the environment the service's children inherit is the one it was started with."""
    import subprocess
    import sys

    code = (
        "import os; before = dict(os.environ)\n"
        "from obsstack.instrumentation.tracing import configure_tracing\n"
        "assert configure_tracing('sample') is not None\n"
        "print(dict(os.environ) == before)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http.url},
    )
    assert result.stdout.strip() == "True", result.stderr
