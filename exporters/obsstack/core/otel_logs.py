"""Logs over OTLP, beside the JSON lines: the OpenTelemetry SDK's logging bridge.

:func:`export_logs` puts an :class:`OtlpLogHandler` on the root logger: every record the JSON
lines show also goes through the SDK's ``LoggingHandler`` and a ``BatchLogRecordProcessor`` to
the OTLP log exporter (``http/protobuf`` or ``grpc``: ``OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL``).
A record carries its severity, the message as body, the trace and span ids of the current span
(set by the SDK), ``request_id`` and ``tenant_id`` of the current request and its extra fields
as attributes, redacted as the JSON lines are (:func:`obsstack.core.logs.redact_field`); the
resource names the service (:func:`obsstack.core.otel.service_resource`).

Off unless an endpoint is configured (:func:`obsstack.core.otel.export_configured`). Export never
blocks the caller and never grows without bound: at most ``OTEL_BLRP_MAX_QUEUE_SIZE`` (2048)
records wait, others are dropped and counted; a background thread sends batches of
``OTEL_BLRP_MAX_EXPORT_BATCH_SIZE`` (512), each within ``OTEL_EXPORTER_OTLP_(LOGS_)TIMEOUT``
seconds (10), its few retries included. While export fails, one line on stderr says so, then
rarely (:mod:`obsstack.core.otel_logs_health`), in place of the SDK's own messages. At exit, on
SIGTERM too, what is queued has :data:`EXIT_FLUSH_SECONDS` to leave.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import traceback
import warnings
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any

from obsstack.core import logs, otel
from obsstack.core.otel_logs_health import ExportHealth, SdkMessages, reporting_exporter
from obsstack.core.otel_logs_health import log as health_log
from obsstack.core.spec import ConfigError, scrub_dsn_passwords

if TYPE_CHECKING:  # the SDK is imported only when logs are exported
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import LogRecordExporter

EXIT_FLUSH_SECONDS = 2.0
QUEUE_SIZE = ("OTEL_BLRP_MAX_QUEUE_SIZE", 2048)
BATCH_SIZE = ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", 512)
# What one queued record may hold, so that a full queue is a bounded amount of memory:
# the body and each string are cut (marked with ...), containers keep their first items.
BODY_LIMIT = 8192
VALUE_LIMIT = 2048
ITEMS_LIMIT = 64
RECORD_BUDGET = 16384  # characters of all attribute strings of one record together
_INT64 = (-(2**63), 2**63 - 1)

_STANDARD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Set on the record by other handlers (trace ids are the record's own fields in OTLP) or
# duplicates of the message (uvicorn's coloured copy).
_SKIPPED_FIELDS = frozenset({"trace_id", "span_id", "request_id", "tenant_id", "color_message"})


def _otlp_exporter(protocol: str) -> LogRecordExporter:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter()
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HttpLogExporter,
    )

    return HttpLogExporter()


def _positive_int(env: Mapping[str, str], setting: tuple[str, int]) -> int:
    name, default = setting
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 1_000_000:
        raise ConfigError(name, "", f"must be a whole number from 1 to 1000000 (got {text!r})")
    return int(text)


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` made of the types an OTLP attribute holds (AnyValue): other objects become
    their text, containers keep their first :data:`ITEMS_LIMIT` items."""
    if value is None or isinstance(value, bool | float | str):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if depth < 4 and isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in list(value.items())[:ITEMS_LIMIT]}
    if depth < 4 and isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in list(value)[:ITEMS_LIMIT]]
    return str(value)


class _Budget:
    """Characters a record may still hold: each string is cut (marked with ...) to what is left,
    and to ``limit``."""

    def __init__(self, characters: int) -> None:
        self.left = characters

    def cut(self, value: Any, limit: int = VALUE_LIMIT) -> Any:
        if isinstance(value, str):
            keep = max(0, min(limit, self.left))
            self.left -= min(len(value), keep)
            return value if len(value) <= keep else value[: max(0, keep - 3)] + "..."
        if isinstance(value, dict):
            return {k: self.cut(v, limit) for k, v in value.items()}
        if isinstance(value, list):
            return [self.cut(v, limit) for v in value]
        return value


