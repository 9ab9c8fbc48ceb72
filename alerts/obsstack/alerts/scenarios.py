"""What the generated promtool tests of an SLO assert: traffic profiles and expected alerts.

Every scenario derives its numbers from the SLO (objective, window table, ``for:``), so the
tests follow the spec. Values put in annotations are only checked where they are exact in any
Prometheus version: with a steady error ratio from the first sample, every window's ratio is
exactly that ratio. Timing is checked on the ``ALERTS`` series, with margins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from obsstack.alerts import notes, records, series
from obsstack.alerts.model import SLO, AlertTier, AlertWindow
from obsstack.alerts.rules import alert_labels
from obsstack.alerts.series import Segment
from obsstack.core import naming
from obsstack.core.spec import format_duration

EVENTS_PER_MINUTE = 100_000  # steady traffic; large enough that ratios are fine-grained


@dataclass(frozen=True)
class Check:
    """At ``at`` minutes, alert ``alertname`` fires (labels) or not; ``notes``: exact annotations.

    ``alertname`` empty means every alert of the SLO (used with ``firing=False``); ``labels``
    narrows it and, when it fires, replaces the SLO alert labels expected.
    """

    at: int
    alertname: str
    firing: bool
    notes: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    tier: str = ""  # a burn-rate tier: two tiers may share one alert name (Sloth's)


@dataclass(frozen=True)
class RecordCheck:
    """At ``at`` minutes, ``record`` of the SLO is ``value`` (within ``tolerance``)."""

    at: int
    record: str
    value: float
    tolerance: float = 0.0


@dataclass
class Case:
    title: str
    segments: list[Segment]
    checks: list[Check] = field(default_factory=list)
    records: list[RecordCheck] = field(default_factory=list)
    inputs: list[dict[str, str]] = field(default_factory=list)  # besides the SLI's series
    never: list[tuple[int, str]] = field(default_factory=list)  # (minute, query): no result


def labels(slo: SLO, alertname: str, tier_name: str = "") -> dict[str, str]:
    """The labels the SLO's alert ``alertname`` (of tier ``tier_name``) fires with."""
    for tier in slo.tiers:
        if tier.name == tier_name or (not tier_name and tier.alertname == alertname):
            return alert_labels(slo, tier, tier.name, tier.severity)
    ticket = slo.tier(naming.TIER_TICKET)
    return alert_labels(slo, ticket, naming.TIER_TICKET, naming.SEVERITY_TICKET)


def _stable(value: float, render: str) -> bool:
    """True when a value's text does not change under float noise."""
    return all(f"{value * k:{render}}" == f"{value:{render}}" for k in (1 - 1e-9, 1 + 1e-9))


def coverage(slo: SLO, minutes: int) -> float:
    """``slo:period_coverage:ratio`` at ``minutes``, with records from minute 1 on: the head,
    and a tile at every multiple of the base window older than the head."""
    now = minutes * 60
    tiles = max(0, math.floor((now - slo.head_window) / slo.base_window))
    return min((slo.head_window + tiles * slo.base_window) / slo.period, 1.0)


def above(slo: SLO, threshold: float, share: float = 0.0, margin: float = 1.01) -> float:
    """An error ratio just above ``threshold`` whose derived annotation values print stably
    (``share``: the period coverage when the budget left is printed)."""
    errors = math.ceil(threshold * margin * EVENTS_PER_MINUTE)
    while True:
        ratio = min(errors / EVENTS_PER_MINUTE, 1.0)
        burn = ratio / slo.error_budget
        left = (1 - burn * share) * 100
        if ratio >= 1.0 or (_stable(burn, ".1f") and _stable(left, ".4g")):
            return ratio
        errors += 1


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60)


def steady_burn(slo: SLO) -> Case:
    """An error ratio above every window's threshold from the first minute: every tier fires.

    The deployment is minutes old, so the error budget of the whole period is barely touched
    and the budget-exhausted alert stays quiet however fast it burns.
    """
    factor = max(w.factor for t in slo.tiers for w in t.windows)
    fors = [_minutes(t.for_seconds) for t in slo.tiers] + [_minutes(notes.EXHAUSTED_FOR)]
    end = max(fors) + 6
    share = coverage(slo, end)
    ratio = above(slo, factor * slo.error_budget, share)
    burn = ratio / slo.error_budget
    case = Case(
        f"error ratio {ratio:g} from the start ({burn:g}x the budget): every tier fires",
        [Segment(end + 1, EVENTS_PER_MINUTE, ratio)],
    )
    left = 1 - burn * share
    for tier in slo.tiers:
        case.checks.append(
            Check(end, tier.alertname, True, notes.burn(slo, tier, burn, left), tier=tier.name)
        )
    case.checks.append(Check(end, naming.ALERT_SLO_BUDGET_EXHAUSTED, False))
    case.checks.append(Check(end, naming.ALERT_SLO_DATA_ABSENT, False))
    case.records.append(RecordCheck(end, records.PERIOD_COVERAGE, share))
    return case


