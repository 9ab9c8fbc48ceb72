"""The SLO model: what the rule, rule-test and dashboard generators read.

A spec file (``alerts/slos.yaml``, a Sloth ``prometheus/v1`` file or OpenSLO ``v1`` documents)
is read, mapped and validated into these frozen types by :mod:`obsstack.alerts.spec`; nothing
downstream sees YAML. Load the shipped spec with :func:`obsstack.alerts.load_default_spec` or
any file with :func:`obsstack.alerts.load_spec`, then read:

- :class:`SLOSpec` ``.slos`` (every :class:`SLO`, in file order), ``.services`` (every
  :class:`Service` with its ``depends_on``) and ``.dependents(dependency)``;
- per SLO: ``service``, ``name``, ``objective`` (percent), ``objective_ratio``, ``error_budget``
  (ratio), ``period`` / ``period_name``, ``sli`` (kind and PromQL), ``tiers`` (page / ticket,
  each with its ``AlertWindow`` list: long and short window, burn-rate ``factor``),
  ``windows`` (every window the rules record an error ratio for), ``runbook_url``,
  ``dashboard_url``;
- the recording-rule names and ready-made queries for an SLO are in :mod:`obsstack.alerts.records`.

Durations are seconds (floats); ``*_name`` properties give the Prometheus spelling (``5m``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from obsstack.core import naming
from obsstack.core.spec import format_duration

SLIKind = Literal["availability", "latency", "ratio", "uptime"]
SLI_KINDS: tuple[SLIKind, ...] = ("availability", "latency", "ratio", "uptime")
TierName = Literal["page", "ticket"]
TIER_NAMES: tuple[TierName, ...] = (naming.TIER_PAGE, naming.TIER_TICKET)  # type: ignore[assignment]

# Placeholder for the range of a PromQL template (Sloth's spelling, so Sloth queries work as-is).
WINDOW_PLACEHOLDER = "{{.window}}"


def number_text(value: float) -> str:
    """A float as PromQL and YAML should show it: ``0.001`` not ``0.0010000000000000009``."""
    text = f"{value:.12g}"
    return text if "e" not in text else f"{value:.12f}".rstrip("0").rstrip(".")


def runbook_anchor(alertname: str) -> str:
    """The anchor of an alert's section in docs/runbooks.md (its ``## AlertName`` heading)."""
    return alertname.lower()


@dataclass(frozen=True)
class AlertWindow:
    """One multi-window condition: burn rate above ``factor`` over both ``long`` and ``short``."""

    long: float
    short: float
    factor: float

    @property
    def long_name(self) -> str:
        return format_duration(self.long)

    @property
    def short_name(self) -> str:
        return format_duration(self.short)

    def budget_share(self, period: float) -> float:
        """Share of the period's error budget this window burns before the alert can fire."""
        return self.factor * self.long / period


