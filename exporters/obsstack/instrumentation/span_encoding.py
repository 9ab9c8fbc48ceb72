"""Spans as OTLP protobuf bytes, written directly: the bytes of the SDK's encoder, for a fifth
of its cost.

The OTLP exporters build a protobuf object for every span, attribute and value before
serialising them; in a service that is about 30 us of Python a span, on the export thread but
under the GIL, so the event loop waits for it. Here each span is written straight to the wire
format, fields in number order, as protobuf serialises them: ``encode_spans(spans)`` equals the
SDK's ``encode_spans(spans).SerializePartialToString()`` byte for byte (a test compares them on
spans with every kind of field). Resources and scopes are written once per batch; attribute
keys, and the pairs of a key and a short value that repeat, once per process.
"""

from __future__ import annotations

import functools
import inspect
import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from obsstack.core.current_span import source_fingerprint

_logger = logging.getLogger("obsstack.tracing")
# sha256 of the source of ReadableSpan, SpanContext and BoundedList as opentelemetry-api and -sdk
# 1.45 have them (:func:`_fields`).
_READABLE_SPAN_VERIFIED = "bc7df4aa8a4f9ab0b3dd6fee769b5083ac14e30c30de87ff93b53d1dc49cf995"

_INT64 = (-(2**63), 2**63 - 1)
_SPAN_KIND = {
    SpanKind.INTERNAL: b"\x30\x01",
    SpanKind.SERVER: b"\x30\x02",
    SpanKind.CLIENT: b"\x30\x03",
    SpanKind.PRODUCER: b"\x30\x04",
    SpanKind.CONSUMER: b"\x30\x05",
}
# Span.flags (fixed32, field 16): the parent's remoteness is known, and whether it is remote.
_SERVER_KIND = _SPAN_KIND[SpanKind.SERVER]
_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)
_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)
_LINK_FLAGS_LOCAL = b"\x35" + struct.pack("<I", 0x100)
_LINK_FLAGS_REMOTE = b"\x35" + struct.pack("<I", 0x300)
_EMPTY_STATUS = b"\x7a\x00"
_pack_fixed64 = struct.Struct("<Q").pack
_pack_double = struct.Struct("<d").pack


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    size = len(payload)
    return tag + (bytes((size,)) if size < 0x80 else _varint(size)) + payload


def _text(tag: bytes, value: str) -> bytes:
    return _field(tag, value.encode())


def _value(value: Any) -> bytes:
    """An AnyValue message (the order of tests is the SDK's)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(f"Value out of range: {value}")
        return b"\x18" + _varint(value if value >= 0 else value + 2**64)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _value(v)) for v in value]))
    if isinstance(value, Mapping):
        items = b"".join([_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()])
        return _field(b"\x32", items)
    raise Exception(f"Invalid type {type(value)} of value {value}")


# Encoded attribute keys (tag, length, key) of at most 64 bytes: they are few, and an inline
# pair of such a key and a short string stays under 128 bytes.
_keys: dict[str, bytes] = {}
# Whole fields (tag, length, KeyValue) of short strings and small integers, for the values that
# repeat from span to span (a method, a scheme, a host, a route, a status): the first _PAIRS_MAX
# seen; a value seen after that is written each time.
_pairs: dict[tuple[bytes, str, str | int], bytes] = {}
_PAIRS_MAX = 2048


def _key_value(key: str, value: Any) -> bytes:
    encoded = _keys.get(key)
    if encoded is None:
        encoded = _text(b"\x0a", key)
        if len(encoded) <= 66 and len(_keys) < 4096:
            _keys[key] = encoded
    return encoded + _field(b"\x12", _value(value))


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated KeyValue fields; short strings and small integers, the usual values, are
    written inline, and kept (:data:`_pairs`)."""
    if not attributes:
        return b""
    parts = []
    keys, pairs = _keys, _pairs
    for key, value in attributes.items():
        kind = type(value)
        if kind is str or kind is int:  # not bool: (tag, key, True) would find (tag, key, 1)
            known = pairs.get((tag, key, value))
            if known is not None:
                parts.append(known)
                continue
            encoded_key = keys.get(key)
            pair = None
            if encoded_key is not None and kind is str and len(value) < 40:
                text = value.encode()
                size = len(text)
                if size < 40:  # KeyValue {key, value: AnyValue {string_value}} under 128 bytes
                    pair = encoded_key + bytes((0x12, size + 2, 0x0A, size)) + text
            elif encoded_key is not None and kind is int and 0 <= value < 2**35:
                number = b"\x18" + _varint(value)  # AnyValue {int_value}: at most 6 bytes
                pair = encoded_key + bytes((0x12, len(number))) + number
            if pair is not None:
                known = tag + bytes((len(pair),)) + pair
                if len(pairs) < _PAIRS_MAX:
                    pairs[(tag, key, value)] = known
                parts.append(known)
                continue
        try:
            parts.append(_field(tag, _key_value(key, value)))
        except Exception as error:  # the SDK skips what it cannot encode, and says so
            _logger.exception("Failed to encode key %s: %s", key, error)
    return b"".join(parts)


