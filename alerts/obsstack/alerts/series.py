"""Synthetic input series for an SLO's promtool tests, built from its own selectors.

:func:`for_slo` returns a :class:`Synthesis` that turns a traffic profile (segments of
minutes, events per minute and error ratio) into promtool ``input_series``: label sets that
the SLI's selectors match (good events kept apart from error events), and values written in
promtool's expanding notation. SLIs given as arbitrary PromQL (``ratio``, Sloth expressions
with several selectors) cannot be synthesised: :func:`for_slo` returns None for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from re import _parser as sre  # type: ignore[attr-defined]
from typing import Any

from obsstack.alerts import promql
from obsstack.alerts.model import SLO
from obsstack.alerts.promql import Selector

COMMON_VALUES = ("200", "500", "GET", "x", "obsstack-test", "/")


@dataclass(frozen=True)
class Segment:
    """``minutes`` of traffic at ``per_minute`` events, ``error_ratio`` of them errors.

    ``per_minute`` None is a scrape gap: no samples at all.
    """

    minutes: int
    per_minute: float | None
    error_ratio: float = 0.0


def _example(pattern: str) -> str | None:
    """A short string the regex matches fully, or None for constructs it does not cover."""
    try:
        parsed = sre.parse(pattern)
    except re.error:
        return None
    out = _emit(list(parsed))
    return out if out is not None and re.fullmatch(pattern, out) else None


def _emit(items: list[tuple[Any, Any]]) -> str | None:
    out = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "ANY":
            out.append("0")
        elif name == "IN":
            first = arg[0]
            kind = str(first[0])
            if kind == "LITERAL":
                out.append(chr(first[1]))
            elif kind == "RANGE":
                out.append(chr(first[1][0]))
            else:
                return None
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, _high, sub = arg
            part = _emit(list(sub))
            if part is None:
                return None
            out.append(part * low)
        elif name == "SUBPATTERN":
            part = _emit(list(arg[-1]))
            if part is None:
                return None
            out.append(part)
        elif name == "BRANCH":
            part = _emit(list(arg[1][0]))
            if part is None:
                return None
            out.append(part)
        else:
            return None
    return "".join(out)


def _satisfies(value: str, op: str, wanted: str) -> bool:
    if op == "=":
        return value == wanted
    if op == "!=":
        return value != wanted
    matched = re.fullmatch(wanted, value) is not None
    return matched if op == "=~" else not matched


_NEGATION = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}


def labels_for(
    matchers: Sequence[tuple[str, str, str]],
) -> dict[str, str] | None:
    """Label values satisfying every matcher (an empty value means the label is left out)."""
    result: dict[str, str] = {}
    for label in dict.fromkeys(m[0] for m in matchers):
        rules = [(op, value) for name, op, value in matchers if name == label]
        candidates = [v for op, v in rules if op == "="]
        candidates += [e for op, v in rules if op == "=~" and (e := _example(v)) is not None]
        candidates += ["", *COMMON_VALUES]
        chosen = next((c for c in candidates if all(_satisfies(c, *r) for r in rules)), None)
        if chosen is None:
            return None
        if chosen:
            result[label] = chosen
    return result


def matches(selector: Selector, name: str, labels: dict[str, str]) -> bool:
    return selector.name == name and all(
        _satisfies(labels.get(label, ""), op, value) for label, op, value in selector.matchers
    )


def apart(want: Selector, avoid: Selector) -> dict[str, str] | None:
    """Labels ``want`` matches and ``avoid`` does not (``avoid`` may be another metric)."""
    if want.name != avoid.name:
        return labels_for(want.matchers)
    for label, op, value in avoid.matchers:
        found = labels_for((*want.matchers, (label, _NEGATION[op], value)))
        if found is not None and not matches(avoid, want.name, found):
            return found
    return None


def render(name: str, labels: dict[str, str]) -> str:
    inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def counter_values(segments: Sequence[Segment], share: Sequence[float]) -> str:
    """A counter that grows by ``per_minute x share[i]`` each minute of segment i."""
    parts, total, started = [], 0.0, False
    for segment, fraction in zip(segments, share, strict=True):
        if segment.per_minute is None:
            parts.append(f"_x{segment.minutes}")
            continue
        step = segment.per_minute * fraction
        count = segment.minutes
        if not started:  # the first sample, at time 0
            parts.append(f"0+{number(step)}x{count - 1}")
            total, started = step * (count - 1), True
            continue
        first = total + step
        parts.append(f"{number(first)}+{number(step)}x{count - 1}")
        total = first + step * (count - 1)
    return " ".join(parts)


def gauge_values(segments: Sequence[Segment]) -> str:
    """A 0..1 gauge at ``1 - error_ratio`` during each segment."""
    parts = []
    for segment in segments:
        if segment.per_minute is None:
            parts.append(f"_x{segment.minutes}")
        else:
            parts.append(f"{number(1 - segment.error_ratio)}x{segment.minutes - 1}")
    return " ".join(parts)


@dataclass(frozen=True)
class Synthesis:
    """How to write input series for one SLO: one (series, role) per input."""

    kind: str
    good: str  # series of good events (or the gauge, or the histogram's threshold bucket)
    bad: str  # series of error events ("" when the total series is separate)
    total: str  # series of all events when separate from good + bad ("" otherwise)
    extra_totals: tuple[str, ...] = ()  # histogram: the +Inf bucket and _count

    def input_series(self, segments: Sequence[Segment]) -> list[dict[str, str]]:
        if self.kind == "uptime":
            return [{"series": self.good, "values": gauge_values(segments)}]
        out = []
        if self.good:
            good = [1 - s.error_ratio for s in segments]
            out.append({"series": self.good, "values": counter_values(segments, good)})
        if self.bad:
            bad = [s.error_ratio for s in segments]
            out.append({"series": self.bad, "values": counter_values(segments, bad)})
        for series in (self.total, *self.extra_totals):
            if series:
                everything = [1.0] * len(segments)
                out.append({"series": series, "values": counter_values(segments, everything)})
        return out


def for_slo(slo: SLO) -> Synthesis | None:
    """Input series for ``slo``'s SLI, or None when its PromQL cannot be reverse-engineered."""
    sli = slo.sli
    roles = dict(sli.inputs)
    try:
        if sli.kind == "uptime":
            gauge = promql.selector(roles["gauge"])
            labels = labels_for(gauge.matchers)
            return (
                None if labels is None else Synthesis("uptime", render(gauge.name, labels), "", "")
            )
        if sli.kind == "latency":
            return _latency(promql.selector(roles["histogram"]), sli.threshold or 0.0)
        if "errors" in roles:
            return _split(promql.selector(roles["errors"]), promql.selector(roles["total"]), True)
        if "good" in roles:
            return _split(promql.selector(roles["good"]), promql.selector(roles["total"]), False)
    except (KeyError, ValueError):
        return None
    return None