@dataclass(frozen=True)
class AlertTier:
    """The page or ticket tier of an SLO: its windows, ``for:`` and labels."""

    name: TierName
    for_seconds: float
    windows: tuple[AlertWindow, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    alert_name: str = ""  # the spec's own alert name (Sloth's alerting.name); default below

    @property
    def severity(self) -> str:
        """``critical`` for the page tier, ``warning`` for tickets (unless a label overrides it)."""
        default = naming.SEVERITY_PAGE if self.name == naming.TIER_PAGE else naming.SEVERITY_TICKET
        return self.labels.get(naming.SEVERITY_LABEL, default)

    @property
    def alertname(self) -> str:
        """The alert's name: the spec's own, else ``SLOBurnRatePage`` / ``SLOBurnRateTicket``."""
        return self.alert_name or self.default_alertname

    @property
    def default_alertname(self) -> str:
        """The obsstack name of this tier's alert, which also names its runbook section."""
        if self.name == naming.TIER_PAGE:
            return naming.ALERT_SLO_BURN_RATE_PAGE
        return naming.ALERT_SLO_BURN_RATE_TICKET

    @property
    def for_name(self) -> str:
        return format_duration(self.for_seconds) if self.for_seconds else "0s"


@dataclass(frozen=True)
class SLI:
    """How good and bad events are counted.

    ``errors`` and ``total`` are PromQL templates with :data:`WINDOW_PLACEHOLDER` for the range;
    evaluated over a window they give error events and all events per second. For the ``ratio``
    kind ``errors`` gives the error ratio itself and ``total`` is empty. ``selectors`` are the
    raw series selectors the SLI reads (for documentation and dashboards).
    """

    kind: SLIKind
    errors: str
    total: str
    selectors: tuple[str, ...] = ()
    threshold: float | None = None  # latency: the bucket bound, in seconds
    # (role, selector) of each raw input when known: errors/good/total, histogram or gauge.
    inputs: tuple[tuple[str, str], ...] = ()
    # Labels a grouped SLI keeps (``sum by (route) (...)``): one series, and one alert, per value.
    grouping: tuple[str, ...] = ()

    def errors_query(self, window: str) -> str:
        return self.errors.replace(WINDOW_PLACEHOLDER, window)

    def total_query(self, window: str) -> str:
        return self.total.replace(WINDOW_PLACEHOLDER, window)


@dataclass(frozen=True)
class SLO:
    """One service level objective, fully resolved (defaults applied, factors derived)."""

    service: str
    name: str
    objective: float  # percent, strictly between 0 and 100
    sli: SLI
    period: float
    tiers: tuple[AlertTier, ...]
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    runbook_url: str = ""  # the SLO's own runbook; empty: each alert's section of `runbooks`
    dashboard_url: str = ""
    runbooks: str = ""  # URL of docs/runbooks.md as the on-call engineer reads it
    page_min_events: float = 0.0  # events in a page window's long range below which no page
    absent_for: float = 600.0
    source: str = ""  # "file: key.path" where the SLO was declared
    # Every window of the SLO's window table, disabled tiers included: the records exist (for
    # dashboards and budgets) even when no alert reads them.
    table_windows: tuple[float, ...] = ()
    evaluation_interval: float = 30.0  # the rule group's interval, seconds
    sloth_records: bool = False  # also record Sloth's names, for Sloth's Grafana dashboards

    @property
    def id(self) -> str:
        """``service-name``: unique in a spec, used for file and rule-group names."""
        return f"{self.service}-{self.name}"

    @property
    def objective_ratio(self) -> float:
        return float(number_text(self.objective / 100))

    @property
    def error_budget(self) -> float:
        """Allowed error ratio, e.g. 0.001 for 99.9 %."""
        return float(number_text(1 - self.objective / 100))

    @property
    def period_name(self) -> str:
        return format_duration(self.period)

    @property
    def windows(self) -> tuple[float, ...]:
        """Every window (seconds, ascending) with an error-ratio record, the period excluded."""
        return tuple(sorted(set(self.table_windows)))

    @property
    def window_names(self) -> tuple[str, ...]:
        return tuple(format_duration(w) for w in self.windows)

    @property
    def base_window(self) -> float:
        """The shortest window: event rates over it are recorded at every evaluation, and the
        part of every longer window beyond the head window is summed from those records."""
        return self.windows[0]

    @property
    def base_window_name(self) -> str:
        return format_duration(self.base_window)

    @property
    def head_window(self) -> float:
        """The second shortest window, read from the raw series like the base window: it is
        the newest part of every longer window, so a burst counts in full as soon as it
        happens (a sum of base-window rates alone would lag by half a base window)."""
        return self.windows[1] if len(self.windows) > 1 else self.windows[0]

    @property
    def head_window_name(self) -> str:
        return format_duration(self.head_window)

    @property
    def evaluation_interval_name(self) -> str:
        return format_duration(self.evaluation_interval)

    def runbook_for(self, alertname: str) -> str:
        """The runbook link of one of this SLO's alerts."""
        return self.runbook_url or f"{self.runbooks}#{runbook_anchor(alertname)}"

    def tier(self, name: str) -> AlertTier | None:
        return next((t for t in self.tiers if t.name == name), None)

    @property
    def rule_group(self) -> str:
        return f"{naming.SLO_RULE_GROUP_PREFIX}{self.id}"


@dataclass(frozen=True)
class Service:
    """A service of the platform and the dependencies (exporter names) it cannot work without."""

    name: str
    description: str = ""
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class SLOSpec:
    """Every service and SLO of a spec file (plus the files it includes)."""

    source: str
    services: tuple[Service, ...]
    slos: tuple[SLO, ...]
    grafana_url: str = "http://localhost:3000"  # Grafana's external URL, for alert links
    runbooks_url: str = ""  # docs/runbooks.md as the on-call engineer reads it

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def slos_of(self, service: str) -> tuple[SLO, ...]:
        return tuple(slo for slo in self.slos if slo.service == service)

    def dependents(self, dependency: str) -> tuple[str, ...]:
        """Services whose SLO alerts an outage of ``dependency`` explains (for inhibition)."""
        return tuple(s.name for s in self.services if dependency in s.depends_on)
