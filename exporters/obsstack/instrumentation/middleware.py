"""The pure ASGI middleware: RED metrics, request ids, server spans and the ``/metrics`` route.

One layer does everything, with no ``BaseHTTPMiddleware`` and no per-request allocation beyond
a closure, so a cheap route keeps nearly all of its throughput.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
from collections.abc import Collection
from time import perf_counter
from typing import Any

from opentelemetry import propagate
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode, Tracer
from starlette.routing import Mount

from obsstack.core import naming, otel_logs
from obsstack.core.asgi import ASGIApp, Message, Receive, Scope, Send
from obsstack.core.current_span import attach_span, current_span, detach
from obsstack.core.logs import REQUEST_ID, TENANT_ID, restore_server_levels
from obsstack.instrumentation.http_metrics import KNOWN_METHODS, OTHER_METHOD, HttpMetrics
from obsstack.instrumentation.server_spans import ServerSpans, end, finish

REQUEST_ID_HEADER = b"x-request-id"
# A request id taken from a client goes into logs and back into a header: short and plain.
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_FASTAPI_TELEMETRY = "fastapi.telemetry"  # set in the scope by FastAPI's native tracing
log = logging.getLogger("obsstack.instrumentation")
_frozen = False


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that handled the request (``/items/{item_id}``).

    Paths no route matched get one fixed value, so 404 scanners add no series.
    """
    route = scope.get("route")
    if route is None:
        return naming.UNMATCHED_ROUTE
    prefix = scope.get("root_path", "")[len(root_path) :]
    if isinstance(route, Mount):
        return f"{prefix}/{{path}}"
    path = getattr(route, "path", None)
    return prefix + path if isinstance(path, str) else naming.UNMATCHED_ROUTE


