"""The recording rules every SLO gets: their names and ready-made queries, in one place.

Every record is labelled ``obsstack_service`` and ``obsstack_slo`` (plus the SLO's own
``labels``), so ``NAME{obsstack_service="api",obsstack_slo="availability"}`` selects the SLO's
series: one, or one per group of a grouped SLI (``sum by (route) (...)``).

==============================================  ==============================================
``slo:events_per_second:<base>``, ``<head>``    all events per second over the base window
                                                (5m) and the head window (30m), from the raw
                                                series
``slo:errors_per_second:<base>``, ``<head>``    error events per second, the same way
``slo:error_ratio:<window>``                    errors / events over each window of the
                                                SLO's window table, traffic-weighted, 0 (never
                                                NaN) without traffic
``slo:error_ratio:period``                      the same over the SLO period, so far
``slo:events:<base>``, ``slo:errors:<base>``    events counted in the base window, recorded
                                                once per base window (group ``...-period``):
                                                the tiles the period sums
``slo:period_coverage:ratio``                   share of the period the records cover (a
                                                deployment 3 hours old: 3h / 30d)
``slo:burn_rate:period``                        period error ratio / error budget
``slo:error_budget_remaining:period``           1 - the share of the period's budget spent:
                                                1 untouched, 0 spent, < 0 overspent
``slo:objective:ratio``                         the objective, e.g. 0.999
``slo:error_budget:ratio``                      1 - objective, e.g. 0.001
==============================================  ==============================================

``<window>`` is any of ``SLO.window_names``. Burn rate over a window is
:func:`burn_rate_query`. The functions below take an :class:`obsstack.alerts.model.SLO`.
"""

from __future__ import annotations

import json

from obsstack.alerts.model import SLO, number_text
from obsstack.core import naming

PREFIX = naming.SLO_RULE_PREFIX
ERROR_RATIO_PERIOD = f"{PREFIX}error_ratio:period"
PERIOD_COVERAGE = f"{PREFIX}period_coverage:ratio"
BURN_RATE_PERIOD = f"{PREFIX}burn_rate:period"
ERROR_BUDGET_REMAINING = f"{PREFIX}error_budget_remaining:period"
OBJECTIVE = f"{PREFIX}objective:ratio"
ERROR_BUDGET = f"{PREFIX}error_budget:ratio"


def events_per_second(slo: SLO, window: str = "") -> str:
    """Name of the record of all events per second over ``window`` (default: the base window)."""
    return f"{PREFIX}events_per_second:{window or slo.base_window_name}"


def errors_per_second(slo: SLO, window: str = "") -> str:
    """Name of the record of error events per second over ``window`` (default: the base)."""
    return f"{PREFIX}errors_per_second:{window or slo.base_window_name}"


def events_in(slo: SLO) -> str:
    """Name of the record of all events counted in the base window (a period tile)."""
    return f"{PREFIX}events:{slo.base_window_name}"


def errors_in(slo: SLO) -> str:
    """Name of the record of error events counted in the base window (a period tile)."""
    return f"{PREFIX}errors:{slo.base_window_name}"


def sampled_error_ratio(slo: SLO) -> str:
    """Name of the base window's error ratio, recorded once per base window (``ratio`` SLIs)."""
    return f"{PREFIX}error_ratio_sampled:{slo.base_window_name}"


def error_ratio(window: str) -> str:
    """Name of the error-ratio record over ``window`` (``5m``, ``1h``, ... or ``period``)."""
    return f"{PREFIX}error_ratio:{window}"


def labels(slo: SLO) -> dict[str, str]:
    """The labels every record and alert of ``slo`` carries (identity first, then its own)."""
    return {**slo.labels, naming.SERVICE_LABEL: slo.service, naming.SLO_LABEL: slo.name}


def selector(slo: SLO) -> str:
    """``{obsstack_service="api",obsstack_slo="availability"}``: the matchers of ``slo``."""
    return (
        f"{{{naming.SERVICE_LABEL}={json.dumps(slo.service)},"
        f"{naming.SLO_LABEL}={json.dumps(slo.name)}}}"
    )


def query(record: str, slo: SLO) -> str:
    """``record`` restricted to ``slo``: ``slo:error_ratio:1h{obsstack_service="api",...}``."""
    return record + selector(slo)


def burn_rate_query(slo: SLO, window: str) -> str:
    """Burn rate of ``slo`` over ``window`` (one of its window names or ``period``)."""
    return f"{query(error_ratio(window), slo)} / {number_text(slo.error_budget)}"


def all_records(slo: SLO) -> list[str]:
    """Every record name ``slo`` gets, in the order the rule group evaluates them."""
    raw = [] if slo.sli.kind == "ratio" else [slo.base_window_name, slo.head_window_name]
    tiles = [sampled_error_ratio(slo)] if not raw else [events_in(slo), errors_in(slo)]
    return [
        *(events_per_second(slo, w) for w in dict.fromkeys(raw)),
        *(errors_per_second(slo, w) for w in dict.fromkeys(raw)),
        *(error_ratio(w) for w in slo.window_names),
        ERROR_RATIO_PERIOD,
        PERIOD_COVERAGE,
        OBJECTIVE,
        ERROR_BUDGET,
        BURN_RATE_PERIOD,
        ERROR_BUDGET_REMAINING,
        *tiles,
    ]
