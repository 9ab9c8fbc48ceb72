"""configure_logging: JSON lines with context fields, per-logger levels, secrets redacted, and
the same records over OTLP when an endpoint is configured."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from obsstack.core import otel
from obsstack.core.logs import REQUEST_ID, configure_logging, redact_secrets, set_tenant
from obsstack.core.otel_logs import OtlpLogHandler, stop_log_export
from obsstack.core.spec import ConfigError, Secrets
from tests.instrumentation.otlp import OtlpReceiver
from tests.support.processes import free_port, wait_until

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    yield buffer
    configure_logging("WARNING", env={})  # leave no per-logger levels behind


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_record_is_one_json_line_with_the_standard_fields(stream):
    configure_logging("INFO", stream=stream, env={})
    logging.getLogger("obsstack.demo").info("served %d queries", 3, extra={"agent": "planner"})
    [line] = lines(stream)
    assert list(line)[:4] == ["timestamp", "level", "logger", "message"]
    assert line["level"] == "INFO"
    assert line["logger"] == "obsstack.demo"
    assert line["message"] == "served 3 queries"
    assert line["agent"] == "planner"
    assert str(line["timestamp"]).startswith("20")


def test_request_tenant_and_trace_context_are_added(stream):
    configure_logging("INFO", stream=stream, env={})
    tracer = TracerProvider().get_tracer("test")
    token = REQUEST_ID.set("req-7")
    try:
        set_tenant("acme")
        with tracer.start_as_current_span("work") as span:
            logging.getLogger("app").info("inside")
        context = span.get_span_context()
    finally:
        REQUEST_ID.reset(token)
        set_tenant(None)
    logging.getLogger("app").info("outside")
    inside, outside = lines(stream)
    assert inside["request_id"] == "req-7"
    assert inside["tenant_id"] == "acme"
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert not {"request_id", "tenant_id", "trace_id", "span_id"} & set(outside)


def test_levels_per_logger_from_configuration_and_environment(stream):
    configure_logging(
        "WARNING",
        stream=stream,
        levels={"obsstack.kpis": "debug", "noisy": "info"},
        env={"OBSSTACK_LOG_LEVELS": "noisy=error, uvicorn.access=warning"},
    )
    logging.getLogger("obsstack.kpis.engine").debug("kept: child of a debug logger")
    logging.getLogger("noisy").warning("dropped: the environment raised it to error")
    logging.getLogger("other").info("dropped: root is warning")
    logging.getLogger("uvicorn.access").info("dropped")
    assert [line["message"] for line in lines(stream)] == ["kept: child of a debug logger"]


def logger_names() -> set[str]:
    """The logger names obsstack's code asks for, read from its source."""
    names = set()
    for root in ("exporters", "alerts", "dashboards"):
        for path in (REPO / root).rglob("*.py"):
            names |= set(re.findall(r'getLogger\("([^"]+)"\)', path.read_text()))
    return names


def test_every_obsstack_logger_is_under_obsstack_and_documented(stream):
    """One namespace: OBSSTACK_LOG_LEVELS=obsstack=debug reaches every part, and the table of
    exporters/CONFIGURATION.md names each logger."""
    libraries = {"uvicorn.error", "uvicorn.access", "httpx"}
    ours = logger_names() - libraries
    assert ours and all(name.startswith("obsstack.") for name in ours), ours
    documented = (REPO / "exporters/CONFIGURATION.md").read_text()
    assert {name for name in ours if f"`{name}`" not in documented} == set()

    configure_logging("WARNING", stream=stream, env={"OBSSTACK_LOG_LEVELS": "obsstack=debug"})
    for name in sorted(ours):
        logging.getLogger(name).debug("from %s", name)
    assert {line["logger"] for line in lines(stream)} == ours


