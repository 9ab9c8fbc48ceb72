"""What every probe kind shares: its signature, the failure it raises and the report it fills."""

from __future__ import annotations

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


ProbeFn = Callable[[Any, float, Report], Awaitable[None]]
"""``async def probe(settings, budget_seconds, report) -> None``: returns on success, raises
ProbeFailure (or lets a driver error escape) on failure. The caller enforces the budget."""


class Kind(Protocol):
    """A probe kind module: its name, how it reads its settings and how it probes."""

    NAME: str

    def read_settings(self, section: Section) -> Any: ...

    async def probe(self, settings: Any, budget: float, report: Report) -> None: ...
