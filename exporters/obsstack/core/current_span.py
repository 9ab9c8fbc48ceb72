"""The current OpenTelemetry span, read and set on the API's context variable itself.

``trace.get_current_span()``, ``context.attach(trace.set_span_in_context(span))`` and
``context.detach(token)`` reach one ``ContextVar`` through four or five layers of calls, and a
traced request makes each of them once or more (the server span, every log line's trace id).
When the API keeps its context in that variable (its default runtime context, unless
``OTEL_PYTHON_CONTEXT`` names another) and its functions are the ones this was checked against
(opentelemetry-api 1.45, their source fingerprinted), the same values are read and set on the
variable directly; otherwise the API's functions do it.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import propagation

# sha256 of the API code whose outcome this module reproduces, as opentelemetry-api 1.45 has it.
_VERIFIED = "2ed3a06a040d3379cddce2e1b4ac4b08a1d963637335df00700a19a5d72c07e5"
_REPRODUCED = (
    otel_context.get_value,
    otel_context.set_value,
    otel_context.get_current,
    otel_context.attach,
    otel_context.detach,
    ContextVarsRuntimeContext,
    propagation.set_span_in_context,
    propagation.get_current_span,
)
_SPAN_KEY = propagation._SPAN_KEY
# Classes found to be spans: a class once a Span stays one (an ABC's registrations are kept),
# and its check costs four times a set lookup.
_SPAN_TYPES: set[type] = set()


def source_fingerprint(code: tuple[Callable[..., Any] | type, ...]) -> str:
    """The sha256 of the source of ``code`` ("" where no source is installed)."""
    try:
        source = "\n".join(inspect.getsource(part) for part in code)
    except (OSError, TypeError):
        return ""
    return hashlib.sha256(source.encode()).hexdigest()


@functools.cache
def _variable(runtime: object) -> ContextVar[Context] | None:
    """The context variable of the API's runtime context, when it is the one verified."""
    if type(runtime) is not ContextVarsRuntimeContext or source_fingerprint(_REPRODUCED) != (
        _VERIFIED
    ):
        return None
    return runtime._current_context


def current_span() -> trace.Span:
    """``trace.get_current_span()``."""
    variable = _variable(otel_context._RUNTIME_CONTEXT)
    if variable is None:
        return trace.get_current_span()
    span = variable.get().get(_SPAN_KEY)
    if type(span) in _SPAN_TYPES:
        return cast(trace.Span, span)
    if span is None or not isinstance(span, trace.Span):
        return trace.INVALID_SPAN
    _SPAN_TYPES.add(type(span))
    return span


def attach_span(span: trace.Span) -> Token[Context]:
    """``context.attach(trace.set_span_in_context(span))``: ``span`` becomes the current span."""
    variable = _variable(otel_context._RUNTIME_CONTEXT)
    if variable is None:
        return otel_context.attach(trace.set_span_in_context(span))
    values = variable.get().copy()
    values[_SPAN_KEY] = span
    return variable.set(Context(values))


def detach(token: Token[Context]) -> None:
    """``context.detach(token)``: the context before :func:`attach_span` is current again."""
    variable = _variable(otel_context._RUNTIME_CONTEXT)
    if variable is not None:
        try:
            variable.reset(token)
            return
        except (RuntimeError, ValueError):  # a token used before, or made in another context
            pass  # the API's detach fails the same way, and logs it as it does
    otel_context.detach(token)
