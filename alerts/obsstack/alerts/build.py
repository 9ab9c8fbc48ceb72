"""What the three spec readers (obsstack, Sloth, OpenSLO) share: assembling a checked SLO.

:func:`build_slo` applies defaults and cross-checks an SLO (objective range, period against
the window table, thresholds that could never fire); :func:`tiers_with` adds a spec's labels
and annotations to the window table's tiers; names and labels are validated here once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from obsstack.alerts.model import SLI, SLO, AlertTier, number_text
from obsstack.alerts.windows import DEFAULT_TABLE, WindowTable
from obsstack.core import naming
from obsstack.core.spec import ConfigError, Section, format_duration

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = {"alertname"}  # and every name starting with naming.RESERVED_LABEL_PREFIX
SLO_DASHBOARD_PATH = "/d/obsstack-slos/slos"  # the SLOs dashboard (uid obsstack-slos)


@dataclass(frozen=True)
class Links:
    """Where alert links point: Grafana's external URL and the runbooks document."""

    grafana: str = "http://localhost:3000"
    runbooks: str = "https://github.com/obsstack/obsstack/blob/main/docs/runbooks.md"

    def slo_dashboard(self, service: str, slo: str) -> str:
        return (
            f"{self.grafana.rstrip('/')}{SLO_DASHBOARD_PATH}"
            f"?var-service={quote(service)}&var-slo={quote(slo)}"
        )


@dataclass(frozen=True)
class Defaults:
    """Spec-wide defaults every SLO may override; ``origin`` is where they were written (file
    and key path of the ``defaults`` section), so that a bad inherited value is blamed there."""

    period: float = 30 * 86400.0
    alert_windows: str = DEFAULT_TABLE
    absent_for: float = 600.0
    page_min_events: float = 0.0
    evaluation_interval: float = 30.0
    sloth_records: bool = False
    links: Links = field(default_factory=Links)
    origin: tuple[str, str] | None = None


def name(section: Section, key: str) -> str:
    value: str = section.string(key)
    if not NAME.match(value):
        raise section.error(key, f"must be letters, digits, - and _ (got {value!r})")
    return value


def labels(section: Section, key: str) -> dict[str, str]:
    """A label mapping of any valid names but obsstack's own (``obsstack_*``, ``alertname``)."""
    values: dict[str, str] = section.str_map(key, {})
    for label in values:
        if not LABEL.match(label) or label.startswith("__"):
            raise section.error(f"{key}.{label}", "is not a valid label name")
        if label in RESERVED_LABELS or label.startswith(naming.RESERVED_LABEL_PREFIX):
            raise section.error(f"{key}.{label}", "is set by obsstack and cannot be overridden")
    return values


@dataclass(frozen=True)
class TierExtras:
    """What a spec adds to a tier of its window table."""

    disabled: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def tiers_with(
    table: WindowTable,
    period: float,
    common: TierExtras,
    extras: dict[str, TierExtras],
    alert_name: str = "",
) -> tuple[AlertTier, ...]:
    """The table's tiers for ``period``, labels and annotations added, disabled ones left out.

    ``alert_name`` renames both tiers' alerts (Sloth's ``alerting.name``); they stay apart by
    their tier label.
    """
    tiers = []
    for tier in table.tiers_for(period):
        extra = extras.get(tier.name, TierExtras())
        if not extra.disabled:
            tiers.append(
                replace(
                    tier,
                    labels={**common.labels, **extra.labels},
                    annotations={**common.annotations, **extra.annotations},
                    alert_name=alert_name,
                )
            )
    return tuple(tiers)


def read_extras(section: Section, *, disable: bool = True) -> TierExtras:
    """``labels`` and ``annotations`` (and ``disable``) of an alerting section, closed."""
    extras = TierExtras(
        disabled=section.boolean("disable", False) if disable else False,
        labels=labels(section, "labels"),
        annotations=section.str_map("annotations", {}),
    )
    return extras