def test_the_environment_overrides_the_root_level(stream):
    configure_logging("WARNING", stream=stream, env={"OBSSTACK_LOG_LEVEL": "debug"})
    logging.getLogger("x").debug("visible")
    assert [line["message"] for line in lines(stream)] == ["visible"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OBSSTACK_LOG_LEVELS": "exporters"},
            "OBSSTACK_LOG_LEVELS: expected LOGGER=LEVEL items (got 'exporters')",
        ),
        (
            {"OBSSTACK_LOG_LEVELS": "exporters=loud"},
            "OBSSTACK_LOG_LEVELS: log level must be one of debug, info, warning, error, "
            "critical (got 'loud')",
        ),
        (
            {"OBSSTACK_LOG_LEVEL": "verbose"},
            "OBSSTACK_LOG_LEVEL: log level must be one of debug, info, warning, error, "
            "critical (got 'verbose')",
        ),
    ],
)
def test_bad_levels_in_the_environment_are_one_line_errors(env, message):
    with pytest.raises(ConfigError) as error:
        configure_logging("INFO", stream=io.StringIO(), env=env)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "Authorization: Bearer <redacted>"),
        ("authorization=Basic dXNlcjpwYXNz", "authorization=Basic <redacted>"),
        ("retrying with bearer abc123", "retrying with bearer <redacted>"),
        ("login password=hunter2 user=bob", "login password=<redacted> user=bob"),
        ('{"access_token": "tok-1", "prompt_tokens": 12}', '{"access_token": "<redacted>", '
         '"prompt_tokens": 12}'),
        ("GET /v1/export?api_key=abc&format=csv", "GET /v1/export?api_key=<redacted>&format=csv"),
        ("x-api-key: 9f8e7d", "x-api-key: <redacted>"),
        ("client_secret='two words'", "client_secret='<redacted>'"),
        ("OPENAI key sk-proj-abcdefghijklmnop1234", "OPENAI key <redacted>"),
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:<redacted>@db:5432/app"),
        ("redis://:s3cret@cache:6379/0", "redis://:<redacted>@cache:6379/0"),
        ("password_file=/run/secrets/pg tokens remaining: 500", "password_file=/run/secrets/pg "
         "tokens remaining: 500"),
    ],
)  # fmt: skip
def test_secret_shapes_are_redacted(text, expected):
    assert redact_secrets(text) == expected


def test_secrets_are_redacted_in_every_field_of_a_record(stream):
    secrets = Secrets()
    secrets.add("known-config-secret")
    configure_logging("INFO", secrets.scrub, stream=stream, env={})
    log = logging.getLogger("obsstack.demo")
    try:
        raise ConnectionError("cannot reach postgresql://app:hunter2@db/app")
    except ConnectionError:
        log.exception(
            "request failed with token known-config-secret",
            extra={
                "headers": {"Authorization": "Bearer abc", "Accept": "*/*", "Cookie": "sid=1"},
                "db_password": "pw-in-extra",
                "attempts": 3,
            },
        )
    text = stream.getvalue()
    for secret in ("hunter2", "known-config-secret", "abc", "sid=1", "pw-in-extra"):
        assert secret not in text
    [line] = lines(stream)
    assert line["headers"] == {
        "Authorization": "<redacted>",
        "Accept": "*/*",
        "Cookie": "<redacted>",
    }
    assert line["db_password"] == "<redacted>"
    assert line["attempts"] == 3
    assert "postgresql://app:<redacted>@db/app" in str(line["exc_info"])


def test_the_probe_exporter_call_still_works(stream):
    handler = configure_logging("info", Secrets().scrub, stream)
    logging.getLogger("obsstack.probe").info("probe ok")
    assert isinstance(handler, logging.Handler)
    assert lines(stream)[0]["message"] == "probe ok"


def test_http_client_libraries_log_warnings_only_unless_asked(stream):
    configure_logging("DEBUG", stream=stream, env={})
    for name in ("httpx", "httpcore.http11", "httpcore.connection"):
        logging.getLogger(name).info("HTTP Request: GET http://qdrant:6333/readyz 200 OK")
        logging.getLogger(name).warning("kept")
    logging.getLogger("obsstack.probe").debug("own debug kept")
    assert [line["message"] for line in lines(stream)] == ["kept"] * 3 + ["own debug kept"]

    configure_logging("INFO", stream=stream, env={"OBSSTACK_LOG_LEVELS": "httpx=info"})
    logging.getLogger("httpx").info("asked for")
    assert lines(stream)[-1]["message"] == "asked for"


# -- logs over OTLP (obsstack.core.otel_logs), decoded by an OTLP/HTTP receiver double -------------

SERVICE = "unit-service"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    yield otlp
    otlp.close()


@pytest.fixture
def exporting(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The process's environment, for tests that export; the export is stopped afterwards."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OBSSTACK_LOG")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "50")
    forget_sdk_messages()
    yield monkeypatch
    stop_log_export()
    configure_logging("WARNING", env={})


def forget_sdk_messages() -> None:
    """Each test starts as a new process would: the SDK's exporter loggers drop a message
    repeated within 20 s (their DuplicateFilter), so that an earlier test's failure would keep
    this test's from being seen."""
    for name, logger in logging.Logger.manager.loggerDict.items():
        if name.startswith("opentelemetry") and isinstance(logger, logging.Logger):
            for found in logger.filters:
                if hasattr(found, "last_log"):
                    del found.last_log


def otlp_handlers() -> list[OtlpLogHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, OtlpLogHandler)]


