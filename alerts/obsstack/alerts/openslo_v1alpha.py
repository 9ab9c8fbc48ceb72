"""OpenSLO ``v1alpha`` ``kind: SLO`` documents, read as Sloth reads them.

Sloth reads this version only (and only ``kind: SLO``): each of ``spec.objectives`` becomes
one SLO named ``<metadata.name>-<index>``, its SLI from ``ratioMetrics.good`` and ``total``
(PromQL templates with ``{{.window}}``, used as written), its objective ``target`` (0-1) as a
percentage, its period ``spec.timeWindows[0]`` (``count`` days; the default period without
one). Sloth generates no alerts for these SLOs, so both burn-rate tiers are disabled.

Sloth's SLI is the raw ratio ``1 - good/total`` per window; here errors are ``total - good``
events, which gives the same ratio over every window but weighted by traffic (see
``alerts/README.md``). Fields Sloth ignores but whose meaning obsstack would not honour
(calendar windows, Timeslices, threshold metrics) are refused rather than silently dropped.
"""

from __future__ import annotations

from obsstack.alerts import sli as sli_kinds
from obsstack.alerts.build import Defaults, TierExtras, build_slo, name, tiers_with
from obsstack.alerts.model import SLI, SLO, TIER_NAMES
from obsstack.alerts.sloth import query_template
from obsstack.alerts.windows import WindowTable
from obsstack.core.spec import Section

VERSION = "openslo/v1alpha"
SOURCES = ("prometheus", "sloth")
_INHERITED = ("period", "evaluation_interval")
_DAY = 86400.0
MAX_DAYS = 365


def read(document: Section, defaults: Defaults, tables: dict[str, WindowTable]) -> list[SLO]:
    """One SLO per objective of a ``kind: SLO`` document, closed (unknown keys rejected)."""
    document.string("apiVersion", choices=(VERSION,))
    document.string("kind", choices=("SLO",))
    metadata = document.section("metadata")
    slo_name = name(metadata, "name")
    metadata.string("displayName", "")
    metadata.close()
    spec = document.section("spec")
    service = name(spec, "service")
    description = spec.string("description", "")
    method = spec.string("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise spec.error("budgetingMethod", f"only Occurrences is supported (got {method!r})")
    if spec.has("indicator"):
        raise spec.error(
            "indicator", "threshold metrics are not supported: use objectives[].ratioMetrics"
        )
    inherited = ("evaluation_interval",) if spec.data.get("timeWindows") else _INHERITED
    period = _period(spec, defaults.period)
    table = tables[defaults.alert_windows]
    no_alerts: dict[str, TierExtras] = {tier: TierExtras(disabled=True) for tier in TIER_NAMES}
    objectives = spec.sections("objectives")
    if not objectives:
        raise spec.error("objectives", "must list at least one objective")
    slos = []
    for index, objective in enumerate(objectives):
        target = objective.float("target", minimum=0, maximum=1, exclusive=True)
        sli = _sli(objective.section("ratioMetrics"))
        _refuse_threshold_keys(objective)
        objective.string("displayName", "")
        objective.float("value", 0.0)
        objective.close()
        slos.append(
            build_slo(
                spec,
                service=service,
                slo_name=f"{slo_name}-{index}",
                objective=float(f"{target * 100:.10g}"),
                sli=sli,
                period=period,
                table=table,
                tiers=tiers_with(table, period, TierExtras(), no_alerts),
                defaults=defaults,
                key_paths={
                    "objective": f"objectives[{index}].target",
                    "period": "timeWindows[0].count",
                },
                description=description,
                absent_for=defaults.absent_for,
                page_min_events=defaults.page_min_events,
                inherited=inherited,
            )
        )
    spec.close()
    document.close()
    return slos


def _period(spec: Section, default: float) -> float:
    """``timeWindows: [{count, unit: Day}]``: rolling days; absent, the default period."""
    windows = spec.sections("timeWindows", [])
    if not windows:
        return default
    if len(windows) != 1:
        raise spec.error("timeWindows", "must list exactly one window")
    window = windows[0]
    unit = window.string("unit")
    if unit.lower() != "day":
        raise window.error("unit", f"only Day windows are supported (got {unit!r})")
    count: int = window.integer("count", minimum=1, maximum=MAX_DAYS)
    rolling = window.boolean("isRolling", True)
    if window.has("calendar"):
        raise window.error("calendar", "only rolling windows are supported")
    if not rolling:
        raise window.error("isRolling", "only rolling windows are supported")
    window.close()
    return count * _DAY


def _refuse_threshold_keys(objective: Section) -> None:
    for key, reason in (
        ("timeSliceTarget", "Timeslices budgeting is not supported"),
        ("op", "applies to threshold metrics, which are not supported"),
    ):
        if objective.has(key):
            raise objective.error(key, reason)


def _sli(ratio: Section) -> SLI:
    """``ratioMetrics: {good, total, counter}``: errors are total - good events."""
    good = _query(ratio, "good")
    total = _query(ratio, "total")
    ratio.boolean("counter", False)  # the queries are used as written either way, as in Sloth
    ratio.close()
    return sli_kinds.availability_expressions(f"({total}) - ({good})", total)


def _query(ratio: Section, key: str) -> str:
    metric = ratio.section(key)
    metric.string("source", choices=SOURCES)
    metric.string("queryType", choices=("promql",))
    query = query_template(metric, "query")
    metric.close()
    return query