def build_slo(
    where: Section,
    *,
    service: str,
    slo_name: str,
    objective: float,
    sli: SLI,
    period: float,
    table: WindowTable,
    tiers: tuple[AlertTier, ...],
    defaults: Defaults,
    key_paths: dict[str, str] | None = None,
    inherited: tuple[str, ...] = (),
    **details: object,
) -> SLO:
    """Assemble and cross-check an SLO.

    ``where`` is the SLO's section, for error messages; ``key_paths`` says where ``objective``
    and ``period`` are under it when the format nests them (OpenSLO). ``inherited`` names the
    keys (``period``, ``evaluation_interval``) whose value came from ``defaults``: a problem
    with one of them is reported where the default was written.
    """
    keys = {
        "objective": "objective",
        "period": "period",
        "evaluation_interval": "evaluation_interval",
        **(key_paths or {}),
    }

    def blame(key: str, reason: str) -> ConfigError:
        if key not in inherited or defaults.origin is None:
            return where.error(keys[key], reason)
        file, section = defaults.origin
        slo = where.path if where.file == file else f"{where.file}: {where.path}"
        return ConfigError(file, f"{section}.{key}", f"{reason}; inherited by {slo}")

    if objective >= 100:
        raise where.error(keys["objective"], "must be below 100: 100 % leaves no error budget")
    if objective <= 0:
        raise where.error(keys["objective"], f"must be above 0 (got {objective:g})")
    if table.longest > period:
        raise blame(
            "period",
            f"must be at least the longest alert window {format_duration(table.longest)} "
            f"of table {table.name} (got {format_duration(period)})",
        )
    details.setdefault("evaluation_interval", defaults.evaluation_interval)
    interval = float(details["evaluation_interval"])  # type: ignore[arg-type]
    _check_interval(blame, interval, table, period)
    slo = SLO(
        service=service,
        name=slo_name,
        objective=objective,
        sli=sli,
        period=period,
        tiers=tiers,
        runbooks=defaults.links.runbooks,
        source=f"{where.file}: {where.path}",
        table_windows=table.spans,
        sloth_records=defaults.sloth_records,
        **details,  # type: ignore[arg-type]
    )
    if not slo.dashboard_url:
        slo = replace(slo, dashboard_url=defaults.links.slo_dashboard(service, slo_name))
    for tier in slo.tiers:
        for window in tier.windows:
            needed = window.factor * slo.error_budget
            if needed >= 1:
                raise where.error(
                    keys["objective"],
                    f"leaves an error budget of {number_text(slo.error_budget * 100)} %: the "
                    f"{tier.name} window {window.long_name}/{window.short_name} at "
                    f"{number_text(window.factor)}x would need more than "
                    f"{number_text(needed * 100)} % errors and could never fire "
                    "(use an alert_windows table with smaller factors)",
                )
    return slo


def _check_interval(
    blame: Callable[[str, str], ConfigError], interval: float, table: WindowTable, period: float
) -> None:
    """Every window must be a whole number of evaluations: long windows are sums of them."""
    base = table.spans[0]
    if interval > base:
        raise blame(
            "evaluation_interval",
            f"must be at most the shortest window {format_duration(base)} of table "
            f"{table.name} (got {format_duration(interval)})",
        )
    for span in (*table.spans, period):
        if round(span / interval, 9) % 1:
            raise blame(
                "evaluation_interval",
                f"must divide every window of table {table.name} and the period: "
                f"{format_duration(span)} is not a whole number of {format_duration(interval)}",
            )


def check_unique_slos(slos: list[SLO], hide: Callable[[str], str] = str) -> None:
    """Raise on the first SLO whose service and name repeat an earlier one; ``hide`` puts back
    the ``${NAME}`` references of names that came from the environment."""
    seen: dict[tuple[str, str], str] = {}
    for slo in slos:
        file, _, path = slo.source.rpartition(": ")
        first = seen.setdefault((slo.service, slo.name), slo.source)
        if first != slo.source:
            first_file, _, first_path = first.rpartition(": ")
            where = first_path if first_file == file else first
            raise ConfigError(
                file,
                f"{path}.name",
                hide(f"duplicate SLO {slo.service}/{slo.name} (first at {where})"),
            )
