"""Alert annotations: a static ``summary``, a templated ``description``, runbook and dashboard.

Each builder takes optional concrete values: without them it returns the Prometheus templates
the rules carry; with them, the text Prometheus renders from those templates, which the
generated promtool tests expect. One function makes both, so they cannot drift apart.
"""

from __future__ import annotations

from obsstack.alerts import records
from obsstack.alerts.model import SLO, AlertTier, number_text
from obsstack.alerts.windows import describe
from obsstack.core import naming
from obsstack.core.spec import format_duration

EXHAUSTED_FOR = 900.0  # a budget hovering around 0 should not flap


def _title(slo: SLO) -> str:
    return f"{slo.service}/{slo.name}"


def _finish(
    slo: SLO, alertname: str, notes: dict[str, str], *extra: dict[str, str]
) -> dict[str, str]:
    result = {
        **notes,
        "runbook_url": slo.runbook_for(alertname),
        "dashboard_url": slo.dashboard_url,
    }
    for more in (slo.annotations, *extra):
        result.update(more)
    return result


def burn_rate_text(value: float | None) -> str:
    """``$value`` (a burn rate) as the description shows it: one decimal."""
    return '{{ $value | printf "%.1f" }}' if value is None else f"{value:.1f}"


def percentage_text(value: float) -> str:
    """What Prometheus's ``humanizePercentage`` prints for ``value``."""
    return f"{value * 100:.4g}%"


def budget_left_text(slo: SLO, value: float | None) -> str:
    """Error budget left, read at alert time with a query template."""
    if value is not None:
        return percentage_text(value)
    query = records.query(records.ERROR_BUDGET_REMAINING, slo)
    return (
        f"{{{{ with query `{query}` }}}}{{{{ . | first | value | humanizePercentage }}}}"
        "{{ else }}unknown{{ end }}"
    )


def burn(
    slo: SLO, tier: AlertTier, burn_rate: float | None = None, budget_left: float | None = None
) -> dict[str, str]:
    """Annotations of the page or ticket burn-rate alert."""
    speed = "fast" if tier.name == naming.TIER_PAGE else "steadily"
    what = slo.description or f"the {_title(slo)} SLI"
    description = (
        f"{what}: errors are using the error budget {burn_rate_text(burn_rate)}x as fast as "
        f"the {number_text(slo.objective)}% objective over {slo.period_name} allows "
        f"(this alert fires above {describe(tier)}). "
        f"Error budget left: {budget_left_text(slo, budget_left)}."
    )
    notes = {
        "summary": f"The {_title(slo)} SLO is burning its error budget {speed}",
        "description": description,
    }
    return _finish(slo, tier.default_alertname, notes, dict(tier.annotations))


def _tier_extras(tier: AlertTier | None) -> dict[str, str]:
    """A tier's own annotations for the other alerts of the tier: all but the summary and the
    description, which say what each alert is about."""
    if tier is None:
        return {}
    return {k: v for k, v in tier.annotations.items() if k not in ("summary", "description")}


def exhausted(
    slo: SLO, budget_left: float | None = None, tier: AlertTier | None = None
) -> dict[str, str]:
    """Annotations of the error-budget-exhausted alert (``$value`` is the budget left)."""
    left = (
        "{{ $value | humanizePercentage }}" if budget_left is None else percentage_text(budget_left)
    )
    notes = {
        "summary": f"The {_title(slo)} SLO has spent its error budget",
        "description": (
            f"The errors counted so far have spent the whole error budget of the "
            f"{number_text(slo.objective)}% objective over {slo.period_name} (the period's "
            f"traffic taken from the traffic so far): {left} of the error budget is left. Put "
            "reliability work ahead of risky changes until it recovers."
        ),
    }
    return _finish(slo, naming.ALERT_SLO_BUDGET_EXHAUSTED, notes, _tier_extras(tier))


def absent(slo: SLO, tier: AlertTier | None = None) -> dict[str, str]:
    """Annotations of the data-absent alert (no values: nothing to template)."""
    inputs = ", ".join(f"`{s}`" for s in slo.sli.selectors) or "its query"
    notes = {
        "summary": f"The {_title(slo)} SLO has no data",
        "description": (
            f"No events recorded for the {_title(slo)} SLI for "
            f"{format_duration(slo.absent_for)}, so its burn-rate alerts cannot fire. "
            f"It reads {inputs}: check the scrape target, the metric names and, for "
            "latency, that the threshold is a bucket bound."
        ),
    }
    return _finish(slo, naming.ALERT_SLO_DATA_ABSENT, notes, _tier_extras(tier))


def explained(
    slo: SLO, tier: AlertTier, cause: str, dependencies: tuple[str, ...]
) -> dict[str, str]:
    """Annotations of the ``AlertExplained`` inhibitor of ``tier`` (it never notifies)."""
    if cause == naming.CAUSE_PAGE:
        why = "the page of the same SLO fires and tells the story"
    else:
        why = (
            f"a dependency it needs ({', '.join(sorted(dependencies))}) is down, or was down "
            "recently enough that the errors it caused are still in the alert's windows"
        )
    notes = {
        "summary": f"The {tier.name} of the {_title(slo)} SLO is held back: {why}",
        "description": (
            f"Alertmanager mutes the {tier.alertname} alert of {_title(slo)} while this fires: "
            f"{why}. It stops as soon as the {tier.name} condition itself clears, so the "
            "explained alert's resolve always gets through."
        ),
    }
    return _finish(slo, naming.ALERT_EXPLAINED, notes)