class OtlpLogHandler(logging.Handler):
    """Feeds the SDK's logging bridge (its ``LoggingHandler``) records redacted as the JSON
    lines are, and drops, counted, what its queue has no room for.

    Never exported: the SDK's own records, this module's and anything logged by the export
    thread (each would feed the export it is about).
    """

    def __init__(
        self,
        provider: LoggerProvider,
        health: ExportHealth,
        max_queue: int,
        key: tuple[str, str | None],
    ) -> None:
        from opentelemetry.sdk._logs import LoggingHandler

        super().__init__()
        with warnings.catch_warnings():
            # Deprecated in favour of opentelemetry-instrumentation-logging's handler, which
            # is not a dependency (and wraps this one).
            warnings.simplefilter("ignore", DeprecationWarning)
            self.bridge = LoggingHandler(logger_provider=provider)
        self.provider = provider
        self.health = health
        self.max_queue = max_queue
        self.key = key
        self.sdk_messages = SdkMessages(health)
        self._queued = 0  # records given to the SDK; those it has not exported are queued
        os.register_at_fork(after_in_child=self._forget_parent)

    def _forget_parent(self) -> None:
        """A forked child starts with an empty queue (the SDK's processor empties its own)."""
        self._queued = self.health.handed = 0
        self.health.threads.clear()

    def emit(self, record: logging.LogRecord) -> None:
        if (
            record.name.startswith("opentelemetry")
            or record.name == health_log.name
            or self.health.on_export_thread(record)
        ):
            return
        if self._queued - self.health.handed >= self.max_queue:
            self.health.dropped()  # the SDK's queue is full: drop here, counted
            return
        try:
            prepared = self._prepared(record)
        except Exception:  # as logging does for a record it cannot format
            self.handleError(record)
            return
        self._queued += 1
        self.bridge.emit(prepared)

    def _prepared(self, record: logging.LogRecord) -> logging.LogRecord:
        """A copy of ``record`` holding only what may leave: a redacted message as body, the
        request's context and the extra fields as attributes, the exception as text."""
        scrub = logs.active_scrub()
        budget = _Budget(RECORD_BUDGET)
        fields = {k: v for k, v in vars(record).items() if k in _STANDARD_FIELDS}
        attributes: dict[str, Any] = {}
        for name, value in vars(record).items():
            if name in _STANDARD_FIELDS or name in _SKIPPED_FIELDS:
                continue
            if len(attributes) >= ITEMS_LIMIT:
                break
            attributes[name] = budget.cut(logs.redact_field(name, _plain(value), scrub))
        request_id, tenant_id = logs.REQUEST_ID.get(), logs.TENANT_ID.get()
        if request_id is not None:
            attributes["request_id"] = request_id
        if tenant_id is not None:
            attributes["tenant_id"] = budget.cut(logs.redact_field("tenant_id", tenant_id, scrub))
        if record.exc_info and record.exc_info[0] is not None:
            kind, error, trace = record.exc_info
            attributes["exception.type"] = kind.__qualname__
            attributes["exception.message"] = budget.cut(logs.redact_field("", str(error), scrub))
            text = "".join(traceback.format_exception(kind, error, trace))
            attributes["exception.stacktrace"] = budget.cut(
                logs.redact_field("", text, scrub), BODY_LIMIT
            )
        body = logs.redact_field("", record.getMessage(), scrub)
        fields.update(
            msg=_Budget(BODY_LIMIT).cut(body, BODY_LIMIT),
            args=None,
            exc_info=None,
            exc_text=None,
            stack_info=None,
            **attributes,
        )
        prepared = logging.LogRecord.__new__(logging.LogRecord)  # its fields are all given
        prepared.__dict__ = fields
        return prepared

    def flush(self) -> None:
        """Nothing: batches leave on the processor's schedule, never on a caller's thread
        (the SDK's handler would start a thread for a flush that waits for the collector)."""


_installed: OtlpLogHandler | None = None
_lock = threading.Lock()


