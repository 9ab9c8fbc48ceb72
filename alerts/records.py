"""The recording rules every SLO gets: their names and ready-made queries, in one place.

Every record is one series per SLO, labelled ``service`` and ``slo`` (plus the SLO's own
``labels``), so ``NAME{service="api",slo="availability"}`` selects exactly one series:

==============================================  ==============================================
``slo:events_per_second:<base>``                all events per second over the base window
``slo:errors_per_second:<base>``                error events per second over the base window
``slo:error_ratio:<window>``                    errors / events over each alert window,
                                                traffic-weighted, 0 (never NaN) without traffic
``slo:error_ratio:period``                      the same over the whole SLO period
``slo:burn_rate:period``                        period error ratio / error budget
``slo:error_budget_remaining:period``           1 - burn rate: 1 untouched, 0 spent, < 0 overspent
``slo:objective:ratio``                         the objective, e.g. 0.999
``slo:error_budget:ratio``                      1 - objective, e.g. 0.001
==============================================  ==============================================

``<base>`` is the SLO's shortest alert window (``5m`` with the shipped window table) and
``<window>`` any of ``SLO.window_names``. Burn rate over a window is
:func:`burn_rate_query`. The functions below take an :class:`alerts.model.SLO`.
"""

from __future__ import annotations

import json

from alerts.model import SLO
from exporters import naming

PREFIX = naming.SLO_RULE_PREFIX
ERROR_RATIO_PERIOD = f"{PREFIX}error_ratio:period"
BURN_RATE_PERIOD = f"{PREFIX}burn_rate:period"
ERROR_BUDGET_REMAINING = f"{PREFIX}error_budget_remaining:period"
OBJECTIVE = f"{PREFIX}objective:ratio"
ERROR_BUDGET = f"{PREFIX}error_budget:ratio"


def events_per_second(slo: SLO) -> str:
    """Name of the record of all events per second over the SLO's base window."""
    return f"{PREFIX}events_per_second:{slo.base_window_name}"


def errors_per_second(slo: SLO) -> str:
    """Name of the record of error events per second over the SLO's base window."""
    return f"{PREFIX}errors_per_second:{slo.base_window_name}"


def error_ratio(window: str) -> str:
    """Name of the error-ratio record over ``window`` (``5m``, ``1h``, ... or ``period``)."""
    return f"{PREFIX}error_ratio:{window}"


def labels(slo: SLO) -> dict[str, str]:
    """The labels every record and alert of ``slo`` carries (identity first, then its own)."""
    return {**slo.labels, naming.SERVICE_LABEL: slo.service, naming.SLO_LABEL: slo.name}


def selector(slo: SLO) -> str:
    """``{service="api",slo="availability"}``: the matchers that pick ``slo``'s series."""
    return (
        f"{{{naming.SERVICE_LABEL}={json.dumps(slo.service)},"
        f"{naming.SLO_LABEL}={json.dumps(slo.name)}}}"
    )


def query(record: str, slo: SLO) -> str:
    """``record`` restricted to ``slo``: ``slo:error_ratio:1h{service="api",slo="latency"}``."""
    return record + selector(slo)


def burn_rate_query(slo: SLO, window: str) -> str:
    """Burn rate of ``slo`` over ``window`` (one of its window names or ``period``)."""
    return f"{query(error_ratio(window), slo)} / {query(ERROR_BUDGET, slo)}"


def all_records(slo: SLO) -> list[str]:
    """Every record name ``slo`` gets, in the order the rule group evaluates them."""
    return [
        events_per_second(slo),
        errors_per_second(slo),
        *(error_ratio(w) for w in slo.window_names),
        ERROR_RATIO_PERIOD,
        OBJECTIVE,
        ERROR_BUDGET,
        BURN_RATE_PERIOD,
        ERROR_BUDGET_REMAINING,
    ]