class InstrumentationMiddleware:
    """Measures every HTTP request but the excluded paths, and answers ``metrics_path`` itself."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        metrics_endpoint: ASGIApp | None,
        metrics_path: str,
        excluded_paths: Collection[str],
        request_ids: bool,
        tracer: Tracer | None,
        exemplars: bool,
        gc_freeze: bool,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.metrics_endpoint = metrics_endpoint
        self.metrics_path = metrics_path
        self.excluded_paths = frozenset(excluded_paths)
        self.request_ids = request_ids
        self.tracer = tracer
        self.server_spans = ServerSpans.for_tracer(tracer) if tracer is not None else None
        self.exemplars = exemplars and tracer is not None
        self.gc_freeze = gc_freeze
        self._finished: dict[tuple[str, int, str, str | None, int], tuple[Any, Any, str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                send = _lifespan_send(send, self.gc_freeze)
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == self.metrics_path and self.metrics_endpoint is not None:
            await self.metrics_endpoint(scope, receive, send)
            return
        if path in self.excluded_paths:
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        root_path = scope.get("root_path", "")
        tracer = self.tracer
        request_id: bytes | None = None
        request_size = -1
        chunked = False
        carrier: dict[str, str] = {}
        request_ids = self.request_ids
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER and request_ids:  # disabled: never read, never echoed
                request_id = value
            elif name == b"content-length":
                request_size = int(value) if value.isdigit() else -1
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif tracer is not None and name in _PROPAGATION_HEADERS:
                carrier[name.decode("latin-1")] = value.decode("latin-1")

        status = 500  # unless the application starts a response
        response_size = 0
        counted = 0
        if self.request_ids:
            if request_id is None or not _VALID_REQUEST_ID.fullmatch(request_id):
                request_id = os.urandom(16).hex().encode()
            id_token = REQUEST_ID.set(request_id.decode())
            tenant_token = TENANT_ID.set(None)
        if chunked:
            inner_receive = receive

            async def receive() -> Message:
                nonlocal counted
                message = await inner_receive()
                counted += len(message.get("body", b""))
                return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_size
            if message["type"] == "http.response.start":
                status = message["status"]
                if request_id is not None:
                    message["headers"] = [
                        *message.get("headers", ()),
                        (REQUEST_ID_HEADER, request_id),
                    ]
            elif message["type"] == "http.response.body":
                response_size += len(message.get("body", b""))
            await send(message)

        span: Any = None
        own_span = False
        if tracer is not None:
            # A framework or an outer middleware (FastAPI's native telemetry,
            # opentelemetry-instrumentation-asgi) may already have started the server span, or
            # decided not to sample it: reuse it rather than nest a second one.
            current = current_span()
            if _FASTAPI_TELEMETRY in scope or (
                current.is_recording() and getattr(current, "kind", None) is SpanKind.SERVER
            ):
                span = current if current.get_span_context().is_valid else None
            else:
                own_span = True
                name = "HTTP" if method == OTHER_METHOD else method
                parent = propagate.extract(carrier) if carrier else None
                if self.server_spans is not None:
                    span = self.server_spans.start(
                        name,
                        parent,
                        lambda: _span_attributes(scope, method),
                        parent_span=None if carrier else current,
                    )
                else:
                    span = tracer.start_span(
                        name, parent, SpanKind.SERVER, _span_attributes(scope, method)
                    )
                span_token = attach_span(span)
        active = self.metrics.active_child(method)
        active.inc()
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            error = exc
            raise
        finally:
            duration = perf_counter() - started
            active.dec()
            # One dict lookup per request: the route object and status identify the children.
            key = (method, id(scope.get("route")), root_path, scope.get("root_path"), status)
            finished = self._finished.get(key)
            if finished is None:
                route = route_template(scope, root_path)
                finished = (*self.metrics.finished_children(method, route, status), route)
                self._finished[key] = finished
            duration_child, size_child, route = finished
            if (
                self.exemplars
                and span is not None
                and not (own_span and type(span) is NonRecordingSpan)  # which is not sampled
                and (span_context := span.get_span_context()).trace_flags.sampled
            ):
                # trace.format_trace_id, as log lines write it (logs.request_context)
                trace_id = span_context.trace_id.to_bytes(16, "big").hex()
                duration_child.observe(duration, {"trace_id": trace_id})
            else:
                duration_child.observe(duration)
            size_child.observe(response_size)
            if request_size > 0 or chunked:
                self.metrics.request_size_child(method, route).observe(
                    counted if chunked else request_size
                )
            if own_span:
                if type(span) is not NonRecordingSpan:  # whose end does nothing
                    _end_span(span, method, route, status, error)
                detach(span_token)
            elif span is not None and TENANT_ID.get() is not None:
                span.set_attribute("tenant.id", TENANT_ID.get())
            if self.request_ids:
                REQUEST_ID.reset(id_token)
                TENANT_ID.reset(tenant_token)


def _lifespan_send(send: Send, gc_freeze: bool) -> Send:
    """``send``, which, when the application has started, gives uvicorn's loggers back the levels
    configured for them (:func:`obsstack.core.logs.restore_server_levels`) and takes the objects
    it has made out of the garbage collector's passes (:func:`freeze_startup_objects`, if
    ``gc_freeze``), and when it has shut down first sends the queued log records
    (:func:`obsstack.core.otel_logs.flush_logs`, bounded): the server may end by SIGTERM, which
    runs no exit hooks."""

    async def lifespan_send(message: Message) -> None:
        if message["type"] == "lifespan.startup.complete":
            restore_server_levels()
            if gc_freeze:
                freeze_startup_objects()
        elif message["type"] == "lifespan.shutdown.complete":
            await asyncio.get_running_loop().run_in_executor(None, otel_logs.flush_logs)
        await send(message)

    return lifespan_send


def freeze_startup_objects() -> None:
    """Once a process: collect, then ``gc.freeze()`` what is left (modules, routes, settings,
    clients), so that the collector's full passes, which requests' objects set off, no longer
    walk it. Frozen objects are still freed when nothing refers to them; only the cycles among
    them stay."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    log.info(
        "start-up objects left out of garbage collection", extra={"objects": gc.get_freeze_count()}
    )


def _span_attributes(scope: Scope, method: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    if method == OTHER_METHOD:
        attributes["http.request.method_original"] = scope["method"]
    server = scope.get("server")
    if server:
        attributes["server.address"], attributes["server.port"] = server[0], server[1]
    client = scope.get("client")
    if client:
        attributes["client.address"] = client[0]
    for name, value in scope["headers"]:
        if name == b"user-agent":
            attributes["user_agent.original"] = value.decode("latin-1")
    return attributes


def _end_span(span: Any, method: str, route: str, status: int, error: BaseException | None) -> None:
    if not span.is_recording():  # not sampled: nothing to add
        span.end()
        return
    attributes: dict[str, Any] = {}
    name = None
    if route != naming.UNMATCHED_ROUTE:
        name = f"{'HTTP' if method == OTHER_METHOD else method} {route}"
        attributes["http.route"] = route
    attributes["http.response.status_code"] = status
    tenant = TENANT_ID.get()
    if tenant is not None:
        attributes["tenant.id"] = tenant
    if error is not None:
        span.record_exception(error)
        attributes["error.type"] = type(error).__qualname__
        span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
    elif status >= 500:
        attributes["error.type"] = str(status)
        span.set_status(Status(StatusCode.ERROR))
    finish(span, name, attributes)
    end(span)
