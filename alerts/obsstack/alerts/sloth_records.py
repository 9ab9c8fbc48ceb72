"""Sloth's record names beside obsstack's (``sloth_records: true``), for Sloth's dashboards.

A team that switches from Sloth keeps its Grafana dashboards: every SLO also records, under
Sloth's names and ``sloth_*`` labels, the values obsstack computes (traffic-weighted windows,
the period budget with short history taken into account):

==========================================  ===================================================
``slo:sli_error:ratio_rate<window>``        ``slo:error_ratio:<window>`` (and the period, as
                                            ``ratio_rate30d``), with ``sloth_window``
``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``  constants
``slo:current_burn_rate:ratio``             the base window's error ratio / error budget
``slo:period_burn_rate:ratio``              ``slo:burn_rate:period``
``slo:period_error_budget_remaining:ratio`` ``slo:error_budget_remaining:period``
``sloth_slo_info``                          1, with ``sloth_objective``, ``sloth_spec`` ...
==========================================  ===================================================

The copies drop obsstack's own labels, so obsstack's queries never see them twice.
"""

from __future__ import annotations

from typing import Any

from obsstack.alerts import records
from obsstack.alerts.model import SLO, number_text
from obsstack.core import naming

OWN_LABELS = f"{naming.SERVICE_LABEL}, {naming.SLO_LABEL}"


def sloth_labels(slo: SLO) -> dict[str, str]:
    """Sloth's identity labels for ``slo`` (and the SLO's own labels)."""
    return {**slo.labels, "sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def _copy(record: str, source: str, slo: SLO, **extra: str) -> dict[str, Any]:
    labels = {**sloth_labels(slo), **extra}
    return {
        "record": record,
        "expr": f"sum without ({OWN_LABELS}) ({records.query(source, slo)})",
        "labels": dict(sorted(labels.items())),
    }


def _constant(record: str, value: str, slo: SLO, **extra: str) -> dict[str, Any]:
    labels = {**sloth_labels(slo), **extra}
    return {"record": record, "expr": f"vector({value})", "labels": dict(sorted(labels.items()))}


def rules(slo: SLO) -> list[dict[str, Any]]:
    """Sloth's SLI and metadata records for ``slo``, read from obsstack's of the same group."""
    out = [
        _copy(f"slo:sli_error:ratio_rate{w}", records.error_ratio(w), slo, sloth_window=w)
        for w in slo.window_names
    ]
    out.append(
        _copy(
            f"slo:sli_error:ratio_rate{slo.period_name}",
            records.ERROR_RATIO_PERIOD,
            slo,
            sloth_window=slo.period_name,
        )
    )
    budget = number_text(slo.error_budget)
    base = f"slo:sli_error:ratio_rate{slo.base_window_name}"
    selector = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(sloth_labels(slo).items())) + "}"
    out += [
        _constant("slo:objective:ratio", number_text(slo.objective_ratio), slo),
        _constant("slo:error_budget:ratio", budget, slo),
        _constant("slo:time_period:days", number_text(slo.period / 86400), slo),
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"sum without (sloth_window) ({base}{selector}) / {budget}",
            "labels": dict(sorted(sloth_labels(slo).items())),
        },
        _copy("slo:period_burn_rate:ratio", records.BURN_RATE_PERIOD, slo),
        _copy("slo:period_error_budget_remaining:ratio", records.ERROR_BUDGET_REMAINING, slo),
        _constant(
            "sloth_slo_info",
            "1",
            slo,
            sloth_mode="cli-gen-prom",
            sloth_objective=number_text(slo.objective),
            sloth_spec="prometheus/v1",
            sloth_version="obsstack",
        ),
    ]
    return out
