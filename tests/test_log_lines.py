"""The JSON line of a record is what python-json-logger's own steps make of it, byte for byte.

The formatter writes the common record (no exception, stack or dict message) straight to its
line; python-json-logger's ``JsonFormatter`` steps (fields, renaming, the scrub, its encoder),
run by a subclass that keeps them all, are the oracle for every record hypothesis makes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace

from obsstack.core.logs import (
    ContextFilter,
    ScrubbingJsonFormatter,
    request_context,
    utc_timestamp,
)


class StepByStep(ScrubbingJsonFormatter):
    """The same formatter, made to run python-json-logger's steps one by one."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return super().process_log_record(log_data)


def _record(message: Any, args: tuple[Any, ...], extra: dict[str, Any], created: float) -> Any:
    record = logging.getLogger("app.orders").makeRecord(
        "app.orders", logging.WARNING, __file__, 1, message, args, None, extra=extra or None
    )
    record.created = created
    return record


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
_secretive = st.sampled_from(
    ["password=hunter2", "Authorization: Bearer abc.def", "postgres://u:pw@db/x", "sk-" + "a" * 20]
)
_keys = st.text(min_size=1).filter(
    lambda key: key not in logging.LogRecord.__dict__
) | st.sampled_from(
    ["api_key", "tenant_id", "request_id", "trace_id", "timestamp", "level", "_private", "dsn"]
)


@given(
    message=st.text() | _secretive,
    extra=st.dictionaries(_keys, _values | _secretive, max_size=4),
    created=st.floats(min_value=-1e10, max_value=4e9, allow_nan=False),
)
def test_a_line_is_what_python_json_loggers_steps_make(
    message: str, extra: dict[str, Any], created: float
) -> None:
    reserved = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
    extra = {key: value for key, value in extra.items() if key not in reserved}
    record = _record(message, (), extra, created)
    assert ScrubbingJsonFormatter().format(record) == StepByStep().format(record)


def test_an_access_line_with_request_context_matches_too() -> None:
    record = _record(
        '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/x?token=abc", "1.1", 200), {}, 1.5
    )
    ContextFilter().filter(record)
    record.request_id = "r-1"
    line = ScrubbingJsonFormatter().format(record)
    assert line == StepByStep().format(record)
    assert "abc" not in line


@given(st.floats(min_value=-1e10, max_value=4e9, allow_nan=False))
def test_timestamps_are_those_datetime_writes(created: float) -> None:
    assert utc_timestamp(created) == datetime.fromtimestamp(created, tz=UTC).isoformat()


@given(
    trace_id=st.integers(min_value=1, max_value=2**128 - 1),
    span_id=st.integers(min_value=1, max_value=2**64 - 1),
)
def test_a_lines_trace_and_span_ids_are_the_ones_opentelemetry_formats(
    trace_id: int, span_id: int
) -> None:
    span = trace.NonRecordingSpan(trace.SpanContext(trace_id, span_id, False))
    with trace.use_span(span):
        fields = request_context()
    assert fields["trace_id"] == trace.format_trace_id(trace_id)
    assert fields["span_id"] == trace.format_span_id(span_id)
