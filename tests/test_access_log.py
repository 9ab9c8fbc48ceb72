"""uvicorn's access lines: written straight to the JSON handler when only it would see them,
the same bytes the standard path writes; the standard path whenever anything else would see
the record (another handler, a filter, a level, the OTLP export, keyword arguments)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider

from obsstack.core.access_log import ACCESS_LOGGER, AccessLogger
from obsstack.core.logs import REQUEST_ID, TENANT_ID, configure_logging

ACCESS = '%s - "%s %s HTTP/%s" %d'  # uvicorn's call
access = logging.getLogger(ACCESS_LOGGER)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    configure_logging("INFO", stream=buffer, env={})
    yield buffer
    configure_logging("WARNING", env={})


def only_the_json_handler(monkeypatch: pytest.MonkeyPatch) -> logging.Handler:
    """Take pytest's log capture off the root logger for the test (it is a second handler,
    which rightly sends every record the standard way)."""
    root = logging.getLogger()
    [handler] = [h for h in root.handlers if type(h) is logging.StreamHandler]
    monkeypatch.setattr(root, "handlers", [handler])
    return handler


def refuse_records(*args: Any, **kwargs: Any) -> logging.LogRecord:
    raise AssertionError("a LogRecord was made")


def standard_line(stream: io.StringIO, *args: Any) -> str:
    """The line the standard path writes for the same call (a pass-through filter on the
    handler turns the direct path off)."""
    [handler] = logging.getLogger().handlers
    passing = logging.Filter()
    handler.addFilter(passing)
    try:
        access.info(*args)
    finally:
        handler.removeFilter(passing)
    return stream.getvalue().splitlines()[-1]


_text = st.text(max_size=40)
_paths = _text | st.sampled_from(
    ["/v1/x?token=abc123", "/login?password=hunter2", "/caf\u00e9/%41"]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    client=_text,
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    path=_paths,
    status=st.integers(100, 599),
    request_id=st.none() | _text,
    tenant=st.none() | _text | st.just("api_key=sk-" + "a" * 20),
    traced=st.booleans(),
)
def test_an_access_line_is_the_line_the_standard_path_writes(
    stream, monkeypatch, client, method, path, status, request_id, tenant, traced
):
    only_the_json_handler(monkeypatch)
    monkeypatch.setattr(time, "time", lambda: 1764745200.25)
    request_token, tenant_token = REQUEST_ID.set(request_id), TENANT_ID.set(tenant)
    span = TracerProvider().get_tracer("t").start_as_current_span("s")
    try:
        with span if traced else nullcontext():
            with monkeypatch.context() as patch:
                patch.setattr(logging.Logger, "makeRecord", refuse_records)  # none needed
                access.info(ACCESS, client, method, path, "1.1", status)
            direct = stream.getvalue().splitlines()[-1]
            standard = standard_line(stream, ACCESS, client, method, path, "1.1", status)
    finally:
        REQUEST_ID.reset(request_token)
        TENANT_ID.reset(tenant_token)
    assert direct == standard
    assert "abc123" not in direct and "hunter2" not in direct and "sk-aaaa" not in direct


def test_uvicorn_access_is_an_access_logger_after_configure_logging(stream, monkeypatch):
    only_the_json_handler(monkeypatch)
    monkeypatch.setattr(logging.Logger, "makeRecord", refuse_records)
    assert type(access) is AccessLogger
    access.info("%(who)s came", {"who": "a mapping"})
    assert json.loads(stream.getvalue())["message"] == "a mapping came"


class Keeping(logging.Handler):
    """A user's handler: keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)


def records_of(logger: logging.Logger) -> list[logging.LogRecord]:
    handler = Keeping()
    logger.addHandler(handler)
    return handler.seen


def test_a_second_handler_on_the_root_gets_the_record_too(stream, monkeypatch):
    only_the_json_handler(monkeypatch)
    root = logging.getLogger()
    seen = records_of(root)
    try:
        access.info(ACCESS, "127.0.0.1:5", "GET", "/x", "1.1", 200)
    finally:
        root.removeHandler(root.handlers[-1])
    assert [r.getMessage() for r in seen] == ['127.0.0.1:5 - "GET /x HTTP/1.1" 200']
    assert json.loads(stream.getvalue())["message"] == seen[0].getMessage()


def test_a_handler_on_uvicorn_gets_the_record_and_the_line_is_still_written(stream, monkeypatch):
    only_the_json_handler(monkeypatch)
    seen = records_of(logging.getLogger("uvicorn"))
    try:
        access.info(ACCESS, "127.0.0.1:5", "GET", "/y", "1.1", 404)
    finally:
        logging.getLogger("uvicorn").handlers.clear()
    assert len(seen) == 1
    assert json.loads(stream.getvalue())["message"].endswith("404")


def test_a_filter_on_the_access_logger_still_decides(stream, monkeypatch):
    only_the_json_handler(monkeypatch)
    dropping = logging.Filter("nothing.matches")
    access.addFilter(dropping)
    try:
        access.info(ACCESS, "127.0.0.1:5", "GET", "/healthz", "1.1", 200)
    finally:
        access.removeFilter(dropping)
    assert stream.getvalue() == ""


def test_levels_and_logging_disable_still_decide():
    buffer = io.StringIO()
    configure_logging("INFO", stream=buffer, levels={ACCESS_LOGGER: "warning"}, env={})
    try:
        access.info(ACCESS, "127.0.0.1:5", "GET", "/a", "1.1", 200)
        configure_logging("INFO", stream=buffer, env={})
        logging.disable(logging.INFO)
        access.info(ACCESS, "127.0.0.1:5", "GET", "/b", "1.1", 200)
    finally:
        logging.disable(logging.NOTSET)
        configure_logging("WARNING", env={})
    assert buffer.getvalue() == ""


def test_keyword_arguments_and_a_replaced_formatter_take_the_standard_path(stream, monkeypatch):
    handler = only_the_json_handler(monkeypatch)
    access.info(ACCESS, "127.0.0.1:5", "GET", "/c", "1.1", 200, extra={"route": "/c"})
    assert json.loads(stream.getvalue())["route"] == "/c"
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    access.info(ACCESS, "127.0.0.1:5", "GET", "/d", "1.1", 200)
    assert stream.getvalue().splitlines()[-1] == 'INFO 127.0.0.1:5 - "GET /d HTTP/1.1" 200'


def test_a_failing_stream_is_reported_as_logging_reports_it(stream, monkeypatch, capsys):
    only_the_json_handler(monkeypatch)
    monkeypatch.setattr(logging.Logger, "makeRecord", refuse_records)

    def broken(text: str) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(stream, "write", broken)
    access.info(ACCESS, "127.0.0.1:5", "GET", "/e", "1.1", 200)  # no exception escapes
    assert "disk full" in capsys.readouterr().err


def test_a_handler_above_the_json_handler_gets_the_record_too(stream, monkeypatch):
    handler = only_the_json_handler(monkeypatch)
    uvicorn = logging.getLogger("uvicorn")
    monkeypatch.setattr(uvicorn, "handlers", [handler])  # the JSON handler on "uvicorn"...
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    seen = records_of(logging.getLogger())  # ...and another on the root
    access.info(ACCESS, "127.0.0.1:5", "GET", "/f", "1.1", 200)
    assert len(seen) == 1
    assert json.loads(stream.getvalue())["message"].endswith("200")
