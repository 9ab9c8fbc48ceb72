"""Server spans started the way the SDK starts them, without its general path where the
outcome is known.

``Tracer.start_span`` asks the sampler through a chain of calls, builds a sampling result and
the span's attributes, and only then knows whether the span is recorded. For the samplers the
SDK ships (``always_on``, ``always_off``, ``traceidratio`` and their ``parentbased_`` forms, as
``OTEL_TRACES_SAMPLER`` sets them) with its random id generator, the outcome is a function of
the trace id and the parent: :class:`ServerSpans` computes it directly, makes the span the SDK
would make (a ``NonRecordingSpan``, or the SDK's own recording span with the arguments
``start_span`` gives it, started through the span processors), counts it in the SDK's span
metrics, and builds the span's attributes only for a span that records them; attributes that
the SDK's checks would keep as they are (string keys, strings within the length limit, integers,
within the count limit) are put in the span's bounded attributes without being checked one by
one, and the span, its attributes and its lists of events and links are given the fields their
constructors give them without the constructors' chain of keyword calls. Same ids from the same
random state, same span with the same fields, same processors: tests compare the two paths.
When the request ends, :func:`finish` gives the span its route, status and name the same way,
and :func:`end` ends it, handing the span processors the ``ReadableSpan`` the SDK's ``end``
hands them, made the same way.

Anything else takes ``tracer.start_span``: a user's sampler or id generator, a tracer that was
disabled or given another sampler, and an SDK whose ``start_span`` or samplers are not the ones
this was written against (opentelemetry-sdk 1.45; their source is fingerprinted).
"""

from __future__ import annotations

import functools
import random
import threading
from collections import deque
from collections.abc import Callable
from time import time_ns
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import sampling
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from obsstack.core.current_span import source_fingerprint
from obsstack.instrumentation.span_encoding import DEFAULT_STATUS

# Whether a span with this trace id and parent (a valid span context, or None) is sampled.
Decide = Callable[[int, SpanContext | None], bool]
Attributes = Callable[[], dict[str, Any]]

