"""Recording rules and alerts for one SLO: one rule group, evaluated in order.

Layout (names in :mod:`obsstack.alerts.records`):

1. Four rules read the raw series, each evaluation: error events and all events per second
   over the base window (``5m``) and the head window (``30m``). Sloth reads the raw series over
   every window up to ``3d``, which is where its cost goes.
2. Every longer window ``w`` (and the period) counts its events in two parts: the head window
   from its raw rate, exactly, and the rest, ``w - 30m``, as the sum of the base-window rates
   recorded at each evaluation (times the evaluation interval). Their ratio, errors over events,
   is weighted by traffic; ``clamp_min`` makes a window without traffic 0 instead of NaN.
   The head makes a burst count in full as soon as it happens, as in Sloth's windows; summing
   base-window rates alone would lag by half a base window. The sum is offset so that its
   ramp-in straddles the head's edge (its overlap and its gap cancel), and its range ends
   between two evaluations (Prometheus 2 and 3 count the same samples).
3. The period's budget: errors so far against the budget of the whole period, the period's
   traffic extrapolated from the traffic so far (``slo:period_coverage:ratio``), so a young
   deployment is not "exhausted" by its first burst. The period beyond the head is summed from
   base-window tiles (``slo:events:5m``, ``slo:errors:5m``) that a second group records once
   per base window: reading 30 days of them decodes 8,640 samples, not 86,400.
4. Alerts read the records of the same evaluation. ``AlertExplained`` fires while a louder alert
   explains one of this SLO's burn-rate alerts and only while that alert's own condition holds:
   Alertmanager mutes the explained alert (:mod:`obsstack.stack.configs`) and never its
   resolve.

A ``ratio`` SLI has no event counts: each window evaluates the ratio over its own range, as
Sloth does, and the period is the mean of the base-window ratios.
"""

from __future__ import annotations

import re
from typing import Any

from obsstack.alerts import notes, records, sloth_records
from obsstack.alerts.model import SLO, AlertTier, number_text
from obsstack.core import naming
from obsstack.core.spec import format_duration

NO_TRAFFIC_FLOOR = "1e-9"  # any real event rate is far above; only an exact 0 is lifted


def _rule(record: str, expr: str, slo: SLO) -> dict[str, Any]:
    return {"record": record, "expr": expr, "labels": dict(sorted(records.labels(slo).items()))}


def _q(record: str, slo: SLO) -> str:
    return records.query(record, slo)


# -- events and errors over a window ---------------------------------------------------------


def sum_range(slo: SLO, span: float) -> tuple[float, float]:
    """Range and offset of the base-window records that stand for ``span`` beyond the head.

    With ``n`` evaluations per base window, a sum of base-window rates weighs the newest and the
    oldest base window of its range in a ramp. Offsetting the newest sample ``j`` evaluations
    past the head's edge, and starting ``c + 1`` evaluations after the window's start, centres
    both ramps on the edges; the range ends half an evaluation before its first sample.
    """
    step = slo.evaluation_interval
    per_base = round(slo.base_window / step)
    newest, oldest = (per_base - 1) // 2, per_base // 2
    offset = slo.head_window - newest * step
    length = span - slo.head_window - (oldest + 1 - newest) * step + step / 2
    return length, offset


def _range(slo: SLO, span: float) -> str:
    """``[length] offset offset`` of :func:`sum_range`, as PromQL."""
    length, offset = sum_range(slo, span)
    return f"[{format_duration(length)}] offset {format_duration(offset)}"


def _count(slo: SLO, kind: str, span: float) -> str:
    """Events (``kind`` events_per_second) or errors over ``span`` seconds, as a count."""
    record = records.events_per_second if kind == "events" else records.errors_per_second
    if span <= slo.head_window:
        rate = _q(record(slo, format_duration(span)), slo)
        return f"{rate} * {number_text(span)}"
    head = _q(record(slo, slo.head_window_name), slo)
    base = _q(record(slo, slo.base_window_name), slo)
    step = number_text(slo.evaluation_interval)
    older = f"sum_over_time({base}{_range(slo, span)}) * {step}"
    # Before the records reach that far back the older part is 0, not missing.
    return f"{head} * {number_text(slo.head_window)}\n+ ({older}\n   or {head} * 0)"


