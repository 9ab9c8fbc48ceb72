"""Alerts posted to Alertmanager the way Prometheus' notifier posts them, on a shorter clock.

Prometheus (``rules/alerting.go``, ``sendAlerts``) sends a firing alert when it starts firing
and again every resend delay (``--rules.alert.resend-delay``, 1m), each time with ``endsAt`` =
now + 4 x max(resend delay, evaluation interval), so that Alertmanager resolves it by itself if
Prometheus goes away. A resolved alert is sent at once with ``endsAt`` = the resolution time and
sent again every resend delay for 15 minutes (``resolvedRetention``). The three durations are
parameters here, so that a test scales 15 minutes down to seconds.

The alerts of one :meth:`AlertSender.fire` or :meth:`AlertSender.resolve` call go out in one
request, as the alerts of one rule evaluation do.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx


@dataclass(frozen=True)
class Alert:
    """What a rule puts out: labels (the alert's identity) and annotations."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> frozenset[tuple[str, str]]:
        return frozenset(self.labels.items())


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


@dataclass
class _Alert:
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    last_sent: float = 0.0
    resolved_at: float | None = None


class AlertSender:
    """Keeps alerts firing (or resolved, for the retention window) in every given Alertmanager."""

    def __init__(
        self,
        alertmanagers: Sequence[str],
        resend_delay: float,
        evaluation_interval: float,
        resolved_retention: float,
    ) -> None:
        self.urls = [f"{url.rstrip('/')}/api/v2/alerts" for url in alertmanagers]
        self.resend_delay = resend_delay
        self.valid_for = 4 * max(resend_delay, evaluation_interval)
        self.resolved_retention = resolved_retention
        self._alerts: dict[frozenset[tuple[str, str]], _Alert] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._resend, daemon=True)
        self._thread.start()

    def fire(self, *alerts: Alert) -> None:
        """Start (or keep) these alerts firing; sent now, then every resend delay."""
        now = time.time()
        with self._lock:
            batch = []
            for alert in alerts:
                state = self._alerts.get(alert.key)
                if state is None or state.resolved_at is not None:
                    state = _Alert(dict(alert.labels), dict(alert.annotations), now)
                    self._alerts[alert.key] = state
                batch.append(state)
            self._send(batch, now)

    def resolve(self, *alerts: Alert) -> None:
        """Resolve firing alerts now; sent now, then every resend delay for the retention."""
        now = time.time()
        with self._lock:
            batch = [self._alerts[alert.key] for alert in alerts]
            for alert in batch:
                assert alert.resolved_at is None, f"{alert.labels} is not firing"
                alert.resolved_at = now
            self._send(batch, now)

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(5)

    def _body(self, alert: _Alert, now: float) -> dict[str, Any]:
        ends_at = alert.resolved_at if alert.resolved_at is not None else now + self.valid_for
        return {
            "labels": alert.labels,
            "annotations": alert.annotations,
            "startsAt": _timestamp(alert.starts_at),
            "endsAt": _timestamp(ends_at),
        }

    def _send(self, batch: list[_Alert], now: float) -> None:
        if not batch:
            return
        body = [self._body(alert, now) for alert in batch]
        for alert in batch:
            alert.last_sent = now
        for url in self.urls:
            httpx.post(url, json=body, timeout=5).raise_for_status()

    def _resend(self) -> None:
        while not self._stopped.wait(self.resend_delay / 10):
            now = time.time()
            with self._lock:
                for key, alert in list(self._alerts.items()):
                    if (
                        alert.resolved_at is not None
                        and now > alert.resolved_at + self.resolved_retention
                    ):
                        del self._alerts[key]
                due = [a for a in self._alerts.values() if now >= a.last_sent + self.resend_delay]
                with contextlib.suppress(httpx.HTTPError):  # Alertmanager stopping: next round
                    self._send(due, now)