@pytest.mark.parametrize(
    ("env", "exported"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://collector:4318/v1/logs"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_LOGS_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_LOGS_EXPORTER": "console"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_LOGS_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, True),
    ],
)
def test_logs_are_exported_only_when_an_endpoint_is_configured(env, exported):
    assert otel.export_configured("logs", env) is exported


def test_without_an_endpoint_configure_logging_adds_no_export(stream, exporting):
    configure_logging("INFO", stream=stream, service_name=SERVICE)
    assert otlp_handlers() == []
    exporting.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    exporting.setenv("OTEL_SDK_DISABLED", "true")
    configure_logging("INFO", stream=stream, service_name=SERVICE)
    assert otlp_handlers() == []


def test_records_leave_with_severity_trace_context_resource_and_no_secret(
    stream, exporting, receiver
):
    exporting.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http.url)
    exporting.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
    secrets = Secrets()
    secrets.add("known-config-secret")
    configure_logging(
        "INFO", secrets.scrub, stream=stream, service_name=SERVICE, service_version="9.9.9"
    )
    log = logging.getLogger("obsstack.demo")
    tracer = TracerProvider().get_tracer("test")
    token = REQUEST_ID.set("req-7")
    try:
        set_tenant("acme")
        with tracer.start_as_current_span("work") as span:
            log.warning(
                "calling the model with Authorization: Bearer sk-live-0123456789abcdefghij",
                extra={
                    "agent_type": "planner",
                    "attempts": 3,
                    "headers": {"Authorization": "Basic c2VjcmV0", "Accept": "*/*"},
                    "db_password": "pw-in-extra",
                    "note": "token known-config-secret leaked",
                },
            )
        try:
            raise ConnectionError("cannot reach postgresql://app:hunter2@db/app")
        except ConnectionError:
            log.exception("request failed")
    finally:
        REQUEST_ID.reset(token)
        set_tenant(None)
    log.info("outside any request")
    wait_until(lambda: len(receiver.logs) == 3, 10, "three exported records")

    warning, error, outside = receiver.logs
    context = span.get_span_context()
    assert warning.body == "calling the model with Authorization: Bearer <redacted>"
    assert (warning.severity_text, warning.severity_number) == ("WARN", 13)
    assert warning.trace_id == f"{context.trace_id:032x}"
    assert warning.span_id == f"{context.span_id:016x}"
    assert warning.scope == "obsstack.demo"
    assert {
        k: warning.attributes[k]
        for k in ("agent_type", "attempts", "headers", "db_password", "note", "request_id")
    } == {
        "agent_type": "planner",
        "attempts": 3,
        "headers": {"Authorization": "<redacted>", "Accept": "*/*"},
        "db_password": "<redacted>",
        "note": "token <redacted> leaked",
        "request_id": "req-7",
    }
    assert warning.attributes["tenant_id"] == "acme"
    assert warning.resource["service.name"] == SERVICE
    assert warning.resource["service.version"] == "9.9.9"
    assert warning.resource["deployment.environment.name"] == "test"
    assert len(str(warning.resource["service.instance.id"])) == 36

    assert (error.severity_text, error.body, error.trace_id) == ("ERROR", "request failed", "")
    assert error.attributes["exception.type"] == "ConnectionError"
    assert "postgresql://app:<redacted>@db/app" in str(error.attributes["exception.stacktrace"])
    assert not {"request_id", "tenant_id"} & set(outside.attributes)

    exported = repr(receiver.logs)
    for secret in ("sk-live-0123", "c2VjcmV0", "pw-in-extra", "known-config-secret", "hunter2"):
        assert secret not in exported
    # The JSON lines are written as before, beside the export.
    assert [line["message"] for line in lines(stream)] == [
        "calling the model with Authorization: Bearer <redacted>",
        "request failed",
        "outside any request",
    ]


def test_the_export_survives_configure_logging_and_keeps_its_service(stream, exporting, receiver):
    exporting.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http.url)
    configure_logging("INFO", stream=stream, service_name=SERVICE)
    configure_logging("INFO", stream=stream)  # e.g. an application setting its levels again
    [handler] = otlp_handlers()
    logging.getLogger("app").info("still exported")
    wait_until(lambda: receiver.logs, 10, "the record")
    assert [(r.body, r.service) for r in receiver.logs] == [("still exported", SERVICE)]
    configure_logging("INFO", stream=stream, service_name="another-service")
    assert otlp_handlers() != [handler]