def young_budget(slo: SLO) -> Case:
    """A deployment a few hours old spends a share of the period's budget in one burst: the
    budget left says so, and the budget is not exhausted (it was, counted over the short
    history alone)."""
    ticket = slo.tier(naming.TIER_TICKET)
    before, burst, after = 30, 5, 180
    history = before + burst + after
    share = coverage(slo, history)
    # Spent = errors so far / (budget x the period's events, the traffic so far scaled up).
    # A loose objective's budget is too large to spend 6 % of it in a few minutes of a young
    # deployment: then as much as half the burst allows.
    most = 0.5 * burst * share / (slo.error_budget * history)
    spent = min(0.06, float(f"{most:.2g}"))
    ratio = spent * slo.error_budget * history / (burst * share)
    case = Case(
        f"{burst}m burst at {ratio:.4g} in a deployment {history} minutes old: "
        f"{spent:.2%} of the period's budget spent, not exhausted",
        [
            Segment(before, EVENTS_PER_MINUTE, 0.0),
            Segment(burst, EVENTS_PER_MINUTE, ratio),
            Segment(after + 1, EVENTS_PER_MINUTE, 0.0),
        ],
    )
    if ticket is not None:
        case.checks.append(Check(history, naming.ALERT_SLO_BUDGET_EXHAUSTED, False))
    case.records.append(RecordCheck(history, records.ERROR_BUDGET_REMAINING, 1 - spent, spent / 10))
    return case


def steady_below(slo: SLO) -> Case:
    """An error ratio just below the lowest threshold, for hours: nothing fires."""
    factor = min(w.factor for t in slo.tiers for w in t.windows)
    # Below the budget itself too, so that the budget-exhausted alert stays quiet.
    limit = min(factor, 1.0) * slo.error_budget * 0.99
    ratio = math.floor(limit * EVENTS_PER_MINUTE) / EVENTS_PER_MINUTE
    end = max(_minutes(span) for span in slo.windows if span <= 6 * 3600) + 30
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
            Check(start + absent_for + 10, slo.tiers[0].alertname, False, tier=slo.tiers[0].name),
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
        [Check(end, page.alertname, False, tier=page.name)],
    )
    ticket = slo.tier(naming.TIER_TICKET)
    if ticket is not None:
        case.checks.append(Check(end, ticket.alertname, True, tier=ticket.name))
    return case


def _crossing(history: float, long: float, threshold: float, ratio: float) -> float:
    """Minutes of a steady ``ratio`` after ``history`` clean minutes until the error ratio over
    a ``long``-minute window reaches ``threshold``; a window longer than the data reads only
    the data, as Sloth's do."""
    partial = history * threshold / (ratio - threshold)
    if history + partial <= long:
        return partial
    return long * threshold / ratio


def detection(slo: SLO, tier: AlertTier, window: AlertWindow) -> Case:
    """A clean history, then a steady ratio above the window's threshold.

    The page tier gets a history as long as its longest window and a ratio just above the
    threshold: it fires once the long window has filled. The ticket tier (windows of days)
    gets a history as long as its longest short window and twice the threshold: the long
    window reads that history and crosses after as long again. Either way the tier must not
    fire at 85 % of the crossing time and must fire soon after it. ``step`` is the test's
    """
    threshold = window.factor * slo.error_budget
    long = _minutes(window.long)
    if tier.name == naming.TIER_PAGE:
        history = max(_minutes(w.long) for w in tier.windows)
        ratio = above(slo, threshold)
    else:
        history = max(_minutes(w.short) for w in tier.windows)
        ratio = above(slo, min(2 * threshold, (1 + threshold) / 2))
    crossing = _crossing(history, long, threshold, ratio)
    fire_by = history + math.ceil(crossing * 1.02) + _minutes(tier.for_seconds) + 2
    case = Case(
        f"{tier.name} window {window.long_name}/{window.short_name}: clean for "
        f"{format_duration(history * 60)}, then error ratio {ratio:g} "
        f"({ratio / threshold:.3g}x its threshold)",
        [
            Segment(history, EVENTS_PER_MINUTE, 0.0),
            Segment(fire_by - history + 1, EVENTS_PER_MINUTE, ratio),
        ],
    )
    early = history + math.floor(0.85 * crossing)
    if early > history and not _others_fire(slo, tier, window, ratio, early - history, early):
        case.checks.append(Check(early, tier.alertname, False, tier=tier.name))
    case.checks.append(Check(fire_by, tier.alertname, True, tier=tier.name))
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


