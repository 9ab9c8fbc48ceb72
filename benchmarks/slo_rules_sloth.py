"""The rule layout Sloth (v0.11, ``prometheus/v1`` events SLI) generates, for the same SLOs.

Per SLO, as Sloth writes it: seven ``slo:sli_error:ratio_rate<window>`` records, each reading
the raw series over its own window (5m, 30m, 1h, 2h, 6h, 1d, 3d); the period ratio as the mean
of the 5m ratios (``sum_over_time / count_over_time``); six metadata records plus
``sloth_slo_info``; one page and one ticket alert without ``for:``. Used only by the benchmark.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.model import SLO, number_text

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
ALERT = "SlothErrorBudgetBurn"


def _selector(slo: SLO, **extra: str) -> str:
    labels = {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name, **extra}
    return "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in labels.items()) + "}"


def _labels(slo: SLO, **extra: str) -> dict[str, str]:
    return {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name, **extra}


def sli_group(slo: SLO) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": f"({slo.sli.errors_query(window)})\n/\n({slo.sli.total_query(window)})\n",
            "labels": _labels(slo, sloth_window=window),
        }
        for window in WINDOWS
    ]
    sel = _selector(slo)
    period = slo.period_name
    rules.append(
        {
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": f"sum_over_time(slo:sli_error:ratio_rate5m{sel}[{period}])\n"
            f"/ ignoring (sloth_window)\n"
            f"count_over_time(slo:sli_error:ratio_rate5m{sel}[{period}])\n",
            "labels": _labels(slo, sloth_window=period),
        }
    )
    return {"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": rules}


def meta_group(slo: SLO) -> dict[str, Any]:
    sel, on = _selector(slo), "on(sloth_id, sloth_slo, sloth_service) group_left"
    objective = number_text(slo.objective_ratio)
    records = [
        ("slo:objective:ratio", f"vector({objective})"),
        ("slo:error_budget:ratio", f"vector(1-{objective})"),
        ("slo:time_period:days", f"vector({number_text(slo.period / 86400)})"),
        (
            "slo:current_burn_rate:ratio",
            f"slo:sli_error:ratio_rate5m{sel}\n/ {on}\nslo:error_budget:ratio{sel}\n",
        ),
        (
            "slo:period_burn_rate:ratio",
            f"slo:sli_error:ratio_rate{slo.period_name}{sel}\n/ {on}\n"
            f"slo:error_budget:ratio{sel}\n",
        ),
        ("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{sel}"),
    ]
    rules: list[dict[str, Any]] = [
        {"record": r, "expr": e, "labels": _labels(slo)} for r, e in records
    ]
    rules.append(
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": _labels(slo, sloth_mode="cli-gen-prom", sloth_objective=str(slo.objective)),
        }
    )
    return {"name": f"sloth-slo-meta-recordings-{slo.id}", "rules": rules}


def _pair(slo: SLO, short: str, long: str, factor: float) -> str:
    sel, threshold = _selector(slo), f"({number_text(factor)} * {number_text(slo.error_budget)})"
    return (
        f"(\n    max(slo:sli_error:ratio_rate{short}{sel} > {threshold}) without (sloth_window)\n"
        f"    and\n"
        f"    max(slo:sli_error:ratio_rate{long}{sel} > {threshold}) without (sloth_window)\n)"
    )


def alert_group(slo: SLO) -> dict[str, Any]:
    rules = []
    for tier in slo.tiers:
        pairs = [_pair(slo, w.short_name, w.long_name, w.factor) for w in tier.windows]
        rules.append(
            {
                "alert": ALERT,
                "expr": "\nor\n".join(pairs) + "\n",
                "labels": {"sloth_severity": tier.name},
                "annotations": {"summary": f"{slo.id} error budget burn ({tier.name})"},
            }
        )
    return {"name": f"sloth-slo-alerts-{slo.id}", "rules": rules}


def groups(slo: SLO) -> list[dict[str, Any]]:
    """Sloth's three rule groups for ``slo``."""
    return [sli_group(slo), meta_group(slo), alert_group(slo)]
