"""Recording rules and alerts for one SLO: one rule group, evaluated in order.

Layout (names in :mod:`alerts.records`), cheaper than Sloth's:

1. Two rules read raw series, once per evaluation, over the base window only (``5m``):
   error events and all events per second. Sloth instead reads raw series over every window
   (5m ... 3d), which is where its cost goes.
2. Each longer window's error ratio is derived from those two single series:
   ``sum_over_time(errors[w]) / sum_over_time(events[w])``. That is the ratio of event counts,
   weighted by traffic, not a mean of 5m ratios; ``clamp_min`` makes a window without traffic
   0 instead of NaN (errors are 0 too then).
3. Objective, error budget, period burn rate and budget remaining, then the alerts, which
   read the records written earlier in the same evaluation.
"""

from __future__ import annotations

from typing import Any

from alerts import notes, records
from alerts.model import SLO, AlertTier, number_text
from exporters import naming
from exporters.spec import format_duration

NO_TRAFFIC_FLOOR = "1e-9"  # any real event rate is far above; only an exact 0 is lifted


def _rule(record: str, expr: str, slo: SLO) -> dict[str, Any]:
    return {"record": record, "expr": expr, "labels": dict(sorted(records.labels(slo).items()))}


def base_rules(slo: SLO) -> list[dict[str, Any]]:
    """Events and errors per second over the base window, from the raw series."""
    base = slo.base_window_name
    events, errors = records.events_per_second(slo), records.errors_per_second(slo)
    if slo.sli.kind == "ratio":
        # A raw ratio has no event counts: every evaluation with a value is one "event".
        return [
            _rule(errors, slo.sli.errors_query(base), slo),
            _rule(events, f"count({records.query(errors, slo)})", slo),
        ]
    errors_expr = slo.sli.errors_query(base)
    if slo.sli.kind == "availability":
        # An error counter that has never been incremented may not exist yet: that is 0 errors.
        errors_expr = f"({errors_expr}) or vector(0)"
    return [_rule(events, slo.sli.total_query(base), slo), _rule(errors, errors_expr, slo)]


def _ratio_over(slo: SLO, window: str) -> str:
    errors = records.query(records.errors_per_second(slo), slo)
    events = records.query(records.events_per_second(slo), slo)
    if window == slo.base_window_name:
        return f"{errors} / clamp_min({events}, {NO_TRAFFIC_FLOOR})"
    return (
        f"sum_over_time({errors}[{window}])\n"
        f"/\nclamp_min(sum_over_time({events}[{window}]), {NO_TRAFFIC_FLOOR})"
    )


def ratio_rules(slo: SLO) -> list[dict[str, Any]]:
    """Error ratio over every alert window and over the period; then the budget records."""
    rules = [_rule(records.error_ratio(w), _ratio_over(slo, w), slo) for w in slo.window_names]
    budget = number_text(slo.error_budget)
    rules += [
        _rule(records.ERROR_RATIO_PERIOD, _ratio_over(slo, slo.period_name), slo),
        _rule(records.OBJECTIVE, f"vector({number_text(slo.objective_ratio)})", slo),
        _rule(records.ERROR_BUDGET, f"vector({budget})", slo),
        _rule(
            records.BURN_RATE_PERIOD,
            f"{records.query(records.ERROR_RATIO_PERIOD, slo)} / {budget}",
            slo,
        ),
        _rule(
            records.ERROR_BUDGET_REMAINING,
            f"1 - {records.query(records.BURN_RATE_PERIOD, slo)}",
            slo,
        ),
    ]
    return rules


def burn_condition(slo: SLO, tier: AlertTier) -> str:
    """The tier's windows, OR-ed; each: burn rate above the factor over long and short window.

    The value is the burn rate over the long window of the first window that holds.
    """
    budget = number_text(slo.error_budget)
    parts = []
    for window in tier.windows:
        factor = number_text(window.factor)
        lines = [
            f"{records.query(records.error_ratio(window.long_name), slo)} / {budget} > {factor}",
            f"and {records.query(records.error_ratio(window.short_name), slo)} / {budget}"
            f" > {factor}",
        ]
        if tier.name == naming.TIER_PAGE and slo.page_min_events > 0:
            events = records.query(records.events_per_second(slo), slo)
            lines.append(
                f"and avg_over_time({events}[{window.long_name}]) * {number_text(window.long)}"
                f" >= {number_text(slo.page_min_events)}"
            )
        parts.append("(\n" + "\n".join(f"  {line}" for line in lines) + "\n)")
    return "\nor\n".join(parts)


def _alert(
    name: str, expr: str, for_seconds: float, labels: dict[str, str], notes: dict[str, str]
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": format_duration(for_seconds) if for_seconds else "0s",
        "labels": dict(sorted(labels.items())),
        "annotations": notes,
    }


def alert_labels(slo: SLO, tier: str, severity: str, extra: dict[str, str]) -> dict[str, str]:
    return {
        **records.labels(slo),
        naming.SEVERITY_LABEL: severity,
        **extra,
        naming.TIER_LABEL: tier,
    }


def alert_rules(slo: SLO) -> list[dict[str, Any]]:
    """Page and ticket burn-rate alerts, budget exhausted, and data absent."""
    rules = []
    for tier in slo.tiers:
        labels = alert_labels(slo, tier.name, tier.severity, dict(tier.labels))
        rules.append(
            _alert(
                tier.alertname,
                burn_condition(slo, tier),
                tier.for_seconds,
                labels,
                notes.burn(slo, tier),
            )
        )
    ticket = (naming.TIER_TICKET, naming.SEVERITY_TICKET)
    rules.append(
        _alert(
            naming.ALERT_SLO_BUDGET_EXHAUSTED,
            f"{records.query(records.ERROR_BUDGET_REMAINING, slo)} <= 0",
            notes.EXHAUSTED_FOR,
            alert_labels(slo, *ticket, {}),
            notes.exhausted(slo),
        )
    )
    events = records.query(records.events_per_second(slo), slo)
    errors = records.query(records.errors_per_second(slo), slo)
    rules.append(
        _alert(
            naming.ALERT_SLO_DATA_ABSENT,
            f"absent({events}) or absent({errors})",
            slo.absent_for,
            alert_labels(slo, *ticket, {}),
            notes.absent(slo),
        )
    )
    return rules


def rule_group(slo: SLO) -> dict[str, Any]:
    """The SLO's rule group: records first, so the alerts see this evaluation's values."""
    return {"name": slo.rule_group, "rules": base_rules(slo) + ratio_rules(slo) + alert_rules(slo)}
