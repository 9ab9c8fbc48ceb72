"""The current span read and set on the context variable is the one the OpenTelemetry API
reads and sets: spans attached by either are seen by both, detaching restores what was current,
a token used twice is logged as the API logs it, and an unknown runtime context or API source
takes the API's own functions."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import NonRecordingSpan, SpanContext
from opentelemetry.trace.propagation import _SPAN_KEY

from obsstack.core import current_span as module
from obsstack.core.current_span import attach_span, current_span, detach


def _span(number: int) -> trace.Span:
    return NonRecordingSpan(SpanContext(number, number, False))


class _OtherRuntime(ContextVarsRuntimeContext):
    """A runtime context of a user's (OTEL_PYTHON_CONTEXT), which may keep its context
    elsewhere."""


@pytest.fixture(params=["direct", "other runtime", "other source"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test runs with the shortcut, and with each reason to leave it to the API."""
    if request.param == "other runtime":
        monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", _OtherRuntime())
    elif request.param == "other source":
        monkeypatch.setattr(module, "_VERIFIED", "0" * 64)
    module._variable.cache_clear()
    yield request.param
    module._variable.cache_clear()


def test_the_shortcut_is_taken_only_for_the_verified_api(way: str) -> None:
    taken = module._variable(otel_context._RUNTIME_CONTEXT) is not None
    assert taken is (way == "direct")


def test_without_a_span_the_current_one_is_the_invalid_span(way: str) -> None:
    assert current_span() is trace.get_current_span() is trace.INVALID_SPAN
    token = otel_context.attach(otel_context.set_value(_SPAN_KEY, "not a span"))
    try:
        assert current_span() is trace.INVALID_SPAN
    finally:
        otel_context.detach(token)


def test_a_span_attached_either_way_is_current_for_both(way: str) -> None:
    outer, inner = _span(1), _span(2)
    token = otel_context.attach(trace.set_span_in_context(outer))
    assert current_span() is outer
    inner_token = attach_span(inner)
    assert current_span() is trace.get_current_span() is inner
    other = otel_context.attach(otel_context.set_value("other-key", 7))
    assert current_span() is inner and otel_context.get_value("other-key") == 7
    otel_context.detach(other)
    detach(inner_token)
    assert current_span() is trace.get_current_span() is outer
    otel_context.detach(token)
    assert current_span() is trace.INVALID_SPAN


def test_attaching_keeps_every_other_value_of_the_context(way: str) -> None:
    token = otel_context.attach(otel_context.set_value("tenant-key", "acme"))
    span = _span(3)
    span_token = attach_span(span)
    assert dict(otel_context.get_current()) == {"tenant-key": "acme", _SPAN_KEY: span}
    assert type(otel_context.get_current()) is otel_context.Context
    detach(span_token)
    assert dict(otel_context.get_current()) == {"tenant-key": "acme"}
    otel_context.detach(token)


def test_a_token_detached_twice_is_logged_as_the_api_logs_it(
    way: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = attach_span(_span(4))
    detach(token)
    with caplog.at_level(logging.ERROR, logger="opentelemetry.context"):
        detach(token)
    [record] = caplog.records
    assert record.name == "opentelemetry.context"
    assert record.getMessage() == "Failed to detach context"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert current_span() is trace.INVALID_SPAN
