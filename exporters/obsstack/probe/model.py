"""What every probe kind shares: its signature, the failure it raises and the report it fills."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from obsstack.core import naming
from obsstack.core.spec import Section


class ProbeFailure(Exception):
    """A probe found the dependency unusable.

    ``reason`` is one of :data:`naming.FAILURE_REASONS`; ``transient`` failures (a refused or
    reset connection) are retried within the probe's time budget.
    """

    def __init__(self, reason: str, message: str, *, transient: bool = False) -> None:
        assert reason in naming.FAILURE_REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.transient = transient


@dataclass
class Report:
    """Detail gauges one probe attempt measured, for its kind's metric prefix."""

    samples: dict[naming.MetricSpec, float] = field(default_factory=dict)

    def set(self, spec: naming.MetricSpec, value: float) -> None:
        self.samples[spec] = float(value)


class Kept:
    """The connection one dependency's probes keep open from one probe to the next.

    The engine holds one per dependency and drops it on shutdown; a probe takes it, uses it and
    holds it again, or drops it on any error. Kinds that keep nothing ignore it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._connection: Any = None
        self._abort: Callable[[Any], None] | None = None
        self.opened_at = 0.0  # on ``clock``, when the connection was made
        self.connect_duration = 0.0  # how long that connect took, in seconds

    def take(self, lifetime: float | None) -> Any:
        """The kept connection if it is younger than ``lifetime``, else None (an older one is
        closed: the caller connects afresh, which proves the connection path again)."""
        connection = self._connection
        if connection is not None and (
            lifetime is None or self.clock() - self.opened_at >= lifetime
        ):
            self.drop()
            return None
        return connection

    def hold(self, connection: Any, abort: Callable[[Any], None], took: float) -> None:
        """Keep ``connection``, made just now in ``took`` seconds; ``abort`` closes it."""
        if connection is not self._connection:
            self.drop()
        self._connection, self._abort = connection, abort
        self.opened_at, self.connect_duration = self.clock(), took

    def drop(self) -> None:
        """Close the kept connection now, without a goodbye (safe while cancelled)."""
        connection, abort = self._connection, self._abort
        self._connection = self._abort = None
        if connection is not None and abort is not None:
            abort(connection)


def read_lifetime(section: Section) -> float | None:
    """``keep_connection`` and ``connection_lifetime``: how long a connection is reused between
    probes, None when every probe connects afresh."""
    keep = section.boolean("keep_connection", True)
    lifetime = section.duration("connection_lifetime", 60.0, maximum=86400.0)
    return lifetime if keep else None


ProbeFn = Callable[[Any, float, Report, Kept], Awaitable[None]]
"""``async def probe(settings, budget_seconds, report, kept) -> None``: returns on success,
raises ProbeFailure (or lets a driver error escape) on failure. The caller enforces the
budget."""


class Kind(Protocol):
    """A probe kind module: its name, how it reads its settings and how it probes."""

    NAME: str

    def read_settings(self, section: Section) -> Any: ...

    async def probe(self, settings: Any, budget: float, report: Report, kept: Kept) -> None: ...
