"""configure_logging: JSON lines with context fields, per-logger levels, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from exporters.logs import REQUEST_ID, configure_logging, redact_secrets, set_tenant
from exporters.spec import ConfigError, Secrets


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    yield buffer
    configure_logging("WARNING", env={})  # leave no per-logger levels behind


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_record_is_one_json_line_with_the_standard_fields(stream):
    configure_logging("INFO", stream=stream, env={})
    logging.getLogger("exporters.demo").info("served %d queries", 3, extra={"agent": "planner"})
    [line] = lines(stream)
    assert list(line)[:4] == ["timestamp", "level", "logger", "message"]
    assert line["level"] == "INFO"
    assert line["logger"] == "exporters.demo"
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
        levels={"exporters.kpis": "debug", "noisy": "info"},
        env={"OBSSTACK_LOG_LEVELS": "noisy=error, uvicorn.access=warning"},
    )
    logging.getLogger("exporters.kpis.engine").debug("kept: child of a debug logger")
    logging.getLogger("noisy").warning("dropped: the environment raised it to error")
    logging.getLogger("other").info("dropped: root is warning")
    logging.getLogger("uvicorn.access").info("dropped")
    assert [line["message"] for line in lines(stream)] == ["kept: child of a debug logger"]


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
    log = logging.getLogger("exporters.demo")
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