def events_over(slo: SLO, window: float) -> str:
    """All events of ``slo`` over ``window`` seconds (one of its windows, or its period)."""
    return _count(slo, "events", window)


def _ratio_over(slo: SLO, window: float) -> str:
    if slo.sli.kind == "ratio":
        # NaN (0/0 in a window without traffic) is dropped rather than spoiling the period.
        return f"({slo.sli.errors_query(format_duration(window))}) >= 0"
    if window <= slo.head_window:  # the base or the head window: its own raw rates
        name = format_duration(window)
        errors = _q(records.errors_per_second(slo, name), slo)
        events = _q(records.events_per_second(slo, name), slo)
        return f"{errors} / clamp_min({events}, {NO_TRAFFIC_FLOOR})"
    errors, events = _count(slo, "errors", window), _count(slo, "events", window)
    return f"(\n{errors}\n)\n/\nclamp_min(\n{events},\n{NO_TRAFFIC_FLOOR})"


# -- rules ---------------------------------------------------------------------------------------


def raw_rules(slo: SLO) -> list[dict[str, Any]]:
    """Events and errors per second over the base and head windows, from the raw series."""
    if slo.sli.kind == "ratio":
        return []
    rules = []
    windows = dict.fromkeys((slo.base_window_name, slo.head_window_name))
    for window in windows:
        rules.append(
            _rule(records.events_per_second(slo, window), slo.sli.total_query(window), slo)
        )
    for window in windows:
        errors = slo.sli.errors_query(window)
        if slo.sli.kind == "availability":
            # An error counter that has never been incremented may not exist yet: 0 errors.
            errors = f"({errors})\nor\n({slo.sli.total_query(window)}) * 0"
        rules.append(_rule(records.errors_per_second(slo, window), errors, slo))
    return rules


def ratio_rules(slo: SLO) -> list[dict[str, Any]]:
    """Error ratio over every window and over the period; then the budget records."""
    rules = [
        _rule(records.error_ratio(name), _ratio_over(slo, w), slo)
        for w, name in zip(slo.windows, slo.window_names, strict=True)
    ]
    budget = number_text(slo.error_budget)
    period = number_text(slo.period)
    if slo.sli.kind == "ratio":
        tiles = _q(records.sampled_error_ratio(slo), slo)
        period_ratio = f"avg_over_time({tiles}{_tile_range(slo, slo.period)})"
        covered = f"count_over_time({tiles}{_tile_range(slo, slo.period)}) * {_base(slo)}"
    else:
        period_ratio = _period_ratio(slo)
        tiles = _q(records.events_in(slo), slo)
        head = _q(records.events_per_second(slo, slo.head_window_name), slo)
        covered = (
            f"{number_text(slo.head_window)} + (count_over_time({tiles}"
            f"{_tile_range(slo, slo.period)}) * {_base(slo)}\n   or {head} * 0)"
        )
    rules += [
        _rule(records.ERROR_RATIO_PERIOD, period_ratio, slo),
        _rule(records.PERIOD_COVERAGE, f"clamp_max(\n({covered}) / {period},\n1)", slo),
        _rule(records.OBJECTIVE, f"vector({number_text(slo.objective_ratio)})", slo),
        _rule(records.ERROR_BUDGET, f"vector({budget})", slo),
        _rule(records.BURN_RATE_PERIOD, f"{_q(records.ERROR_RATIO_PERIOD, slo)} / {budget}", slo),
        _rule(
            records.ERROR_BUDGET_REMAINING,
            f"1 - {_q(records.BURN_RATE_PERIOD, slo)} * {_q(records.PERIOD_COVERAGE, slo)}",
            slo,
        ),
    ]
    return rules


# -- the period, from base-window tiles -----------------------------------------------------------


def _base(slo: SLO) -> str:
    return number_text(slo.base_window)


