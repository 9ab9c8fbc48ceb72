"""A panel's field configuration as the renderer reads it: unit, decimals, min/max, thresholds,
value mappings, colour mode, and the overrides that apply to one series (matched by name, by
regex on the name, or by query refId, as Grafana's ``byName``/``byRegexp``/``byFrameRefID``
matchers do). Also the reducers (``reduceOptions.calcs``) of stat, gauge, bar gauge and legends.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from obsstack.dashboards.render_model import Frame
from obsstack.dashboards.render_units import (
    colour,
    format_value,
    palette_colour,
    threshold_colour,
)

Json = dict[str, Any]


@dataclass(frozen=True)
class Field:
    """How one series' values are shown."""

    unit: str = ""
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    steps: Sequence[Json] = ()
    colour_mode: str = "palette-classic"
    fixed_colour: str | None = None
    mappings: Sequence[Json] = ()
    display_name: str | None = None
    no_value: str = "-"  # Grafana's "No value" option: what an empty or null value shows
    custom: Json = field(default_factory=dict)

    def text(self, value: float | None) -> str:
        """The value as the panel shows it: a mapping's text, else formatted in the unit."""
        mapped = self.mapped(value)
        if mapped and mapped.get("text"):
            return str(mapped["text"])
        if value is None:
            return self.no_value
        return format_value(value, self.unit, self.decimals)

    def colour_of(self, value: float | None, index: int) -> str:
        """A mapping's colour, else the colour mode's: thresholds, fixed, or the palette."""
        mapped = self.mapped(value)
        if mapped and mapped.get("color"):
            return colour(str(mapped["color"]))
        if self.colour_mode == "thresholds":
            return threshold_colour(value, self.steps)
        if self.colour_mode in ("fixed", "shades") and self.fixed_colour:
            return colour(self.fixed_colour)
        return palette_colour(index)

    def mapped(self, value: float | None) -> Json | None:
        """The result of the first value mapping that matches ``value``."""
        for mapping in self.mappings:
            options = mapping.get("options") or {}
            kind = mapping.get("type")
            if kind == "value" and value is not None:
                for key, result in options.items():
                    if _same(key, value):
                        return dict(result)
            elif kind == "range" and value is not None:
                low, high = options.get("from"), options.get("to")
                if (low is None or value >= float(low)) and (high is None or value <= float(high)):
                    return dict(options.get("result") or {})
            elif kind == "special" and _special(options.get("match"), value):
                return dict(options.get("result") or {})
        return None


def _same(key: str, value: float) -> bool:
    try:
        return float(key) == value
    except ValueError:
        return False


def _special(match: Any, value: float | None) -> bool:
    if match in ("null", "null+nan"):
        return value is None or (match == "null+nan" and math.isnan(value))
    return match == "nan" and value is not None and math.isnan(value)


def panel_field(panel: Json) -> Field:
    """The panel's defaults."""
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    return Field(
        unit=str(defaults.get("unit") or ""),
        decimals=defaults.get("decimals"),
        min=_number(defaults.get("min")),
        max=_number(defaults.get("max")),
        steps=tuple((defaults.get("thresholds") or {}).get("steps") or ()),
        colour_mode=str((defaults.get("color") or {}).get("mode") or "palette-classic"),
        fixed_colour=(defaults.get("color") or {}).get("fixedColor"),
        mappings=tuple(defaults.get("mappings") or ()),
        display_name=defaults.get("displayName"),
        no_value=str(defaults.get("noValue") or "-"),
        custom=dict(defaults.get("custom") or {}),
    )


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def series_field(panel: Json, base: Field, frame: Frame) -> Field:
    """``base`` with the overrides whose matcher selects ``frame``."""
    result = base
    for override in (panel.get("fieldConfig") or {}).get("overrides") or ():
        matcher = override.get("matcher") or {}
        if not _matches(matcher, frame):
            continue
        for prop in override.get("properties") or ():
            result = _apply(result, str(prop.get("id", "")), prop.get("value"))
    return result


def _matches(matcher: Json, frame: Frame) -> bool:
    kind, option = matcher.get("id"), matcher.get("options")
    if kind == "byName":
        return option == frame.name
    if kind == "byRegexp":
        return bool(re.fullmatch(str(option), frame.name))
    if kind == "byFrameRefID":
        return option == frame.ref_id
    return False


def _apply(base: Field, prop: str, value: Any) -> Field:
    if prop == "color" and isinstance(value, dict):
        return replace(
            base, colour_mode=str(value.get("mode")), fixed_colour=value.get("fixedColor")
        )
    if prop == "noValue":
        return replace(base, no_value=str(value))
    if prop == "displayName":
        return replace(base, display_name=str(value))
    if prop == "unit":
        return replace(base, unit=str(value))
    if prop in ("decimals", "min", "max"):
        return replace(base, **{prop: value})
    if prop == "thresholds" and isinstance(value, dict):
        return replace(base, steps=tuple(value.get("steps") or ()))
    if prop == "mappings":
        return replace(base, mappings=tuple(value or ()))
    if prop.startswith("custom."):
        return replace(base, custom={**base.custom, prop.removeprefix("custom."): value})
    return base


def reduce(points: Sequence[tuple[float, float]], calc: str) -> float | None:
    """One of Grafana's reducers over a series' points (None when it has none)."""
    values = [v for _, v in points if not math.isnan(v)]
    if not values:
        return None
    reducers: dict[str, Callable[[], float]] = {
        "lastNotNull": lambda: values[-1],
        "last": lambda: values[-1],
        "firstNotNull": lambda: values[0],
        "first": lambda: values[0],
        "mean": lambda: sum(values) / len(values),
        "max": lambda: max(values),
        "min": lambda: min(values),
        "sum": lambda: sum(values),
        "count": lambda: float(len(values)),
        "range": lambda: max(values) - min(values),
        "delta": lambda: sum(max(b - a, 0) for a, b in itertools.pairwise(values)),
        "diff": lambda: values[-1] - values[0],
    }
    return float(reducers.get(calc, reducers["lastNotNull"])())


def calc_of(panel: Json) -> str:
    """The panel's first reducer (``reduceOptions.calcs``), ``lastNotNull`` by default."""
    calcs = ((panel.get("options") or {}).get("reduceOptions") or {}).get("calcs") or []
    return str(calcs[0]) if calcs else "lastNotNull"


def display_name(frame: Frame, fld: Field) -> str:
    return fld.display_name or frame.name
