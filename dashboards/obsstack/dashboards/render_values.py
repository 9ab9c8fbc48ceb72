"""Panels that show one reduced value per series: stat, gauge and bar gauge.

Each series is reduced by the panel's ``reduceOptions.calcs`` (``lastNotNull`` unless told), its
text is the value mapping's or the value in the field's unit, and its colour the mapping's or the
threshold step's. Stat: ``colorMode`` ``value`` colours the text, ``background`` the tile, and
``graphMode: area`` draws the series behind it. Gauge: an arc from ``min`` to ``max`` with the
thresholds as an outer band (``showThresholdMarkers``). Bar gauge: one bar per series, filled to
its share of ``min``..``max``, with the unfilled rest shown (``showUnfilled``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from obsstack.dashboards.render_canvas import CHAR_WIDTH, PX_PER_PT, Area, PanelJob, clip, fit_font
from obsstack.dashboards.render_fields import (
    Field,
    calc_of,
    display_name,
    panel_field,
    reduce,
    series_field,
)
from obsstack.dashboards.render_model import (
    CANVAS,
    EMPTY_BAR,
    MUTED,
    TEXT,
    Frame,
    PanelDrawn,
    ThresholdDrawn,
    ValueDrawn,
)
from obsstack.dashboards.render_units import colour

Json = dict[str, Any]


def _values(panel: Json, frames: Sequence[Frame]) -> list[tuple[Frame, Field, str, float | None]]:
    base = panel_field(panel)
    calc = calc_of(panel)
    out = []
    for frame in frames:
        fld = series_field(panel, base, frame)
        out.append((frame, fld, display_name(frame, fld), reduce(frame.points, calc)))
    return out


def _grid(count: int, width: float, height: float, aspect: float) -> tuple[int, int]:
    """Columns and rows for ``count`` tiles, keeping each near ``aspect`` (width / height)."""
    best = (1, count)
    best_score = -1.0
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        tile_w, tile_h = width / columns, height / rows
        score = min(tile_w / aspect, tile_h)
        if score > best_score:
            best, best_score = (columns, rows), score
    return best


def _tiles(area: Area, count: int, aspect: float) -> list[Area]:
    columns, rows = _grid(count, area.width, area.height, aspect)
    tile_w, tile_h = area.width / columns, area.height / rows
    return [
        area.inner((i % columns) * tile_w, (i // columns) * tile_h, tile_w - 2, tile_h - 2)
        for i in range(count)
    ]


def _threshold_list(fld: Field) -> list[ThresholdDrawn]:
    return [
        ThresholdDrawn(
            None if s.get("value") is None else float(s["value"]), colour(s.get("color"))
        )
        for s in fld.steps
    ]


def draw_stat(job: PanelJob, out: PanelDrawn) -> None:
    """Big value per series, coloured by mapping or threshold."""
    area, panel, frames = job.area, job.panel, job.frames
    options = panel.get("options") or {}
    mode = options.get("colorMode", "value")
    items = _values(panel, frames)
    show_names = len(items) > 1 or options.get("textMode") in ("value_and_name", "name")
    for index, (tile, (frame, fld, name, value)) in enumerate(
        zip(_tiles(area, len(items), 2.2), items, strict=True)
    ):
        tint = fld.colour_of(value, index)
        text = fld.text(value)
        ax = tile.axes()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.add_patch(_rect(0, 0, 1, 1, tint if mode == "background" else CANVAS))
        if options.get("graphMode") == "area" and len(frame.points) > 1:
            _sparkline(tile, frame.points, "#FFFFFF" if mode == "background" else tint)
        text_colour = "#FFFFFF" if mode == "background" else tint
        name_h = tile.height * 0.22 if show_names else 0
        if show_names:
            size = fit_font(name, tile.width * 0.9, name_h, 10)
            ax.text(
                0.5,
                1 - name_h / tile.height / 2,
                clip(name, tile.width * 0.95, size),
                ha="center",
                va="center",
                fontsize=size,
                color=text_colour if mode == "background" else TEXT,
            )
        size = fit_font(text, tile.width * 0.85, (tile.height - name_h) * 0.6, 90, bold=True)
        centre = (1 - name_h / tile.height) / 2
        ax.text(
            0.5,
            centre,
            text,
            ha="center",
            va="center",
            fontsize=size,
            color=text_colour,
            fontweight="bold",
            zorder=3,
        )
        out.values.append(ValueDrawn(name, text, tint))
    out.thresholds = _threshold_list(panel_field(panel))


def _sparkline(tile: Area, points: Sequence[tuple[float, float]], tint: str) -> None:
    spark = tile.inner(0, tile.height * 0.55, tile.width, tile.height * 0.45).axes(facecolor="none")
    xs = [t for t, _ in points]
    ys = [v for _, v in points]
    spark.fill_between(xs, min(ys), ys, color=tint, alpha=0.18, linewidth=0)
    spark.plot(xs, ys, color=tint, alpha=0.6, linewidth=1)
    spark.set_xlim(xs[0], xs[-1])
    spark.patch.set_alpha(0)


def _range(fld: Field, values: Sequence[float | None]) -> tuple[float, float]:
    present = [v for v in values if v is not None]
    low = fld.min if fld.min is not None else min([0.0, *present])
    high = fld.max if fld.max is not None else max([*present, 100.0 if not present else 0.0])
    return low, high if high > low else low + 1


def draw_gauge(job: PanelJob, out: PanelDrawn) -> None:
    """An arc per series filled to its value, thresholds around it."""
    area, panel, frames = job.area, job.panel, job.frames
    from matplotlib.patches import Wedge

    items = _values(panel, frames)
    base = panel_field(panel)
    markers = (panel.get("options") or {}).get("showThresholdMarkers", True)
    low, high = _range(base, [v for *_, v in items])
    for index, (tile, (_frame, fld, name, value)) in enumerate(
        zip(_tiles(area, len(items), 1.2), items, strict=True)
    ):
        tint = fld.colour_of(value, index)
        text = fld.text(value)
        side = min(tile.width, tile.height * (0.85 if len(items) > 1 else 1))
        square = tile.inner((tile.width - side) / 2, tile.height - side, side, side)
        ax = square.axes()
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-1.0, 1.2)
        share = 0.0 if value is None else min(max((value - low) / (high - low), 0), 1)
        ax.add_patch(Wedge((0, 0), 0.86, -45, 225, width=0.22, color=EMPTY_BAR))
        ax.add_patch(Wedge((0, 0), 0.86, 225 - 270 * share, 225, width=0.22, color=tint))
        if markers:
            _gauge_markers(ax, fld, low, high)
        size = fit_font(text, side * 0.55, side * 0.22, 28, bold=True)
        ax.text(
            0, 0.05, text, ha="center", va="center", fontsize=size, color=tint, fontweight="bold"
        )
        if len(items) > 1:
            ax.text(0, -0.75, clip(name, side, 7), ha="center", va="center", fontsize=7, color=TEXT)
        out.values.append(ValueDrawn(name, text, tint))
    out.thresholds = _threshold_list(base)


def _gauge_markers(ax: Any, fld: Field, low: float, high: float) -> None:
    from matplotlib.patches import Wedge

    steps = list(fld.steps)
    for index, step in enumerate(steps):
        start = low if step.get("value") is None else float(step["value"])
        nxt = steps[index + 1].get("value") if index + 1 < len(steps) else None
        end = high if nxt is None else float(nxt)
        a = min(max((start - low) / (high - low), 0), 1)
        b = min(max((end - low) / (high - low), 0), 1)
        if b > a:
            ax.add_patch(
                Wedge(
                    (0, 0),
                    0.97,
                    225 - 270 * b,
                    225 - 270 * a,
                    width=0.07,
                    color=colour(step.get("color")),
                )
            )


def draw_bargauge(job: PanelJob, out: PanelDrawn) -> None:
    """One horizontal bar per series: name, bar filled to its share, value."""
    area, panel, frames = job.area, job.panel, job.frames
    items = _values(panel, frames)
    base = panel_field(panel)
    low, high = _range(base, [v for *_, v in items])
    row_h = min(area.height / max(len(items), 1), 44)
    shown = items[: max(1, int(area.height / min(row_h, 18)))]
    row_h = area.height / max(len(shown), 1)
    ax = area.axes()
    ax.set_xlim(0, area.width)
    ax.set_ylim(area.height, 0)
    size = min(8.0, row_h * 0.5)
    longest = max(len(n) for _, _, n, _ in shown)
    name_w = min(area.width * 0.32, longest * size * PX_PER_PT * CHAR_WIDTH + 10)
    value_w = 70
    bar_w = area.width - name_w - value_w
    for index, (_frame, fld, name, value) in enumerate(shown):
        tint = fld.colour_of(value, index)
        text = fld.text(value)
        y = index * row_h + row_h * 0.15
        h = row_h * 0.7
        share = 0.0 if value is None else min(max((value - low) / (high - low), 0), 1)
        ax.add_patch(_rect(name_w, y, bar_w, h, EMPTY_BAR))
        ax.add_patch(_rect(name_w, y, bar_w * share, h, tint))
        ax.text(
            name_w - 6,
            y + h / 2,
            clip(name, name_w - 8, size),
            ha="right",
            va="center",
            fontsize=size,
            color=TEXT,
        )
        ax.text(
            area.width - 4,
            y + h / 2,
            text,
            ha="right",
            va="center",
            fontsize=size,
            color=tint,
            fontweight="bold",
        )
        out.values.append(ValueDrawn(name, text, tint))
    if len(shown) < len(items):
        out.notice = f"{len(items) - len(shown)} more not shown"
    out.thresholds = _threshold_list(base)


def _rect(x: float, y: float, w: float, h: float, tint: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, color=tint, linewidth=0)


def draw_text(job: PanelJob, out: PanelDrawn) -> None:
    """A text panel's content, as plain lines."""
    area, panel = job.area, job.panel
    content = str((panel.get("options") or {}).get("content", ""))
    lines = [line.lstrip("#").strip() for line in content.splitlines() if line.strip()]
    ax = area.axes()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0.02, 0.98, "\n".join(lines[:20]), ha="left", va="top", fontsize=8, color=MUTED)
    out.values.append(ValueDrawn("content", "\n".join(lines), TEXT))