def _optional_text(tag: bytes, value: str | None) -> bytes:
    return _text(tag, value) if value else b""


def _count(tag: bytes, value: int) -> bytes:
    return tag + _varint(value) if value else b""


def _status(status: Status) -> bytes:
    # Identity first: an enum's value and hash are Python calls.
    code, description = status.status_code, status.description
    if (code is StatusCode.UNSET or code.value == 0) and not description:
        return _EMPTY_STATUS
    body = _optional_text(b"\x12", description)
    if code.value:
        body += b"\x18" + _varint(code.value)
    return _field(b"\x7a", body)


# The status ReadableSpan.__init__ gives every span until one is set: one object, shared by all
# of them (a Status is immutable), written once.
DEFAULT_STATUS = inspect.signature(ReadableSpan.__init__).parameters["status"].default
_DEFAULT_STATUS_FIELD = _status(DEFAULT_STATUS)
# Encoded span names (tag, length, name) of at most 126 bytes: few, the routes of a service;
# the first _PAIRS_MAX seen.
_names: dict[str, bytes] = {}


def _fields(span: ReadableSpan) -> tuple[Any, ...]:
    """The trace and span ids, trace state, parent's span id and remoteness (None without a
    parent), name, kind, start and end times, attributes, events, links (each followed by its
    dropped count, events and links as an empty tuple when there are none) and status of
    ``span``: its properties, or for the SDK's ``ReadableSpan``, ``SpanContext`` and
    ``BoundedList`` the fields they read, whose attributes' inner dictionary spares a read-only
    view over a mapping iterated in Python."""
    if type(span) is ReadableSpan and _reads_fields():
        context, parent = span._context, span._parent
        events, links = span._events, span._links
        if (
            type(context) is SpanContext
            and (parent is None or type(parent) is SpanContext)
            and type(events) is BoundedList
            and type(links) is BoundedList
        ):
            attributes: Any = span._attributes
            dropped_attributes = 0
            if isinstance(attributes, BoundedAttributes):
                attributes, dropped_attributes = attributes._dict, attributes.dropped
            # SpanContext: (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid);
            # a BoundedList's iteration takes its lock and copies it: not for an empty one.
            return (
                context[0],
                context[1],
                context[4],
                None if parent is None else parent[1],
                None if parent is None else parent[2],
                span._name,
                span._kind,
                span._start_time,
                span._end_time,
                attributes,
                dropped_attributes,
                events if events._dq else (),  # type: ignore[attr-defined]
                events.dropped,
                links if links._dq else (),  # type: ignore[attr-defined]
                links.dropped,
                span._status,
            )
    context, parent = span.get_span_context(), span.parent
    assert context is not None  # an SDK span always has one
    return (
        context.trace_id,
        context.span_id,
        context.trace_state,
        None if parent is None else parent.span_id,
        None if parent is None else parent.is_remote,
        span.name,
        span.kind,
        span.start_time,
        span.end_time,
        span.attributes,
        span.dropped_attributes,
        span.events or (),
        span.dropped_events,
        span.links or (),
        span.dropped_links,
        span.status,
    )


@functools.cache
def _reads_fields() -> bool:
    """Whether ``ReadableSpan``, ``SpanContext`` and ``BoundedList`` are the ones this was
    written against (opentelemetry-api and -sdk 1.45, their source fingerprinted), whose
    properties return their fields."""
    return source_fingerprint((ReadableSpan, SpanContext, BoundedList)) == _READABLE_SPAN_VERIFIED