def _tile_range(slo: SLO, span: float) -> str:
    """The base-window tiles older than the head, as a subquery: one value per base window,
    taken at absolute multiples of it, whichever interval the tiles were recorded at."""
    length = format_duration(span - slo.head_window)
    return f"[{length}:{slo.base_window_name}] offset {slo.head_window_name}"


def _period_count(slo: SLO, kind: str) -> str:
    """Events or errors over the period: the head, exactly, then the tiles before it.

    A tile counts the base window before it was recorded, so the tiles taken one base window
    apart count each event once; between the newest tile and the head, up to a base window
    (two, at the tile group's own interval) is not counted: the period may miss the events of
    a few minutes some 30 minutes ago, and never counts one twice.
    """
    per_second = records.events_per_second if kind == "events" else records.errors_per_second
    counted = records.events_in if kind == "events" else records.errors_in
    head = _q(per_second(slo, slo.head_window_name), slo)
    tiles = f"sum_over_time({_q(counted(slo), slo)}{_tile_range(slo, slo.period)})"
    return f"{head} * {number_text(slo.head_window)}\n+ ({tiles}\n   or {head} * 0)"


def _period_ratio(slo: SLO) -> str:
    errors, events = _period_count(slo, "errors"), _period_count(slo, "events")
    return f"(\n{errors}\n)\n/\nclamp_min(\n{events},\n{NO_TRAFFIC_FLOOR})"


def tile_rules(slo: SLO) -> list[dict[str, Any]]:
    """What the period sums, recorded once per base window in a group of its own: a 30-day
    read then decodes a sample per base window, not one per evaluation."""
    if slo.sli.kind == "ratio":
        ratio = _q(records.error_ratio(slo.base_window_name), slo)
        return [_rule(records.sampled_error_ratio(slo), ratio, slo)]
    return [
        _rule(
            records.events_in(slo), f"{_q(records.events_per_second(slo), slo)} * {_base(slo)}", slo
        ),
        _rule(
            records.errors_in(slo), f"{_q(records.errors_per_second(slo), slo)} * {_base(slo)}", slo
        ),
    ]


def burn_condition(slo: SLO, tier: AlertTier) -> str:
    """The tier's windows, OR-ed; each: burn rate above the factor over long and short window.

    The value is the burn rate over the long window of the first window that holds.
    """
    parts = []
    for window in tier.windows:
        factor = number_text(window.factor)
        lines = [
            f"{records.burn_rate_query(slo, window.long_name)} > {factor}",
            f"and {records.burn_rate_query(slo, window.short_name)} > {factor}",
        ]
        if tier.name == naming.TIER_PAGE and slo.page_min_events > 0 and slo.sli.kind != "ratio":
            events = events_over(slo, window.long).replace("\n", "\n  ")
            lines.append(f"and (\n  {events}\n) >= {number_text(slo.page_min_events)}")
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


def alert_labels(slo: SLO, tier: AlertTier | None, tier_name: str, severity: str) -> dict[str, str]:
    """Identity and user labels, severity (the spec's own, if any) and the tier."""
    extra = dict(tier.labels) if tier is not None else {}
    severity = extra.get(naming.SEVERITY_LABEL, slo.labels.get(naming.SEVERITY_LABEL, severity))
    return {
        **records.labels(slo),
        **extra,
        naming.SEVERITY_LABEL: severity,
        naming.TIER_LABEL: tier_name,
    }


def _dependency_down(dependencies: tuple[str, ...], aftermath: float) -> str:
    """DependencyDown pending or firing for any of ``dependencies`` now, or firing within the
    last ``aftermath`` seconds (the errors it caused are still in the alert's windows)."""
    names = "|".join(re.escape(d) for d in sorted(dependencies))
    alerts = f'ALERTS{{alertname="{naming.ALERT_DEPENDENCY_DOWN}",{naming.DEPENDENCY}=~"{names}"'
    return (
        f'{alerts}}}\nor\nmax_over_time({alerts},alertstate="firing"}}'
        f"[{format_duration(aftermath)}])"
    )