def export_logs(
    service_name: str,
    *,
    service_version: str | None = None,
    env: Mapping[str, str] | None = None,
) -> OtlpLogHandler | None:
    """Export the root logger's records over OTLP as ``service_name``; None when the
    environment configures no endpoint for logs (then an earlier export stops).

    Once per process: a second call for the same service keeps the export (and puts it back
    on the root logger if :func:`obsstack.core.logs.configure_logging` took it off); a call for
    another service replaces it. ``env`` decides whether to export (default ``os.environ``);
    the SDK reads the endpoint, headers, timeout and ``OTEL_BLRP_SCHEDULE_DELAY`` itself.
    """
    global _installed
    env = os.environ if env is None else env
    with _lock:
        if not otel.export_configured("logs", env):
            _stop(_installed)
            _installed = None
            return None
        key = (service_name, service_version)
        if _installed is None or _installed.key != key:
            _stop(_installed)
            _installed = _install(key, env)
            _flush_on_sigterm()
        _attach(_installed)
        return _installed


def flush_logs(seconds: float = EXIT_FLUSH_SECONDS) -> None:
    """Send the queued records now, waiting at most ``seconds`` (a collector may never answer).

    For a server's shutdown: ``instrument_app`` calls it when the application has shut down.
    """
    handler = _installed
    if handler is None:
        return

    def flush() -> None:
        try:
            handler.provider.force_flush()  # exports on this thread
        finally:
            handler.health.threads.discard(threading.get_ident())

    flushing = threading.Thread(target=flush, name="obsstack-log-export-flush", daemon=True)
    flushing.start()
    flushing.join(seconds)


def resume_export() -> None:
    """Put an export set up earlier back on the root logger (after its handlers were reset)."""
    with _lock:
        if _installed is not None:
            _attach(_installed)


def stop_log_export() -> None:
    """Stop exporting logs (what is queued gets :data:`EXIT_FLUSH_SECONDS` to leave)."""
    global _installed
    with _lock:
        _stop(_installed)
        _installed = None


def _install(key: tuple[str, str | None], env: Mapping[str, str]) -> OtlpLogHandler:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    protocol = otel.protocol("logs", env)
    max_queue = _positive_int(env, QUEUE_SIZE)
    batch = min(_positive_int(env, BATCH_SIZE), max_queue)
    endpoint = scrub_dsn_passwords(
        env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )
    health = ExportHealth(endpoint)
    exporter = reporting_exporter(_otlp_exporter(protocol), health)
    # The provider is shut down by this module (bounded), not by the SDK's exit hook, which
    # waits up to 30 s for a collector that does not answer.
    provider = LoggerProvider(resource=otel.service_resource(*key), shutdown_on_exit=False)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, max_queue_size=max_queue, max_export_batch_size=batch)
    )
    return OtlpLogHandler(provider, health, max_queue, key)


def _attach(handler: OtlpLogHandler) -> None:
    root = logging.getLogger()
    for other in root.handlers:
        if other is not handler and handler.sdk_messages not in other.filters:
            other.addFilter(handler.sdk_messages)
    if handler not in root.handlers:
        root.addHandler(handler)


def _stop(handler: OtlpLogHandler | None) -> None:
    if handler is None:
        return
    root = logging.getLogger()
    root.removeHandler(handler)
    for other in root.handlers:
        other.removeFilter(handler.sdk_messages)
    if _on_main_thread() and signal.getsignal(signal.SIGTERM) is _terminate:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _shutdown(handler.provider)


def _shutdown(provider: LoggerProvider, seconds: float = EXIT_FLUSH_SECONDS) -> None:
    """Send what is queued, waiting at most ``seconds`` (a collector may never answer)."""
    stopping = threading.Thread(
        target=provider.shutdown, name="obsstack-log-export-stop", daemon=True
    )
    stopping.start()
    stopping.join(seconds)


@atexit.register
def _at_exit() -> None:
    if _installed is not None:
        _shutdown(_installed.provider)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _flush_on_sigterm() -> None:
    """Have SIGTERM send the queued records before it ends the process.

    Exit hooks do not run when SIGTERM ends a process, and uvicorn, once it has shut down on
    SIGTERM, raises it again with the handler it found, usually the default. Where the
    default is in place, this module's handler takes it: it shuts the export down (at most
    :data:`EXIT_FLUSH_SECONDS`) and raises SIGTERM again with the default.
    """
    if _on_main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _at_exit()
    signal.raise_signal(signal.SIGTERM)