_TRACE_ID_LIMIT = (1 << 64) - 1
_FLAGS = {
    (sampled, random_id): TraceFlags(
        (TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        | (TraceFlags.RANDOM_TRACE_ID if random_id else TraceFlags.DEFAULT)
    )
    for sampled in (False, True)
    for random_id in (False, True)
}
# sha256 of the SDK code whose outcome ServerSpans reproduces or relies on, as
# opentelemetry-sdk 1.45 has it.
_VERIFIED = "434af9cf93ca419c86561e3f34c735beac4d0543b5eac72a634a9f78dc221eff"
_REPRODUCED = (
    sdk_trace.Tracer.start_span,
    sampling.StaticSampler.should_sample,
    sampling.TraceIdRatioBased.should_sample,
    sampling.ParentBased.should_sample,
    sampling._get_parent_trace_state,
    RandomIdGenerator.generate_trace_id,
    RandomIdGenerator.generate_span_id,
    sdk_trace._Span.__init__,
    sdk_trace.ReadableSpan.__init__,
    BoundedAttributes.__init__,
    BoundedList.__init__,
    BoundedAttributes._set_items,
    BoundedAttributes._setitem_locked,
    SpanContext.__new__,
    sdk_trace._check_span_ended,
    sdk_trace._Span.set_attributes,
    sdk_trace.Span.start,
    sdk_trace.Span.end,
    sdk_trace.Span._readable_span,
)


@functools.cache
def sdk_fingerprint() -> str:
    """The sha256 of the source of the SDK code :class:`ServerSpans` reproduces or relies on."""
    return source_fingerprint(_REPRODUCED)


def _decision(sampler: object) -> Decide | None:
    """How ``sampler`` decides, for the SDK's own samplers; None for any other."""
    kind = type(sampler)
    if kind.should_sample is sampling.StaticSampler.should_sample:  # type: ignore[attr-defined]
        decision = sampler._decision  # type: ignore[attr-defined]
        if decision is sampling.Decision.RECORD_AND_SAMPLE:
            return lambda trace_id, parent: True
        if decision is sampling.Decision.DROP:
            return lambda trace_id, parent: False
        return None
    if (
        kind.should_sample is sampling.TraceIdRatioBased.should_sample  # type: ignore[attr-defined]
        and kind.bound is sampling.TraceIdRatioBased.bound  # type: ignore[attr-defined]
        and kind.TRACE_ID_LIMIT == _TRACE_ID_LIMIT  # type: ignore[attr-defined]
    ):
        return lambda trace_id, parent: trace_id & _TRACE_ID_LIMIT < sampler._bound  # type: ignore[attr-defined]
    if kind.should_sample is sampling.ParentBased.should_sample:  # type: ignore[attr-defined]
        delegates = [
            _decision(getattr(sampler, name))
            for name in (
                "_root",
                "_remote_parent_sampled",
                "_remote_parent_not_sampled",
                "_local_parent_sampled",
                "_local_parent_not_sampled",
            )
        ]
        if None in delegates:
            return None
        root, remote_sampled, remote_unsampled, local_sampled, local_unsampled = delegates

        def parent_based(trace_id: int, parent: SpanContext | None) -> bool:
            if parent is None:
                return root(trace_id, None)  # type: ignore[misc]
            if parent.is_remote:
                chosen = remote_sampled if parent.trace_flags.sampled else remote_unsampled
            else:
                chosen = local_sampled if parent.trace_flags.sampled else local_unsampled
            return chosen(trace_id, parent)  # type: ignore[misc]

        return parent_based
    return None


class ServerSpans:
    """Starts the middleware's server spans for one SDK tracer."""

    def __init__(self, tracer: sdk_trace.Tracer, decide: Decide) -> None:
        self.tracer = tracer
        self.sampler = tracer.sampler
        self.id_generator = tracer.id_generator
        self.decide = decide

    @classmethod
    def for_tracer(cls, tracer: trace.Tracer) -> ServerSpans | None:
        """The shortcut for ``tracer``, or None where only ``start_span`` knows the outcome."""
        if type(tracer) is not sdk_trace.Tracer:
            return None
        if type(tracer.id_generator) is not RandomIdGenerator:
            return None
        decide = _decision(tracer.sampler)
        if decide is None or sdk_fingerprint() != _VERIFIED:
            return None
        return cls(tracer, decide)

    def start(
        self,
        name: str,
        context: Context | None,
        attributes: Attributes,
        parent_span: trace.Span | None = None,
    ) -> trace.Span:
        """A server span named ``name``, child of the span in ``context`` (or the current one:
        ``parent_span`` when the caller has it), with ``attributes()`` if it records them."""
        tracer = self.tracer
        if (
            tracer.sampler is not self.sampler
            or tracer.id_generator is not self.id_generator
            or not tracer._tracer_config.is_enabled
        ):
            return tracer.start_span(name, context, SpanKind.SERVER, attributes())
        if parent_span is None:
            parent_span = trace.get_current_span(context)
        parent: SpanContext | None = parent_span.get_span_context()
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = random.getrandbits(128)
            while not trace_id:
                trace_id = random.getrandbits(128)
            random_id = True
            trace_state = DEFAULT_TRACE_STATE
        else:
            trace_id = parent.trace_id
            random_id = parent.trace_flags.random_trace_id
            trace_state = parent.trace_state
        sampled = self.decide(trace_id, parent)
        span_id = random.getrandbits(64)
        while not span_id:
            span_id = random.getrandbits(64)
        flags = _FLAGS[sampled, random_id]
        # SpanContext(trace_id, span_id, False, flags, trace_state), whose ids are valid
        span_context = tuple.__new__(
            SpanContext,
            (trace_id, span_id, False, flags, trace_state, True),
        )
        decision = sampling.Decision.RECORD_AND_SAMPLE if sampled else sampling.Decision.DROP
        record_end_metrics = tracer._tracer_metrics.start_span(parent, decision)
        if not sampled:
            return NonRecordingSpan(span_context)
        values = attributes()
        limits = tracer._span_limits
        if _plain(values, limits.max_span_attributes, limits.max_span_attribute_length):
            # What the span's BoundedAttributes would keep of them: all, unchanged.
            span = _recording_span(
                name, span_context, parent, self.sampler, tracer, dict(values), record_end_metrics
            )
        else:
            span = sdk_trace._Span(
                name=name,
                context=span_context,
                parent=parent,
                sampler=self.sampler,
                resource=tracer.resource,
                attributes=values,
                span_processor=tracer.span_processor,
                kind=SpanKind.SERVER,
                links=(),
                instrumentation_info=tracer.instrumentation_info,
                record_exception=True,
                set_status_on_exception=True,
                limits=limits,
                instrumentation_scope=tracer._instrumentation_scope,
                record_end_metrics=record_end_metrics,
            )
        # span.start(parent_context=context), for a span no other thread has seen yet
        span._start_time = time_ns()
        span._span_processor.on_start(span, parent_context=context)
        return span


_new = object.__new__


def _recording_span(
    name: str,
    context: SpanContext,
    parent: SpanContext | None,
    sampler: sampling.Sampler,
    tracer: sdk_trace.Tracer,
    values: dict[str, Any],
    record_end_metrics: Callable[[], None],
) -> sdk_trace._Span:
    """``_Span(name=name, context=context, ..., kind=SERVER, links=(), limits=tracer's)`` with
    ``values`` as its attributes: the fields ``ReadableSpan.__init__`` and then
    ``Span.__init__`` set, in their order, to the values they set them to."""
    limits = tracer._span_limits
    span = _new(sdk_trace._Span)
    span._name = name
    span._context = context
    span._kind = SpanKind.SERVER
    span._instrumentation_info = tracer.instrumentation_info
    span._instrumentation_scope = tracer._instrumentation_scope
    span._parent = parent
    span._start_time = None
    span._end_time = None
    span._attributes = None  # as ReadableSpan.__init__ sets them first: set again below
    span._events = ()
    span._links = ()
    span._resource = tracer.resource
    span._status = DEFAULT_STATUS  # shared by every span
    span._sampler = sampler
    span._trace_config = None
    span._record_exception = True
    span._set_status_on_exception = True
    span._span_processor = tracer.span_processor
    span._limits = limits
    span._lock = threading.Lock()
    bounded = _new(BoundedAttributes)
    bounded._dict = values
    bounded.maxlen = limits.max_span_attributes
    bounded.dropped = 0
    bounded.max_value_len = limits.max_span_attribute_length
    bounded._lock = threading.Lock()
    bounded._immutable = False
    span._attributes = bounded
    span._events = _bounded_list(limits.max_events)
    span._links = _bounded_list(limits.max_links)
    span._record_end_metrics = record_end_metrics
    return span


def _bounded_list(maxlen: int | None) -> BoundedList[Any]:
    """``BoundedList(maxlen)``."""
    made: BoundedList[Any] = _new(BoundedList)
    made.dropped = 0
    made._dq = deque(maxlen=maxlen)  # type: ignore[attr-defined]
    made._lock = threading.Lock()  # type: ignore[attr-defined]
    return made


def finish(span: trace.Span, name: str | None, attributes: dict[str, Any]) -> None:
    """``span.update_name(name)`` (unless None) and ``span.set_attributes(attributes)``: on the
    SDK's recording span, with values its checks would keep as they are, set under its locks in
    one step."""
    bounded = getattr(span, "_attributes", None)
    if (
        sdk_fingerprint() == _VERIFIED
        and type(span) is sdk_trace._Span
        and type(bounded) is BoundedAttributes
        and _plain(attributes, bounded.maxlen, bounded.max_value_len)
    ):
        with span._lock:
            if span._end_time is None and not bounded._immutable:
                if name is not None:
                    span._name = name
                with bounded._lock:
                    for key, value in attributes.items():
                        bounded._setitem_locked(key, value)
                return
    # Anything else, and an ended span (which the SDK's calls warn of).
    if name is not None:
        span.update_name(name)
    span.set_attributes(attributes)


def end(span: trace.Span) -> None:
    """``span.end()``; for the SDK's recording span, its steps, with the ``ReadableSpan`` the
    span processors are given made without the constructor's keyword call."""
    if sdk_fingerprint() != _VERIFIED or type(span) is not sdk_trace._Span:
        span.end()
        return
    with span._lock:
        ending = span._start_time is not None and span._end_time is None
        if ending:
            span._end_time = time_ns()
            span._attributes._immutable = True  # type: ignore[union-attr]
    if not ending:  # not started, or ended: the SDK says so
        span.end()
        return
    if span._record_end_metrics:
        span._record_end_metrics()
    processor = span._span_processor
    processor._on_ending(span)
    # span._readable_span()
    readable = _new(sdk_trace.ReadableSpan)
    readable._name = span._name
    readable._context = span._context
    readable._kind = span._kind
    readable._instrumentation_info = span._instrumentation_info
    readable._instrumentation_scope = span._instrumentation_scope
    readable._parent = span._parent
    readable._start_time = span._start_time
    readable._end_time = span._end_time
    readable._attributes = span._attributes
    readable._events = span._events
    readable._links = span._links
    readable._resource = span._resource
    readable._status = span._status
    processor.on_end(readable)


def _plain(values: dict[str, Any], most: int | None, longest: int | None) -> bool:
    """Whether the SDK's attribute checks would keep ``values`` as they are: non-empty string
    keys, string and integer values no longer than ``longest``, no more than ``most``."""
    if most is not None and len(values) > most:
        return False
    for key, value in values.items():
        kind = type(value)
        if not (key and type(key) is str) or not (
            kind is int or (kind is str and (longest is None or len(value) <= longest))
        ):
            return False
    return True
