"""The four SLI kinds, turned into PromQL templates of error events and all events per second.

The obsstack kinds aggregate to a single label-less series, which the recording rules label
with the SLO's identity. Expressions taken from Sloth and OpenSLO specs are kept as written:
a grouped SLI (``sum by (route) (...)``) records, and alerts, one series per group, as Sloth
does. ``{{.window}}`` stands for the range (the rules use the SLO's base and head windows,
``5m`` and ``30m`` with the shipped window table, and every window for ``ratio``).

- ``availability``: two counter selectors, errors and total (or expressions, for Sloth input).
- ``latency``: a histogram and a threshold; errors are requests above the threshold,
  ``_count`` minus the ``_bucket`` whose ``le`` is the threshold, matched however it is spelled.
- ``uptime``: a 0/1 gauge such as ``dependency_up``; every target-second is an event, an error
  when the gauge is 0 (Pyrra's ``bool_gauge``).
- ``ratio``: a raw error-ratio expression (Sloth's ``raw``); without event counts nothing can
  be summed, so every alert window evaluates the expression over its own range, as Sloth does.
"""

from __future__ import annotations

import re

from obsstack.alerts import promql
from obsstack.alerts.model import SLI, WINDOW_PLACEHOLDER

W = WINDOW_PLACEHOLDER


def _check_template(template: str) -> None:
    promql.check(template.replace(W, "5m"))


def availability(errors: str, total: str) -> SLI:
    """Counters of failed and of all events, e.g. ``..._count{code=~"5.."}`` and ``..._count``."""
    promql.selector(errors)
    promql.selector(total)
    return SLI(
        "availability",
        errors=f"sum(rate({errors}[{W}]))",
        total=f"sum(rate({total}[{W}]))",
        selectors=(errors, total),
        inputs=(("errors", errors), ("total", total)),
    )


def availability_expressions(errors: str, total: str) -> SLI:
    """Error and total events per second as expressions over ``{{.window}}`` (Sloth ``events``).

    Kept as written, so a grouped SLI keeps its groups; both must give the same label sets.
    """
    _check_template(errors)
    _check_template(total)
    errors, total = errors.strip(), total.strip()
    return SLI(
        "availability",
        errors=errors,
        total=total,
        selectors=tuple(promql.selectors_in(f"({errors}) + ({total})".replace(W, "5m"))),
        inputs=_rate_inputs(errors, total),
        grouping=_grouping(total),
    )


def _grouping(template: str) -> tuple[str, ...]:
    """The ``by`` labels of a template; none when it aggregates everything or cannot be told."""
    return promql.output_labels(template.replace(W, "5m")) or ()


_SUM_OF_RATE = re.compile(r"^sum\s*\(\s*rate\s*\((?P<selector>.+)\[\{\{\.window\}\}\]\s*\)\s*\)$")


def _rate_inputs(errors: str, total: str) -> tuple[tuple[str, str], ...]:
    """Inputs of ``sum(rate(SELECTOR[{{.window}}]))`` expressions; empty for anything else."""
    found = []
    for role, query in (("errors", errors), ("total", total)):
        match = _SUM_OF_RATE.match(query.strip())
        if match is None:
            return ()
        try:
            promql.selector(match["selector"])
        except ValueError:
            return ()
        found.append((role, match["selector"].strip()))
    return tuple(found)


def good_and_total(good: str, total: str) -> SLI:
    """Counters of good and of all events (OpenSLO ``good`` + ``total``); errors = total - good."""
    promql.selector(good)
    promql.selector(total)
    total_rate = f"sum(rate({total}[{W}]))"
    return SLI(
        "availability",
        errors=f"{total_rate} - sum(rate({good}[{W}]))",
        total=total_rate,
        selectors=(good, total),
        inputs=(("good", good), ("total", total)),
    )


def latency(histogram: str, threshold: float) -> SLI:
    """Share of events slower than ``threshold`` seconds, from a classic histogram.

    ``histogram`` is a selector on the histogram's base name (no ``_bucket``), for example
    ``http_server_request_duration_seconds{job="saas-api"}``.
    """
    parsed = promql.selector(histogram)
    for suffix in ("_bucket", "_count", "_sum"):
        if parsed.name.endswith(suffix):
            raise ValueError(
                f"name the histogram without {suffix}: {parsed.name.removesuffix(suffix)}"
            )
    if "le" in parsed.label_names():
        raise ValueError("do not match le: the threshold picks the bucket")
    bucket = parsed.render("_bucket", (("le", "=~", promql.le_regex(threshold)),))
    count = parsed.render("_count")
    total = f"sum(rate({count}[{W}]))"
    return SLI(
        "latency",
        errors=f"{total} - sum(rate({bucket}[{W}]))",
        total=total,
        selectors=(bucket, count),
        threshold=threshold,
        inputs=(("histogram", histogram),),
    )


def uptime(gauge: str) -> SLI:
    """Share of time a 0/1 gauge (``dependency_up{dependency="postgres"}``) was 0."""
    promql.selector(gauge)
    return SLI(
        "uptime",
        errors=f"sum(1 - avg_over_time({gauge}[{W}]))",
        total=f"count(avg_over_time({gauge}[{W}]))",
        selectors=(gauge,),
        inputs=(("gauge", gauge),),
    )


def ratio(error_ratio: str) -> SLI:
    """A raw error ratio between 0 and 1, e.g. Sloth's ``raw.error_ratio_query``."""
    _check_template(error_ratio)
    error_ratio = error_ratio.strip()
    return SLI(
        "ratio",
        errors=error_ratio,
        total="",
        selectors=tuple(promql.selectors_in(error_ratio.replace(W, "5m"))),
        grouping=_grouping(error_ratio),
    )