def _span(span: ReadableSpan) -> bytes:
    (
        trace_id,
        span_id,
        trace_state,
        parent_id,
        parent_remote,
        name,
        kind,
        start_time,
        end_time,
        attributes,
        dropped_attributes,
        events,
        dropped_events,
        links,
        dropped_links,
        status,
    ) = _fields(span)
    parts = [b"\x0a\x10" + trace_id.to_bytes(16, "big"), b"\x12\x08" + span_id.to_bytes(8, "big")]
    if trace_state is not DEFAULT_TRACE_STATE and trace_state:  # the default is empty
        state = ",".join([f"{key}={value}" for key, value in trace_state.items()])
        if state:
            parts.append(_text(b"\x1a", state))
    if parent_id is not None:
        parts.append(b"\x22\x08" + parent_id.to_bytes(8, "big"))
    if name:
        encoded_name = _names.get(name)
        if encoded_name is None:
            encoded_name = _text(b"\x2a", name)
            if len(encoded_name) <= 128 and len(_names) < _PAIRS_MAX:
                _names[name] = encoded_name
        parts.append(encoded_name)
    parts.append(_SERVER_KIND if kind is SpanKind.SERVER else _SPAN_KIND[kind])
    if start_time:
        parts.append(b"\x39" + _pack_fixed64(start_time))
    if end_time:
        parts.append(b"\x41" + _pack_fixed64(end_time))
    parts.append(_attributes(b"\x4a", attributes))
    if dropped_attributes:
        parts.append(b"\x50" + _varint(dropped_attributes))
    for event in events:
        body = b"\x09" + _pack_fixed64(event.timestamp) if event.timestamp else b""
        body += _optional_text(b"\x12", event.name)
        body += _attributes(b"\x1a", event.attributes)
        body += _count(b"\x20", event.dropped_attributes)
        parts.append(_field(b"\x5a", body))
    if dropped_events:
        parts.append(b"\x60" + _varint(dropped_events))
    for link in links:
        body = b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
        body += b"\x12\x08" + link.context.span_id.to_bytes(8, "big")
        body += _attributes(b"\x22", link.attributes)
        body += _count(b"\x28", link.dropped_attributes)
        body += _LINK_FLAGS_REMOTE if link.context.is_remote else _LINK_FLAGS_LOCAL
        parts.append(_field(b"\x6a", body))
    if dropped_links:
        parts.append(b"\x70" + _varint(dropped_links))
    if status is DEFAULT_STATUS:
        parts.append(_DEFAULT_STATUS_FIELD)
    elif status is not None:
        parts.append(_status(status))
    parts.append(_FLAGS_REMOTE if parent_remote else _FLAGS_LOCAL)
    return b"".join(parts)


def _scope(scope: InstrumentationScope | None) -> bytes:
    if scope is None:
        return b""
    return (
        _optional_text(b"\x0a", scope.name)
        + _optional_text(b"\x12", scope.version)
        + _attributes(b"\x1a", scope.attributes)
    )


class EncodedSpan(NamedTuple):
    """A span already written (a ``ScopeSpans.spans`` field), with its resource and scope."""

    resource: Resource
    scope: InstrumentationScope | None
    data: bytes


def encode_span(span: ReadableSpan) -> EncodedSpan:
    """``span`` written now, to be sent later with others (:func:`encode_spans`)."""
    if type(span) is ReadableSpan and _reads_fields():
        resource, scope = span._resource, span._instrumentation_scope
    else:
        resource, scope = span.resource, span.instrumentation_scope
    # EncodedSpan(...), without the keyword handling of a named tuple's __new__
    return tuple.__new__(EncodedSpan, (resource, scope or None, _field(b"\x12", _span(span))))


def encode_spans(spans: Sequence[ReadableSpan | EncodedSpan]) -> bytes:
    """An ``ExportTraceServiceRequest`` holding ``spans``, grouped by resource and scope.

    Spans are grouped by the identity of their resource (a provider's spans share one), where
    the SDK compares resources by their attributes (serialised to JSON for each span).
    """
    grouped: dict[int, tuple[Resource, dict[InstrumentationScope | None, list[bytes]]]] = {}
    for span in spans:
        if not isinstance(span, EncodedSpan):
            span = encode_span(span)
        group = grouped.get(id(span.resource))
        if group is None:
            group = grouped[id(span.resource)] = (span.resource, {})
        encoded = group[1].get(span.scope)
        if encoded is None:
            encoded = group[1][span.scope] = []
        encoded.append(span.data)
    request = []
    for resource, scopes in grouped.values():
        body = [_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]
        for scope, encoded in scopes.items():
            scope_spans = _field(b"\x0a", _scope(scope)) + b"".join(encoded)
            if scope is not None:
                scope_spans += _optional_text(b"\x1a", scope.schema_url)
            body.append(_field(b"\x12", scope_spans))
        body.append(_optional_text(b"\x1a", resource.schema_url))
        request.append(_field(b"\x0a", b"".join(body)))
    return b"".join(request)
