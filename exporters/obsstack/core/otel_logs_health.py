"""How well logs leave over OTLP: what the export loses, said on stderr once, then rarely.

:class:`ExportHealth` counts failed batches and dropped records (queue full, or in a batch that
failed) and logs ``log export over OTLP is failing ...`` at the first failure (an earlier line
about a full queue does not hold it back), then at most once every :data:`REPORT_INTERVAL` with
the counts since, and ``log export over OTLP works again`` when a batch gets through after a
reported failure. :class:`SdkMessages` keeps the SDK's own
messages about the failing export (one per retry, timeout or batch) off the JSON lines; the
last of them is the reason the report gives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from obsstack.core import logs

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

log = logging.getLogger("obsstack.log_export")  # about the export itself: never exported
REPORT_INTERVAL = 300.0  # seconds between two lines saying that export still fails


class ExportHealth:
    """Counts what the export loses and says so on stderr, once, then rarely.

    ``handed`` (records given to the exporter) is written by the exporting thread only; the
    handler compares it with what it queued. ``threads`` are those exporting: the processor's
    own, and a flush's while it runs.
    """

    def __init__(self, endpoint: str, interval: float = REPORT_INTERVAL) -> None:
        self.endpoint = endpoint
        self.interval = interval
        self.handed = 0
        self.threads: set[int] = set()
        self.reason = ""
        self._lock = threading.Lock()
        self._failed_batches = 0
        self._dropped = 0
        self._failing = False
        self._said_failing = False  # the last line said that export is failing
        self._reported_at: float | None = None
        self._unreported = False  # a failure or drop happened since the last line

    def on_export_thread(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` was logged while exporting (the SDK's messages, a driver's)."""
        return record.thread in self.threads

    def exporting(self, count: int) -> None:
        self.threads.add(threading.get_ident())
        self.handed += count

    def exported(self, count: int, ok: bool) -> None:
        with self._lock:
            if ok:
                recovered = self._failing and self._said_failing
                self._failing = self._said_failing = False
            else:
                recovered = False
                self._failing = True
                self._failed_batches += 1
                self._dropped += count
                self._unreported = True
        if recovered:
            log.info("log export over OTLP works again", extra={"endpoint": self.endpoint})
        elif not ok:
            self._report()

    def dropped(self) -> None:
        with self._lock:
            self._dropped += 1
            self._unreported = True
        self._report()

    def _report(self) -> None:
        now = time.monotonic()
        with self._lock:
            # A failing export is said at once, even soon after a line about a full queue
            # (a collector that never answers fills the queue before its first timeout).
            news = self._failing and not self._said_failing
            if not self._unreported or (
                not news
                and self._reported_at is not None
                and now - self._reported_at < self.interval
            ):
                return
            fields = {
                "endpoint": self.endpoint,
                "failed_batches": self._failed_batches,
                "dropped_records": self._dropped,
                "next_report_seconds": int(self.interval),
            }
            if self._reported_at is not None:
                fields["since_seconds"] = int(now - self._reported_at)
            failing = self._failing
            self._said_failing = failing
            self._failed_batches = self._dropped = 0
            self._reported_at = now
            self._unreported = False
        if failing:
            log.warning(
                "log export over OTLP is failing: records are dropped, not kept, until it works",
                extra={**fields, "reason": self.reason},
            )
        else:
            log.warning("log records dropped: the OTLP export queue is full", extra=fields)


class SdkMessages(logging.Filter):
    """Keeps the SDK's messages from the export thread (retries, timeouts, a line per failed
    batch) off the other handlers; the last one becomes the reason :class:`ExportHealth` reports."""

    def __init__(self, health: ExportHealth) -> None:
        super().__init__()
        self.health = health

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("opentelemetry") or not self.health.on_export_thread(record):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed message is no reason to fail a log call
            message = str(record.msg)
        self.health.reason = logs.redact_secrets(" ".join(message.split()))[:300]
        return False


def reporting_exporter(inner: LogRecordExporter, health: ExportHealth) -> LogRecordExporter:
    from opentelemetry.sdk._logs.export import LogRecordExporter

    class ReportingExporter(LogRecordExporter):
        """The OTLP exporter, its outcome counted by :class:`ExportHealth` (it never raises)."""

        def __init__(self, inner: LogRecordExporter, health: ExportHealth) -> None:
            self.inner = inner
            self.health = health

        def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
            from opentelemetry.sdk._logs.export import LogRecordExportResult

            self.health.exporting(len(batch))
            try:
                result = self.inner.export(batch)
            except Exception as exc:  # counted and reported instead
                self.health.reason = logs.redact_secrets(f"{type(exc).__name__}: {exc}")[:300]
                result = LogRecordExportResult.FAILURE
            self.health.exported(len(batch), result is LogRecordExportResult.SUCCESS)
            return result

        def shutdown(self) -> None:
            self.inner.shutdown()  # type: ignore[no-untyped-call]

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return self.inner.force_flush(timeout_millis)

    return ReportingExporter(inner, health)
