"""The rules Sloth (v0.16, ``prometheus/v1``, default plugins) generates, for the same SLOs.

An oracle for obsstack's own rules: the timing and cost comparisons load these beside
``obsstack.alerts.rules`` in the same promtool run or Prometheus. Per SLO, as Sloth writes it (its
``examples/_gen/*.yml``): one ``slo:sli_error:ratio_rate<window>`` record per alert window,
each reading the raw series over its own window (5m ... 3d); the period ratio as the mean of
the 5m ratios (``sum_over_time / ignoring (sloth_window) count_over_time``); the metadata
records and ``sloth_slo_info``; a page and a ticket alert without ``for:``, each
``max(short > factor * budget) without (sloth_window) and max(long > ...) ...``. Numbers are
printed the way Go prints them (``0.9990000000000001``), so the thresholds are Sloth's own.
"""

from __future__ import annotations

from typing import Any

from obsstack.alerts.model import SLO

ALERT = "SlothErrorBudgetBurn"


def _go(value: float) -> str:
    """A float64 the way Go's strconv 'g' shortest formatting prints it."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _ids(slo: SLO) -> dict[str, str]:
    return {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def _filter(slo: SLO) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(_ids(slo).items())) + "}"


def _labels(slo: SLO, **extra: str) -> dict[str, str]:
    return dict(sorted({**slo.labels, **_ids(slo), **extra}.items()))


def _objective(slo: SLO) -> float:
    return slo.objective / 100


def _budget(slo: SLO) -> float:
    return (100 - slo.objective) / 100


def _windows(slo: SLO) -> list[str]:
    return list(slo.window_names)


def _sli(slo: SLO, window: str) -> str:
    if slo.sli.kind == "ratio":
        return f"({slo.sli.errors_query(window)})"
    return f"({slo.sli.errors_query(window)})\n/\n({slo.sli.total_query(window)})\n"


def sli_group(slo: SLO) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": _sli(slo, window),
            "labels": _labels(slo, sloth_window=window),
        }
        for window in _windows(slo)
    ]
    period, base = slo.period_name, _windows(slo)[0]
    rules.append(
        {
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": f"sum_over_time(slo:sli_error:ratio_rate{base}{_filter(slo)}[{period}])\n"
            f"/ ignoring (sloth_window)\n"
            f"count_over_time(slo:sli_error:ratio_rate{base}{_filter(slo)}[{period}])\n",
            "labels": _labels(slo, sloth_window=period),
        }
    )
    return {"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": rules}


def meta_group(slo: SLO) -> dict[str, Any]:
    sel, on = _filter(slo), "on(sloth_id, sloth_slo, sloth_service) group_left"
    objective = _go(_objective(slo))
    base = _windows(slo)[0]
    records = [
        ("slo:objective:ratio", f"vector({objective})"),
        ("slo:error_budget:ratio", f"vector(1-{objective})"),
        ("slo:time_period:days", f"vector({_go(slo.period / 86400)})"),
        (
            "slo:current_burn_rate:ratio",
            f"slo:sli_error:ratio_rate{base}{sel}\n/ {on}\nslo:error_budget:ratio{sel}\n",
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
    info = {"sloth_mode": "cli-gen-prom", "sloth_objective": _go(slo.objective)}
    rules.append({"record": "sloth_slo_info", "expr": "vector(1)", "labels": _labels(slo, **info)})
    return {"name": f"sloth-slo-meta-recordings-{slo.id}", "rules": rules}


def _pair(slo: SLO, short: str, long: str, factor: float) -> str:
    sel, threshold = _filter(slo), f"({_go(factor)} * {_go(_budget(slo))})"
    return (
        f"(\n    max(slo:sli_error:ratio_rate{short}{sel} > {threshold}) without (sloth_window)\n"
        f"    and\n"
        f"    max(slo:sli_error:ratio_rate{long}{sel} > {threshold}) without (sloth_window)\n)"
    )


def alert_group(slo: SLO) -> dict[str, Any]:
    rules = []
    for tier in slo.tiers:
        pairs = [_pair(slo, w.short_name, w.long_name, w.factor) for w in tier.windows]
        labels = {**tier.labels, "sloth_severity": tier.name}
        rules.append(
            {
                "alert": tier.alert_name or ALERT,
                "expr": "\nor\n".join(pairs) + "\n",
                "labels": dict(sorted(labels.items())),
                "annotations": {
                    "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget "
                    "burn rate is over expected.",
                    "title": f"({tier.name}) {{{{$labels.sloth_service}}}} "
                    "{{$labels.sloth_slo}} SLO error budget burn rate is too fast.",
                    **tier.annotations,
                },
            }
        )
    return {"name": f"sloth-slo-alerts-{slo.id}", "rules": rules}


def groups(slo: SLO) -> list[dict[str, Any]]:
    """Sloth's three rule groups for ``slo``."""
    return [sli_group(slo), meta_group(slo), alert_group(slo)]