def _latency(histogram: Selector, threshold: float) -> Synthesis | None:
    labels = labels_for(histogram.matchers)
    if labels is None:
        return None
    bound = number(threshold)
    return Synthesis(
        "latency",
        good=render(f"{histogram.name}_bucket", {**labels, "le": bound}),
        bad="",
        total="",
        extra_totals=(
            render(f"{histogram.name}_bucket", {**labels, "le": "+Inf"}),
            render(f"{histogram.name}_count", labels),
        ),
    )


def _split(part: Selector, total: Selector, part_is_errors: bool) -> Synthesis | None:
    """Errors (or good events) and total: one series each side of ``part``'s selector."""
    inside = labels_for(part.matchers)
    if inside is None:
        return None
    part_series = render(part.name, inside)
    if part.name != total.name or not matches(total, part.name, inside):
        other = labels_for(total.matchers)
        if other is None:
            return None
        other_series = render(total.name, other)
        if part_is_errors:
            return Synthesis("availability", good="", bad=part_series, total=other_series)
        return Synthesis("availability", good=part_series, bad="", total=other_series)
    outside = apart(total, part)
    if outside is None:
        return None
    other_series = render(total.name, outside)
    if part_is_errors:
        return Synthesis("availability", good=other_series, bad=part_series, total="")
    return Synthesis("availability", good=part_series, bad=other_series, total="")
