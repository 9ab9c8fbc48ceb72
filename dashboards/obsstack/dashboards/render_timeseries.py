"""Time series and state timeline panels.

Time series: one line per series in the classic palette (or the field's colour), stacked when
``custom.stacking.mode`` is ``normal``, filled at ``custom.fillOpacity``, drawn as bars when
``custom.drawStyle`` is ``bars``, broken where samples are missing (``spanNulls: false``), on a
log axis when ``custom.scaleDistribution`` says so, between the field's ``min``/``max``; y ticks
in the field's unit; thresholds as lines (``line``, ``dashed``) and/or bands (``area``) when
``custom.thresholdsStyle.mode`` asks for them; the legend below, with the calculations
(``legend.calcs``) in table mode. State timeline: one lane per series, each stretch coloured by the
value mapping (or threshold) of its value, and a legend of the states.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from typing import Any

from obsstack.dashboards.render_canvas import Area, PanelJob, chars_fitting, clip
from obsstack.dashboards.render_data import TimeRange
from obsstack.dashboards.render_fields import Field, display_name, panel_field, reduce, series_field
from obsstack.dashboards.render_model import (
    GRID,
    MUTED,
    PANEL,
    TEXT,
    Frame,
    PanelDrawn,
    SeriesDrawn,
    ThresholdDrawn,
)
from obsstack.dashboards.render_units import colour, format_value

Json = dict[str, Any]
LEGEND_LINE = 14  # px per legend row
TICK_PT = 6.5
LEGEND_PT = 7.0
_CALC_NAMES = {"lastNotNull": "last *", "firstNotNull": "first *", "mean": "mean", "max": "max"}


def draw_timeseries(job: PanelJob, out: PanelDrawn) -> None:
    """Draw a time series panel into ``area``; record series, legend and thresholds."""
    area, panel, frames, window, step = job.area, job.panel, job.frames, job.window, job.step
    base = panel_field(panel)
    fields = [series_field(panel, base, f) for f in frames]
    colours = [
        fld.colour_of(None, i) if fld.colour_mode != "thresholds" else colour("green")
        for i, fld in enumerate(fields)
    ]
    names = [display_name(f, fld) for f, fld in zip(frames, fields, strict=True)]
    legend = _legend_lines(panel, frames, names, base)
    legend_area, plot_area = _split_for_legend(area, legend)
    ax = _time_axes(plot_area, window, base)
    plot_width = plot_area.width - 62
    stacked = (base.custom.get("stacking") or {}).get("mode") == "normal"
    bars = base.custom.get("drawStyle") == "bars"
    totals: dict[float, float] = {}
    extent: list[float] = []
    for frame, fld, tint, name in zip(frames, fields, colours, names, strict=True):
        xs, ys, floor = _xy(frame.points, step, totals if stacked else None)
        extent += ys
        alpha = float(fld.custom.get("fillOpacity", 0) or 0) / 100
        width = float(fld.custom.get("lineWidth", 1) or 1)
        if bars:
            # One line collection per series (not a patch per bar: thousands of points).
            bar_px = plot_width / max((window.seconds / step), 1) * 0.8
            ax.vlines(xs, floor, ys, colors=tint, alpha=max(alpha, 0.6), linewidth=bar_px * 0.72)
        else:
            ax.plot(xs, ys, color=tint, linewidth=width, solid_joinstyle="round")
            if alpha > 0:
                ax.fill_between(xs, floor, ys, color=tint, alpha=alpha, linewidth=0)
        out.series.append(SeriesDrawn(name, len(frame.points), tint))
    _limits(ax, base, extent)
    low, high = ax.get_ylim()
    out.axis = (float(low), float(high))
    out.thresholds = _thresholds(ax, base)
    if legend_area is not None:
        _draw_legend(legend_area, legend, colours)
    out.legend = [line for line, _ in legend]


def _xy(
    points: Sequence[tuple[float, float]], step: float, totals: dict[float, float] | None
) -> tuple[list[float], list[float], list[float]]:
    """Points as matplotlib dates with NaN where a sample is missing; stacked on ``totals``."""
    xs: list[float] = []
    ys: list[float] = []
    floor: list[float] = []
    previous: float | None = None
    for moment, value in points:
        if previous is not None and moment - previous > 1.5 * step:
            xs.append((previous + step) / 86400)
            ys.append(math.nan)
            floor.append(math.nan)
        base = totals.get(moment, 0.0) if totals is not None else 0.0
        if totals is not None:
            totals[moment] = base + value
        xs.append(moment / 86400)
        ys.append(base + value)
        floor.append(base)
        previous = moment
    return xs, ys, floor


def _time_axes(area: Area, window: TimeRange, fld: Field) -> Any:
    import matplotlib.dates
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

    mdates: Any = matplotlib.dates  # untyped

    ax = area.inner(54, 4, area.width - 62, area.height - 20).axes(visible=True)
    ax.set_xlim(window.start / 86400, window.end / 86400)
    locator = mdates.AutoDateLocator(minticks=2, maxticks=max(5, int(area.width / 90)))
    ax.xaxis.set_major_locator(locator)
    day = window.seconds > 2 * 86400
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m/%d %H:%M" if day else "%H:%M"))
    scale = fld.custom.get("scaleDistribution") or {}
    if scale.get("type") == "log":
        with warnings.catch_warnings():  # until the data is there, no positive values
            warnings.simplefilter("ignore")
            ax.set_yscale("log", base=float(scale.get("log", 10)))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=max(2, int(area.height / 35))))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: tick_text(v, fld.unit)))
    ax.tick_params(colors=MUTED, labelsize=TICK_PT, length=0, pad=3)
    ax.grid(True, color=GRID, linewidth=0.6)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_facecolor(PANEL)
    return ax


def tick_text(value: float, unit: str) -> str:
    """An axis label: the value in the unit, without trailing zeros ("90%", "1.5 s")."""
    text = format_value(value, unit, None)
    text = re.sub(r"(\.\d*?[1-9])0+(?=\D|$)", r"\1", text)
    return re.sub(r"\.0+(?=\D|$)", "", text)


def _limits(ax: Any, fld: Field, values: Sequence[float]) -> None:
    """The y range: the field's min/max, else the data's (and the soft limits'), from 0 when
    nothing is negative."""
    finite = [v for v in values if math.isfinite(v)]
    if ax.get_yscale() == "log":
        positive = [v for v in finite if v > 0] or [1.0]
        low = fld.min if fld.min and fld.min > 0 else min(positive) / 1.5
        high = fld.max if fld.max and fld.max > low else max(positive) * 1.5
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ax.set_ylim(low, high if high > low else low * 10)
        return
    lowest, highest = (min(finite), max(finite)) if finite else (0.0, 1.0)
    # Thresholds do not widen the axis (as in Grafana); axisSoftMin/axisSoftMax do.
    soft_low, soft_high = fld.custom.get("axisSoftMin"), fld.custom.get("axisSoftMax")
    lowest = min(lowest, float(soft_low)) if soft_low is not None else lowest
    highest = max(highest, float(soft_high)) if soft_high is not None else highest
    low = fld.min if fld.min is not None else (0.0 if lowest >= 0 else lowest - 0.05 * abs(lowest))
    high = fld.max if fld.max is not None else highest + 0.05 * (highest - low)
    ax.set_ylim(low, high if high > low else low + 1)


def _thresholds(ax: Any, fld: Field) -> list[ThresholdDrawn]:
    mode = str((fld.custom.get("thresholdsStyle") or {}).get("mode", "off"))
    if mode == "off" or not fld.steps:
        return []
    drawn = []
    low, high = ax.get_ylim()
    steps = list(fld.steps)
    for index, step in enumerate(steps):
        tint = colour(step.get("color"))
        value = step.get("value")
        upper = steps[index + 1].get("value") if index + 1 < len(steps) else None
        if "area" in mode:
            start = low if value is None else float(value)
            end = high if upper is None else float(upper)
            ax.axhspan(start, end, color=tint, alpha=0.12, linewidth=0)
        if value is not None and ("line" in mode or "dashed" in mode):
            style = (0, (4, 3)) if "dashed" in mode else "-"
            ax.axhline(float(value), color=tint, linewidth=1, linestyle=style)
        drawn.append(ThresholdDrawn(None if value is None else float(value), tint))
    return drawn


# -- legend -----------------------------------------------------------------------------------
def _legend_lines(
    panel: Json, frames: Sequence[Frame], names: Sequence[str], fld: Field
) -> list[tuple[str, int]]:
    """(text, series index) of each legend entry; empty when the legend is hidden."""
    options = (panel.get("options") or {}).get("legend") or {}
    if options.get("showLegend") is False or options.get("displayMode") == "hidden":
        return []
    calcs = list(options.get("calcs") or [])
    lines = []
    for index, (frame, name) in enumerate(zip(frames, names, strict=True)):
        parts = [name]
        for calc in calcs:
            value = format_value(reduce(frame.points, calc), fld.unit, fld.decimals)
            parts.append(f"{_CALC_NAMES.get(calc, calc)} {value}")
        lines.append(("   ".join(parts), index))
    return lines


def _split_for_legend(area: Area, legend: Sequence[tuple[str, int]]) -> tuple[Area | None, Area]:
    if not legend:
        return None, area
    columns = _legend_columns(area.width, legend)
    rows = math.ceil(len(legend) / columns)
    rows = min(rows, max(1, int(area.height * 0.4 / LEGEND_LINE)))
    height = rows * LEGEND_LINE + 4
    plot = area.inner(0, 0, area.width, area.height - height)
    return area.inner(8, area.height - height, area.width - 16, height), plot


def _legend_columns(width: float, legend: Sequence[tuple[str, int]]) -> int:
    longest = max(len(text) for text, _ in legend) + 3
    return max(1, min(len(legend), chars_fitting(width - 16, LEGEND_PT) // longest))


def _draw_legend(area: Area, legend: Sequence[tuple[str, int]], colours: Sequence[str]) -> None:
    ax = area.axes()
    ax.set_xlim(0, area.width)
    ax.set_ylim(area.height, 0)
    columns = _legend_columns(area.width, legend)
    rows = max(1, int((area.height - 4) / LEGEND_LINE))
    shown = list(legend)
    if len(shown) > rows * columns:
        hidden = len(shown) - (rows * columns - 1)
        shown = [*shown[: rows * columns - 1], (f"… {hidden} more", -1)]
    width = area.width / columns
    for slot, (text, index) in enumerate(shown):
        x, y = (slot % columns) * width, (slot // columns) * LEGEND_LINE + LEGEND_LINE / 2 + 2
        if index >= 0:
            ax.plot([x, x + 12], [y, y], color=colours[index], linewidth=3, solid_capstyle="butt")
        ax.text(
            x + 16,
            y,
            clip(text, width - 20, LEGEND_PT),
            color=TEXT,
            fontsize=LEGEND_PT,
            va="center",
            ha="left",
        )


# -- state timeline -----------------------------------------------------------------------------
def draw_state_timeline(job: PanelJob, out: PanelDrawn) -> None:
    """Lanes of coloured states, one per series, with the states' legend below."""
    area, panel, frames, window, step = job.area, job.panel, job.frames, job.window, job.step
    base = panel_field(panel)
    states = _state_legend(base)
    legend_area, plot_area = _split_for_legend(
        area, [(text, i) for i, (text, _) in enumerate(states)]
    )
    label_width = min(plot_area.width * 0.35, max(len(f.name) for f in frames) * 6 + 10)
    lanes = plot_area.inner(
        label_width, 4, plot_area.width - label_width - 8, plot_area.height - 22
    )
    ax = _time_axes(lanes.inner(-54, -4, lanes.width + 62, lanes.height + 20), window, base)
    ax.set_ylim(len(frames), 0)
    ax.set_yticks([])
    ax.grid(False)
    for lane, frame in enumerate(frames):
        fld = series_field(panel, base, frame)
        stretches = _stretches(frame.points, step)
        tints = [fld.colour_of(value, lane) for _, _, value in stretches]
        spans = [(start / 86400, (end - start) / 86400) for start, end, _ in stretches]
        ax.broken_barh(spans, (lane + 0.1, 0.8), facecolors=tints, linewidth=0)
        last = tints[-1] if tints else ""
        ax.text(
            window.start / 86400,
            lane + 0.5,
            clip(frame.name, label_width - 8, TICK_PT) + "  ",
            ha="right",
            va="center",
            color=TEXT,
            fontsize=TICK_PT,
        )
        out.series.append(SeriesDrawn(frame.name, len(frame.points), last))
    if legend_area is not None:
        _draw_legend(
            legend_area, [(t, i) for i, (t, _) in enumerate(states)], [c for _, c in states]
        )
    out.legend = [text for text, _ in states]
    out.thresholds = [ThresholdDrawn(s.get("value"), colour(s.get("color"))) for s in base.steps]


def _stretches(
    points: Sequence[tuple[float, float]], step: float
) -> list[tuple[float, float, float]]:
    """(start, end, value): runs of equal values, cut where samples are missing."""
    runs: list[tuple[float, float, float]] = []
    for moment, value in points:
        if runs and runs[-1][2] == value and moment - runs[-1][1] <= 1.5 * step:
            runs[-1] = (runs[-1][0], moment, value)
        else:
            runs.append((moment, moment, value))
    return [(start, end + step, value) for start, end, value in runs]


def _state_legend(fld: Field) -> list[tuple[str, str]]:
    """(text, colour) of each state: the value mappings, else the thresholds."""
    entries: list[tuple[str, str]] = []
    for mapping in fld.mappings:
        options = mapping.get("options") or {}
        results = options.values() if mapping.get("type") == "value" else [options.get("result")]
        for result in results:
            if isinstance(result, dict) and result.get("text"):
                entries.append((str(result["text"]), colour(result.get("color"))))
    if not entries:
        for step in fld.steps:
            value = step.get("value")
            label = "Base" if value is None else f"≥ {format_value(float(value), fld.unit)}"
            entries.append((label, colour(step.get("color"))))
    return entries