def explained_rules(slo: SLO, dependencies: tuple[str, ...]) -> list[dict[str, Any]]:
    """``AlertExplained`` for each burn-rate tier that a louder alert explains.

    A page explains the ticket of the same SLO (and group); an outage of a dependency the
    service depends on explains its pages and tickets, until the errors it caused have left
    the tier's short windows. Each fires only while the explained tier's condition holds.
    """
    page, ticket = slo.tier(naming.TIER_PAGE), slo.tier(naming.TIER_TICKET)
    causes: list[tuple[AlertTier, str, str]] = []
    for tier in (page, ticket):
        if tier is None or not dependencies:
            continue
        aftermath = max(w.short for w in tier.windows) + slo.base_window
        causes.append((tier, naming.CAUSE_DEPENDENCY, _dependency_down(dependencies, aftermath)))
    if ticket is not None and page is not None:
        causes.insert(0, (ticket, naming.CAUSE_PAGE, burn_condition(slo, page)))
    rules = []
    for tier, cause, explanation in causes:
        on = "and on()" if cause == naming.CAUSE_DEPENDENCY else "and"
        labels = {
            **records.labels(slo),
            naming.EXPLAINS_LABEL: tier.name,
            naming.CAUSE_LABEL: cause,
            naming.SEVERITY_LABEL: naming.SEVERITY_NONE,
            naming.TIER_LABEL: naming.TIER_INHIBITOR,
        }
        expr = f"(\n{burn_condition(slo, tier)}\n)\n{on} (\n{explanation}\n)"
        rules.append(
            _alert(
                naming.ALERT_EXPLAINED,
                expr,
                0,
                labels,
                notes.explained(slo, tier, cause, dependencies),
            )
        )
    return rules


def alert_rules(slo: SLO, dependencies: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Burn-rate alerts of each enabled tier, then, with the ticket tier, budget exhausted and
    data absent (tickets too), then the ``AlertExplained`` inhibitors."""
    rules = []
    for tier in slo.tiers:
        labels = alert_labels(slo, tier, tier.name, tier.severity)
        rules.append(
            _alert(
                tier.alertname,
                burn_condition(slo, tier),
                tier.for_seconds,
                labels,
                notes.burn(slo, tier),
            )
        )
    ticket = slo.tier(naming.TIER_TICKET)
    if ticket is not None:
        labels = alert_labels(slo, ticket, naming.TIER_TICKET, naming.SEVERITY_TICKET)
        rules.append(
            _alert(
                naming.ALERT_SLO_BUDGET_EXHAUSTED,
                f"{_q(records.ERROR_BUDGET_REMAINING, slo)} <= 0",
                notes.EXHAUSTED_FOR,
                labels,
                notes.exhausted(slo, tier=ticket),
            )
        )
        rules.append(
            _alert(
                naming.ALERT_SLO_DATA_ABSENT,
                " or ".join(f"absent({_q(r, slo)})" for r in absent_records(slo)),
                slo.absent_for,
                labels,
                notes.absent(slo, ticket),
            )
        )
    return rules + explained_rules(slo, dependencies)


def absent_records(slo: SLO) -> list[str]:
    """The records whose absence means the SLI has no data."""
    if slo.sli.kind == "ratio":
        return [records.error_ratio(slo.base_window_name)]
    return [records.events_per_second(slo), records.errors_per_second(slo)]


def rule_group(slo: SLO, dependencies: tuple[str, ...] = ()) -> dict[str, Any]:
    """The SLO's main group: records first, so the alerts see this evaluation's values.

    ``dependencies`` are the service's ``depends_on``: their outages explain its burn.
    """
    rules = raw_rules(slo) + ratio_rules(slo) + alert_rules(slo, dependencies)
    if slo.sloth_records:
        rules += sloth_records.rules(slo)
    return {"name": slo.rule_group, "interval": slo.evaluation_interval_name, "rules": rules}


def period_group(slo: SLO) -> dict[str, Any]:
    """The group that records the period's tiles, once per base window."""
    return {
        "name": f"{slo.rule_group}-period",
        "interval": slo.base_window_name,
        "rules": tile_rules(slo),
    }


def rule_groups(slo: SLO, dependencies: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Both groups of an SLO, as its rule file holds them."""
    return [rule_group(slo, dependencies), period_group(slo)]
