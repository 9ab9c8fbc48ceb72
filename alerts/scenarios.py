"""What the generated promtool tests of an SLO assert: traffic profiles and expected alerts.

Every scenario derives its numbers from the SLO (objective, window table, ``for:``), so the
tests follow the spec. Values put in annotations are only checked where they are exact in any
Prometheus version: with a steady error ratio from the first sample, every window's ratio is
exactly that ratio. Timing is checked on the ``ALERTS`` series, with margins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alerts import notes, records
from alerts.model import SLO, AlertTier, AlertWindow
from alerts.rules import alert_labels
from alerts.series import Segment
from exporters import naming
from exporters.spec import format_duration

EVENTS_PER_MINUTE = 100_000  # steady traffic; large enough that ratios are fine-grained


@dataclass(frozen=True)
class Check:
    """At ``at`` minutes, alert ``alertname`` fires (labels) or not; ``notes``: exact annotations.

    ``alertname`` empty means every alert of the SLO (used with ``firing=False``).
    """

    at: int
    alertname: str
    firing: bool
    notes: dict[str, str] | None = None


@dataclass(frozen=True)
class RecordCheck:
    at: int
    record: str
    value: float


@dataclass
class Case:
    title: str
    segments: list[Segment]
    checks: list[Check] = field(default_factory=list)
    records: list[RecordCheck] = field(default_factory=list)


def labels(slo: SLO, alertname: str) -> dict[str, str]:
    """The labels the SLO's alert ``alertname`` fires with."""
    for tier in slo.tiers:
        if tier.alertname == alertname:
            return alert_labels(slo, tier.name, tier.severity, dict(tier.labels))
    return alert_labels(slo, naming.TIER_TICKET, naming.SEVERITY_TICKET, {})


def _stable(value: float, render: str) -> bool:
    """True when a value's text does not change under float noise."""
    return all(f"{value * k:{render}}" == f"{value:{render}}" for k in (1 - 1e-9, 1 + 1e-9))


def above(slo: SLO, threshold: float, margin: float = 1.01) -> float:
    """An error ratio just above ``threshold`` whose derived annotation values print stably."""
    errors = math.ceil(threshold * margin * EVENTS_PER_MINUTE)
    while True:
        ratio = min(errors / EVENTS_PER_MINUTE, 1.0)
        burn = ratio / slo.error_budget
        if ratio >= 1.0 or (_stable(burn, ".1f") and _stable((1 - burn) * 100, ".4g")):
            return ratio
        errors += 1


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60)


def steady_burn(slo: SLO) -> Case:
    """An error ratio above every window's threshold from the first minute: all tiers fire."""
    factor = max(w.factor for t in slo.tiers for w in t.windows)
    ratio = above(slo, factor * slo.error_budget)
    burn = ratio / slo.error_budget
    fors = [_minutes(t.for_seconds) for t in slo.tiers] + [_minutes(notes.EXHAUSTED_FOR)]
    end = max(fors) + 6
    case = Case(
        f"error ratio {ratio:g} from the start ({burn:g}x the budget): every tier fires",
        [Segment(end + 1, EVENTS_PER_MINUTE, ratio)],
    )
    for tier in slo.tiers:
        case.checks.append(Check(end, tier.alertname, True, notes.burn(slo, tier, burn, 1 - burn)))
    case.checks.append(
        Check(end, naming.ALERT_SLO_BUDGET_EXHAUSTED, burn > 1, notes.exhausted(slo, 1 - burn))
    )
    case.checks.append(Check(end, naming.ALERT_SLO_DATA_ABSENT, False))
    page, ticket = slo.tier(naming.TIER_PAGE), slo.tier(naming.TIER_TICKET)
    if page and ticket and ticket.for_seconds >= page.for_seconds + 300:
        early = _minutes(page.for_seconds) + 4  # the page comes first
        case.checks += [Check(early, page.alertname, True), Check(early, ticket.alertname, False)]
    return case


def steady_below(slo: SLO) -> Case:
    """An error ratio just below the lowest threshold, for hours: nothing fires."""
    factor = min(w.factor for t in slo.tiers for w in t.windows)
    # Below the budget itself too, so that the budget-exhausted alert stays quiet.
    limit = min(factor, 1.0) * slo.error_budget * 0.99
    ratio = math.floor(limit * EVENTS_PER_MINUTE) / EVENTS_PER_MINUTE
    end = max(_minutes(w.long) for t in slo.tiers for w in t.windows if w.long <= 6 * 3600) + 30
    return Case(
        f"error ratio {ratio:g}, just below {factor:g}x the budget: nothing fires",
        [Segment(end + 1, EVENTS_PER_MINUTE, ratio)],
        [Check(30, "", False), Check(end, "", False)],
    )