def test_a_stalled_collector_costs_dropped_records_not_memory_or_time(stream, exporting, receiver):
    exporting.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http.url)
    exporting.setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "64")
    exporting.setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "16")
    receiver.stall()
    configure_logging("INFO", stream=stream, service_name=SERVICE)
    log = logging.getLogger("app")
    log.info("first")
    wait_until(lambda: receiver.log_exports == 1, 10, "an export to hang")
    slowest = 0.0
    for i in range(5000):
        started = time.perf_counter()
        log.info("record %d", i, extra={"payload": "x" * 100})
        slowest = max(slowest, time.perf_counter() - started)
    receiver.release()
    wait_until(lambda: len(receiver.logs) >= 65, 10, "the queued records")
    time.sleep(0.5)  # nothing more arrives: the rest was dropped, not queued
    assert 65 <= len(receiver.logs) <= 1 + 64
    assert receiver.logs[0].body == "first"
    assert slowest < 1.0  # a log call never waits for the collector
    [dropped] = [line for line in lines(stream) if line["logger"] == "obsstack.log_export"]
    assert dropped["message"] == "log records dropped: the OTLP export queue is full"
    assert dropped["dropped_records"] == 1  # counted until now; the next line comes much later


def test_a_hung_collector_is_reported_failing_after_its_queue_filled(stream, exporting, receiver):
    """A collector that never answers fills the queue before the first export times out: the
    line about the full queue does not hold back the one that says export is failing."""
    exporting.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http.url)
    exporting.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    exporting.setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "16")
    exporting.setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "8")
    receiver.stall()
    configure_logging("INFO", stream=stream, service_name=SERVICE)
    log = logging.getLogger("app")
    for i in range(100):
        log.info("record %d", i)

    def export_lines() -> list[str]:
        return [str(line["message"]) for line in lines(stream) if line["logger"] != "app"]

    try:
        wait_until(lambda: len(export_lines()) >= 2, 10, "the failing export to be reported")
        assert export_lines() == [
            "log records dropped: the OTLP export queue is full",
            "log export over OTLP is failing: records are dropped, not kept, until it works",
        ]
    finally:
        receiver.release()


def test_a_refusing_collector_is_reported_once_instead_of_the_sdks_messages(stream, exporting):
    exporting.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", f"http://127.0.0.1:{free_port()}/v1/logs")
    exporting.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    configure_logging("INFO", stream=stream, service_name=SERVICE)
    [handler] = otlp_handlers()
    log = logging.getLogger("app")
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        log.info("tick")
        time.sleep(0.05)
    assert handler.health.handed > 20  # several batches were tried (and failed)
    export_lines = [line for line in lines(stream) if line["logger"] != "app"]
    assert [line["logger"] for line in export_lines] == ["obsstack.log_export"]
    [failing] = export_lines
    assert failing["level"] == "WARNING"
    assert failing["message"] == (
        "log export over OTLP is failing: records are dropped, not kept, until it works"
    )
    assert str(failing["endpoint"]).startswith("http://127.0.0.1:")
    assert failing["failed_batches"] == 1
    assert failing["reason"]


def test_a_recovered_collector_is_reported_once_too(stream, exporting, receiver):
    exporting.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http.url)
    exporting.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5")
    receiver.stall()
    configure_logging("INFO", stream=stream, service_name=SERVICE)
    log = logging.getLogger("app")
    log.info("lost")
    wait_until(
        lambda: any(line["logger"] == "obsstack.log_export" for line in lines(stream)),
        10,
        "the failure to be reported",
    )
    receiver.release()
    log.info("delivered")
    wait_until(lambda: "delivered" in receiver.log_bodies(), 10, "the next record")
    wait_until(lambda: len(lines(stream)) == 4, 5, "the recovery line")
    assert [line["message"] for line in lines(stream) if line["logger"] != "app"] == [
        "log export over OTLP is failing: records are dropped, not kept, until it works",
        "log export over OTLP works again",
    ]


def test_bad_queue_settings_are_one_line_errors(exporting):
    exporting.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    exporting.setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "lots")
    with pytest.raises(ConfigError) as error:
        configure_logging("INFO", stream=io.StringIO(), service_name=SERVICE)
    assert str(error.value) == (
        "OTEL_BLRP_MAX_QUEUE_SIZE: must be a whole number from 1 to 1000000 (got 'lots')"
    )
