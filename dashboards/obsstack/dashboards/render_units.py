"""Grafana's value formatting and colours, for the dashboard renderer.

Units follow Grafana's value formats (``packages/grafana-data/src/valueFormats``): ``short``
scales by 1000 with `` K``/`` Mil``/`` Bil``, the throughput units (``reqps``, ``ops``,
``cpm``) by 1000 with ``K``/``M``/``B`` and Grafana's symbol (``req/s``, ``ops/s``, ``c/m``),
``bytes`` by 1024 (IEC), ``Bps`` and ``decbytes`` by 1000 (SI), ``s`` and ``ms`` move to the
largest unit below the value, ``percentunit`` is a ratio shown as percent,
``suffix:``/``prefix:`` add text. Without ``decimals`` the number of decimals follows the
value's magnitude, as Grafana's ``toFixed`` does. Named colours are the dark theme's
(``createVisualizationColors.ts``), and ``palette-classic`` cycles through its classic palette.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

Formatter = Callable[[float, int | None], str]

# The dark theme's named colours (primary shade of each hue, and the dark/light variants).
NAMED_COLOURS = {
    "super-light-red": "#FFA6B0",
    "light-red": "#FF7383",
    "red": "#F2495C",
    "semi-dark-red": "#E02F44",
    "dark-red": "#C4162A",
    "super-light-orange": "#FFCB7D",
    "light-orange": "#FFB357",
    "orange": "#FF9830",
    "semi-dark-orange": "#FF780A",
    "dark-orange": "#FA6400",
    "super-light-yellow": "#FFF899",
    "light-yellow": "#FFEE52",
    "yellow": "#FADE2A",
    "semi-dark-yellow": "#F2CC0C",
    "dark-yellow": "#E0B400",
    "super-light-green": "#C8F2C2",
    "light-green": "#96D98D",
    "green": "#73BF69",
    "semi-dark-green": "#56A64B",
    "dark-green": "#37872D",
    "super-light-blue": "#C0D8FF",
    "light-blue": "#8AB8FF",
    "blue": "#5794F2",
    "semi-dark-blue": "#3274D9",
    "dark-blue": "#1F60C4",
    "super-light-purple": "#DEB6F2",
    "light-purple": "#CA95E5",
    "purple": "#B877D9",
    "semi-dark-purple": "#A352CC",
    "dark-purple": "#8F3BB8",
    "text": "#CCCCDC",
    "transparent": "#00000000",
}
_CLASSIC = [
    "green", "yellow", "blue", "orange", "red", "purple",
    "dark-green", "dark-yellow", "dark-blue", "dark-orange", "dark-red", "dark-purple",
    "super-light-green", "super-light-yellow", "super-light-blue", "super-light-orange",
    "super-light-red", "super-light-purple",
]  # fmt: skip
CLASSIC_PALETTE = (
    *(NAMED_COLOURS[name] for name in _CLASSIC),
    "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477", "#B7DBAB", "#F4D598",
)  # fmt: skip
FALLBACK_COLOUR = "#808080"


def colour(name: str | None) -> str:
    """A Grafana colour name (or ``#rrggbb``, ``rgb(...)``) as matplotlib understands it."""
    if not name:
        return FALLBACK_COLOUR
    if name in NAMED_COLOURS:
        return NAMED_COLOURS[name]
    if name.startswith("rgb"):
        parts = [float(p) for p in name[name.index("(") + 1 : name.index(")")].split(",")[:3]]
        return "#" + "".join(f"{round(p):02X}" for p in parts)
    return name


def palette_colour(index: int) -> str:
    """The ``palette-classic`` colour of the ``index``-th series."""
    return CLASSIC_PALETTE[index % len(CLASSIC_PALETTE)]


def threshold_colour(value: float | None, steps: Sequence[dict[str, Any]]) -> str:
    """The colour of the highest threshold step at or below ``value`` (absolute mode)."""
    chosen = steps[0].get("color") if steps else None
    for step in steps:
        limit = step.get("value")
        if limit is None or (value is not None and value >= float(limit)):
            chosen = step.get("color")
    return colour(chosen)


# -- numbers ----------------------------------------------------------------------------------
def _decimals_for(value: float) -> int:
    """Grafana's decimals for a value shown without a ``decimals`` setting."""
    if value == 0 or not math.isfinite(value):
        return 0
    if value % 1 == 0:
        return 0
    # Grafana's getDecimalsForValue compares value / 10^(magnitude - 1) with 2.25: every
    # positive value gets one decimal more than a negative one of the same magnitude.
    decimals = -math.floor(math.log10(abs(value))) + (2 if value > 0 else 1)
    return max(0, decimals)


def to_fixed(value: float, decimals: int | None = None) -> str:
    """``value`` with ``decimals`` (or Grafana's automatic count) of decimals."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    places = _decimals_for(value) if decimals is None else max(0, decimals)
    text = f"{value:.{places}f}"
    return text.removeprefix("-") if float(text) == 0 else text


def _scaled(factor: float, suffixes: Sequence[str], offset: int = 0) -> Formatter:
    def fmt(value: float, decimals: int | None) -> str:
        if not math.isfinite(value) or value == 0:
            return to_fixed(value, decimals) + suffixes[offset]
        index = math.floor(math.log(abs(value), factor) + 1e-9)
        index = min(max(offset + index, 0), len(suffixes) - 1) - offset
        return to_fixed(value / factor**index, decimals) + suffixes[offset + index]

    return fmt


# Grafana's throughput units and the symbol each is shown with (``simpleCountUnit``).
_THROUGHPUT = {
    "cps": "c/s",
    "ops": "ops/s",
    "reqps": "req/s",
    "rps": "rd/s",
    "wps": "wr/s",
    "iops": "io/s",
    "eps": "evt/s",
    "mps": "msg/s",
    "recps": "rec/s",
    "rowsps": "rows/s",
    "cpm": "c/m",
    "opm": "ops/m",
    "reqpm": "req/m",
    "rpm": "rd/m",
    "wpm": "wr/m",
    "epm": "evts/m",
    "mpm": "msgs/m",
    "recpm": "rec/m",
    "rowspm": "rows/m",
}


def _count(symbol: str) -> Formatter:
    scaler = _scaled(1000, ["", "K", "M", "B", "T"])
    return lambda value, decimals: f"{scaler(value, decimals)} {symbol}"


def _si(unit: str) -> Formatter:
    prefixes = ["n", "µ", "m", "", "k", "M", "G", "T", "P"]
    return _scaled(1000, [f" {p}{unit}" for p in prefixes], offset=3)


def _iec(unit: str) -> Formatter:
    return _scaled(1024, [f" {p}{unit}" for p in ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]])


_SECONDS = [
    (1e-6, 1e-9, " ns"),
    (1e-3, 1e-6, " µs"),
    (1, 1e-3, " ms"),
    (60, 1, " s"),
    (3600, 60, " min"),
    (86400, 3600, " hour"),
    (604800, 86400, " day"),
    (31536000, 604800, " week"),
]


def _seconds(value: float, decimals: int | None) -> str:
    if value == 0:
        return to_fixed(0, decimals) + " s"
    for below, scale, suffix in _SECONDS:
        if abs(value) < below:
            return to_fixed(value / scale, decimals) + suffix
    return to_fixed(value / 3.15569e7, decimals) + " year"


def _duration(value: float, decimals: int | None) -> str:
    """``dtdurations``: "2 hours, 3 minutes" (as many parts as ``decimals`` allows)."""
    if value == 0:
        return "0 seconds"
    if value < 0:
        return _duration(-value, decimals) + " ago"
    parts: list[str] = []
    remaining = value
    units: list[tuple[str, float]] = [
        ("year", 31536000),
        ("month", 2592000),
        ("week", 604800),
        ("day", 86400),
    ]
    units += [("hour", 3600), ("minute", 60), ("second", 1), ("millisecond", 0.001)]
    budget = 1 if decimals is None else decimals
    for name, size in units:
        if remaining >= size or parts:
            count = math.floor(remaining / size)
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
            remaining -= count * size
            budget -= 1
            if budget < 0:
                break
    return ", ".join(parts)


_FORMATS: dict[str, Formatter] = {
    "none": lambda v, d: to_fixed(v, d),
    "short": _scaled(1000, ["", " K", " Mil", " Bil", " Tri", " Quadr", " Quint"]),
    "percent": lambda v, d: to_fixed(v, d) + "%",
    "percentunit": lambda v, d: to_fixed(v * 100, d) + "%",
    "s": _seconds,
    "ms": lambda v, d: _seconds(v / 1000, d),
    "dtdurations": _duration,
    "dtdurationms": lambda v, d: _duration(v / 1000, d),
    "bytes": _iec("B"),
    "bits": _iec("b"),
    "decbytes": _si("B"),
    "Bps": _si("B/s"),
    "bps": _si("bps"),
    "hertz": _si("Hz"),
    **{unit: _count(symbol) for unit, symbol in _THROUGHPUT.items()},
}


def format_value(value: float | None, unit: str | None, decimals: int | None = None) -> str:
    """``value`` as Grafana shows it in ``unit`` (``None`` is an empty cell: "-")."""
    if value is None:
        return "-"
    unit = unit or "none"
    if unit in _FORMATS:
        return _FORMATS[unit](value, decimals)
    kind, _, text = unit.partition(":")
    if kind == "suffix" and text:
        return f"{to_fixed(value, decimals)} {text}".rstrip()
    if kind == "prefix" and text:
        return f"{text}{to_fixed(value, decimals)}"
    if kind == "count" and text:
        return _count(text)(value, decimals)
    return f"{to_fixed(value, decimals)} {unit}"