def no_traffic(slo: SLO) -> Case:
    """Counters that exist but do not move: no alert, ratios 0 and the budget whole, no NaN."""
    return Case(
        "no traffic at all: no alert, error ratios 0 and the whole budget left (no NaN)",
        [Segment(121, 0.0, 0.0)],
        [Check(120, "", False)],
        [
            RecordCheck(120, records.error_ratio(slo.base_window_name), 0.0),
            RecordCheck(120, records.error_ratio(slo.window_names[-1]), 0.0),
            RecordCheck(120, records.ERROR_BUDGET_REMAINING, 1.0),
        ],
    )


def gap(slo: SLO) -> Case:
    """The series disappear (scrape gap): the data-absent alert fires, nothing else."""
    absent_for = _minutes(slo.absent_for)
    start, length = 30, absent_for + 20
    return Case(
        f"no samples for {length} minutes: {naming.ALERT_SLO_DATA_ABSENT} fires",
        [
            Segment(start, EVENTS_PER_MINUTE, 0.0),
            Segment(length, None),
            Segment(10, EVENTS_PER_MINUTE, 0.0),
        ],
        [
            Check(start + 2, naming.ALERT_SLO_DATA_ABSENT, False),
            Check(start + absent_for + 10, naming.ALERT_SLO_DATA_ABSENT, True, notes.absent(slo)),
            Check(start + absent_for + 10, slo.tiers[0].alertname, False),
        ],
    )


def low_traffic(slo: SLO, page: AlertTier) -> Case:
    """Fewer events than ``page_min_events`` in every page window: tickets but no page."""
    longest = max(w.long for w in page.windows)
    per_minute = slo.page_min_events / (longest / 60) / 2
    factor = max(w.factor for t in slo.tiers for w in t.windows)
    ratio = (1 + factor * slo.error_budget) / 2
    end = _minutes(longest) + 30
    case = Case(
        f"{per_minute:.4g} events a minute, fewer than {slo.page_min_events:g} in any page "
        "window: no page",
        [Segment(end + 1, per_minute, ratio)],
        [Check(end, page.alertname, False)],
    )
    ticket = slo.tier(naming.TIER_TICKET)
    if ticket is not None:
        case.checks.append(Check(end, ticket.alertname, True))
    return case


def detection(slo: SLO, tier: AlertTier, window: AlertWindow, step: int) -> Case:
    """A clean history as long as the tier's longest window, then a ratio just above threshold.

    The tier must not fire well before the window has filled enough to cross the threshold,
    and must fire once the whole window (and ``for:``) has seen it. ``step`` is the test's
    evaluation interval in minutes.
    """
    threshold = window.factor * slo.error_budget
    ratio = above(slo, threshold)
    history = max(_minutes(w.long) for w in tier.windows)
    long, short = _minutes(window.long), _minutes(window.short)
    base = _minutes(slo.base_window)
    crossing = long * threshold / ratio + base / 2  # minutes after the burn starts
    fire_by = history + long + short + base + _minutes(tier.for_seconds) + 2 * step
    fire_by = math.ceil(fire_by / step) * step
    case = Case(
        f"{tier.name} window {window.long_name}/{window.short_name}: clean for "
        f"{format_duration(history * 60)}, then error ratio {ratio:g} (just above "
        f"{window.factor:g}x)",
        [
            Segment(history, EVENTS_PER_MINUTE, 0.0),
            Segment(fire_by - history + 1, EVENTS_PER_MINUTE, ratio),
        ],
    )
    early = history + math.floor(0.85 * crossing / step) * step
    if early > history and not _others_fire(slo, tier, window, ratio, early - history, early):
        case.checks.append(Check(early, tier.alertname, False))
    case.checks.append(Check(fire_by, tier.alertname, True))
    return case


def _others_fire(
    slo: SLO, tier: AlertTier, tested: AlertWindow, ratio: float, burning: int, now: int
) -> bool:
    """Whether another window of ``tier`` may hold ``burning`` minutes into the burn."""
    for window in tier.windows:
        if window == tested:
            continue
        threshold = window.factor * slo.error_budget
        long_ratio = ratio * min(1.0, burning / min(window.long / 60, now))
        if long_ratio > 0.9 * threshold and ratio > 0.9 * threshold:
            return True
    return False