def explained_labels(slo: SLO, tier: AlertTier, cause: str) -> dict[str, str]:
    """The labels ``AlertExplained`` fires with when ``cause`` explains ``tier``."""
    return {
        **records.labels(slo),
        naming.EXPLAINS_LABEL: tier.name,
        naming.CAUSE_LABEL: cause,
        naming.SEVERITY_LABEL: naming.SEVERITY_NONE,
        naming.TIER_LABEL: naming.TIER_INHIBITOR,
    }


def _outlives(slo: SLO, tier: AlertTier) -> str:
    """Query: an inhibitor of ``tier`` firing without the alert it explains (must be empty)."""
    identity = f"{naming.SERVICE_LABEL}, {naming.SLO_LABEL}"
    selector = records.selector(slo)[1:-1]
    return (
        f'ALERTS{{alertname="{naming.ALERT_EXPLAINED}",alertstate="firing",'
        f'{naming.EXPLAINS_LABEL}="{tier.name}",{selector}}}'
        f" unless on({identity}) "
        f'ALERTS{{alertname="{tier.alertname}",alertstate="firing",{selector}}}'
    )


def explained_by_page(slo: SLO, page: AlertTier, ticket: AlertTier) -> Case:
    """A fast burn for 20 minutes: the page explains the ticket while both fire; once the page
    has cleared the ticket goes on alone, unmuted, and the inhibitor never outlives it."""
    factor = max(w.factor for w in page.windows)
    ratio = above(slo, factor * slo.error_budget)
    burn, after = 20, 40
    labels = explained_labels(slo, ticket, naming.CAUSE_PAGE)
    case = Case(
        f"a 20m burst at {ratio:g}: the page explains the ticket while it fires, no longer",
        [Segment(burn, EVENTS_PER_MINUTE, ratio), Segment(after + 1, EVENTS_PER_MINUTE, 0.0)],
        [
            Check(burn, page.alertname, True, tier=page.name),
            Check(burn, ticket.alertname, True, tier=ticket.name),
            Check(burn, naming.ALERT_EXPLAINED, True, labels=labels),
            Check(burn + after, page.alertname, False, tier=page.name),
            Check(burn + after, ticket.alertname, True, tier=ticket.name),
            Check(burn + after, naming.ALERT_EXPLAINED, False, labels=labels),
        ],
    )
    case.never = [(m, _outlives(slo, ticket)) for m in range(burn, burn + after + 1, 2)]
    return case


def explained_by_dependency(slo: SLO, page: AlertTier, dependency: str) -> Case:
    """``dependency`` is down for 20 minutes while the SLO burns for 40: the outage explains
    the page while it is down and after, while the errors it caused keep the page firing;
    the inhibitor ends with the page, never after it."""
    factor = max(w.factor for w in page.windows)
    ratio = above(slo, factor * slo.error_budget)
    down, burn, after = 20, 40, 30
    labels = explained_labels(slo, page, naming.CAUSE_DEPENDENCY)
    alert = series.render(
        "ALERTS",
        {
            "alertname": naming.ALERT_DEPENDENCY_DOWN,
            "alertstate": "firing",
            naming.DEPENDENCY: dependency,
        },
    )
    case = Case(
        f"{dependency} down for {down}m while the SLO burns for {burn}m: the page is explained "
        "during the outage and its aftermath, and the inhibitor ends with the page",
        [Segment(burn, EVENTS_PER_MINUTE, ratio), Segment(after + 1, EVENTS_PER_MINUTE, 0.0)],
        [
            Check(10, naming.ALERT_EXPLAINED, True, labels=labels),
            Check(burn - 5, naming.ALERT_EXPLAINED, True, labels=labels),
            Check(burn + after, page.alertname, False, tier=page.name),
            Check(burn + after, naming.ALERT_EXPLAINED, False, labels=labels),
        ],
        inputs=[{"series": alert, "values": f"1x{down}"}],
    )
    case.never = [(m, _outlives(slo, page)) for m in range(burn, burn + after + 1, 2)]
    return case
