"""Every obsstack service exports its logs over OTLP: each real CLI process, its records decoded
from the protobuf an OTLP receiver double (``OtlpReceiver``) gets, with its service name,
severities, request and tenant fields, traces, and no secret; the JSON lines stay on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from obsstack.core import __version__, naming
from tests.demo.test_demo import drop
from tests.instrumentation.otlp import OtlpReceiver, ReceivedLog
from tests.support.doubles import HttpDouble, Reply
from tests.support.processes import OBSSTACK, Process, free_port, http_ok, running, wait_until

ROOT = Path(__file__).resolve().parents[1]
SINK = "obsstack-oncall-sink"
SERVE = naming.JOB_EXPORTER


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    yield otlp
    otlp.close()


def otlp_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


def serve(argv: list[str], log: Path, env: dict[str, str], url: str) -> Process:
    process = Process([*OBSSTACK, *argv], log, env=env, cwd=ROOT)
    wait_until(http_ok(f"{url}/health"), 30, f"{argv[0]} to serve")
    return process


def bodies(receiver: OtlpReceiver, service: str) -> list[object]:
    return [r.body for r in receiver.logs if r.service == service]


def exported(receiver: OtlpReceiver, service: str, text: str) -> bool:
    """Whether a record of ``service`` has ``text`` in its body."""
    return any(text in str(body) for body in bodies(receiver, service))


def record(receiver: OtlpReceiver, body: str) -> ReceivedLog:
    [found] = [r for r in receiver.logs if r.body == body]
    return found


def json_messages(process: Process) -> list[object]:
    lines = process.output().splitlines()
    return [json.loads(line)["message"] for line in lines if line.startswith("{")]


def test_probe_exporter(tmp_path, receiver):
    config = tmp_path / "exporter.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": "obsstack/v1",
                "dependencies": [
                    {"name": "postgres", "kind": "postgres", "host": "127.0.0.1", "port": 5432,
                     "database": "test", "user": "postgres"},
                    {"name": "cache", "kind": "redis", "host": "127.0.0.1", "port": free_port(),
                     "password": "redis-secret-4711"},
                ],
            }
        )
    )  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = ["serve", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    with running(serve(argv, tmp_path / "serve.log", otlp_env(receiver), url)) as process:
        assert httpx.get(f"{url}/probe", params={"target": "postgres"}).status_code == 200
        assert httpx.get(f"{url}/probe", params={"target": "cache"}).status_code == 200
        wait_until(
            lambda: {"dependency up", "dependency down"} <= set(bodies(receiver, SERVE)),
            10,
            "the probe records",
        )
    up, down = record(receiver, "dependency up"), record(receiver, "dependency down")
    assert (up.severity_text, up.attributes["dependency"], up.attributes["kind"]) == (
        "INFO", "postgres", "postgres",
    )  # fmt: skip
    assert (down.severity_text, down.attributes["dependency"]) == ("WARN", "cache")
    assert down.attributes["reason"]
    assert up.resource["service.name"] == naming.JOB_EXPORTER
    assert up.resource["service.version"] == __version__
    # Started and stopped by uvicorn, the last lines flushed at exit.
    wait_until(
        lambda: exported(receiver, naming.JOB_EXPORTER, "Finished server process"), 5, "the end"
    )
    assert "redis-secret-4711" not in repr(receiver.logs)
    assert "dependency down" in json_messages(process)


def test_kpi_exporter(tmp_path, receiver):
    data = {
        "version": "obsstack/v1",
        "database": {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres",
                     "password": "kpi-db-secret-0815", "allow_privileged_role": True},
        "kpis": [{"name": "missing", "metric": "test_missing", "type": "gauge", "help": "None.",
                  "sql": "SELECT count(*) AS value FROM obsstack_no_such_table",
                  "interval": "1s", "timeout": "500ms"}],
    }  # fmt: skip
    config = tmp_path / "kpis.yaml"
    config.write_text(yaml.safe_dump(data))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = ["kpis", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    with running(serve(argv, tmp_path / "kpis.log", otlp_env(receiver), url)):
        wait_until(lambda: "KPI query failed" in bodies(receiver, naming.JOB_KPIS), 15, "a record")
    failed = next(r for r in receiver.logs if r.body == "KPI query failed")
    assert failed.severity_text == "WARN"
    assert failed.attributes["kpi"] == "missing"
    assert "obsstack_no_such_table" in str(failed.attributes["reason"])
    assert failed.resource["service.version"] == __version__
    privileged = "running as a privileged database role, as database.allow_privileged_role allows"
    assert privileged in bodies(receiver, naming.JOB_KPIS)
    assert "kpi-db-secret-0815" not in repr(receiver.logs)


def test_oncall_inbox(tmp_path, receiver):
    secrets = {"routing_key": "R0UTINGKEY0123456789abcdefABCDEF", "api_key": "genie-key-5150",
               "token": "inbox-token-8086"}  # fmt: skip
    for name, value in secrets.items():
        (tmp_path / name).write_text(value)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = ["oncall-sink", "--listen", f"127.0.0.1:{port}",
            "--pagerduty-routing-key-file", str(tmp_path / "routing_key"),
            "--opsgenie-api-key-file", str(tmp_path / "api_key"),
            "--token-file", str(tmp_path / "token")]  # fmt: skip
    with running(serve(argv, tmp_path / "sink.log", otlp_env(receiver), url)):
        refused = httpx.get(f"{url}/events", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        wait_until(
            lambda: exported(receiver, SINK, "Application startup complete."), 10, "the start"
        )
    wait_until(lambda: exported(receiver, SINK, "Finished server process"), 5, "the end")
    started = record(receiver, "Application startup complete.")
    assert (started.severity_text, started.scope) == ("INFO", "uvicorn.error")
    everything = repr(receiver.logs)
    for value in secrets.values():
        assert value not in everything


def test_traffic_generator(tmp_path, receiver):
    target = HttpDouble({}, fallback=lambda request: Reply(200, {"ok": True}))
    try:
        result = subprocess.run(
            [*OBSSTACK, "demo", "traffic", "--target", target.url, "--requests", "5",
             "--rate", "50", "--seed", "3"],
            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
            env={**os.environ, **otlp_env(receiver)},
        )  # fmt: skip
    finally:
        target.close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == {"statuses": {"200": 5}}
    # The final report is logged just before the process exits: it leaves at exit.
    [report] = [r for r in receiver.logs if r.body == "traffic"]
    assert report.service == "obsstack-traffic"
    assert report.attributes["sent"] == 5
    assert report.attributes["statuses"] == {"200": 5}
    assert '"message": "traffic"' in result.stderr


def test_demo_platform(tmp_path, receiver):
    tag = uuid.uuid4().hex[:10]
    schema, prefix = f"obsstack_demo_l{tag}", f"obsstack_demo_l{tag}:"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = ["demo", "serve", "--listen", f"127.0.0.1:{port}", "--schema", schema,
            "--redis-prefix", prefix, "--time-scale", "0.02"]  # fmt: skip
    try:
        with running(serve(argv, tmp_path / "demo.log", otlp_env(receiver), url)) as process:
            wait_until(http_ok(f"{url}/ready"), 30, "the demo to be ready")
            login = {"email": "user3@soylent.example", "password": "not-the-password-42"}
            response = httpx.post(
                f"{url}/v1/auth/login", json=login, headers={"x-request-id": "req-demo-1"}
            )
            assert response.status_code == 401
            wait_until(lambda: "login failed" in bodies(receiver, "saas-api"), 10, "the record")
            wait_until(lambda: receiver.server_spans("/v1/auth/login"), 10, "the server span")
    finally:
        drop(schema, prefix)
    # Stopped by SIGTERM: what was logged until the application had shut down was sent.
    assert exported(receiver, "saas-api", "Waiting for application shutdown.")
    failed = record(receiver, "login failed")
    [span] = receiver.server_spans("/v1/auth/login")
    assert (failed.trace_id, failed.span_id) == (span.trace_id, span.span_id)
    assert failed.severity_text == "WARN"
    assert failed.attributes["request_id"] == "req-demo-1"
    assert failed.attributes["tenant_id"] == "soylent"
    assert failed.attributes["user"]
    # uvicorn's access line of the same request, in the same trace.
    [access] = [
        r for r in receiver.logs if r.scope == "uvicorn.access" and "/v1/auth/login" in str(r.body)
    ]
    assert access.trace_id == span.trace_id
    assert "not-the-password-42" not in repr(receiver.logs)
    assert "login failed" in json_messages(process)
