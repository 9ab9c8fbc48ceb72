"""One PNG per dashboard, laid out on Grafana's grid, and the record of what it shows.

The figure is 1600 px wide: 24 columns, each grid unit of height 30 px plus an 8 px gap (as in
Grafana), below a header with the dashboard's title, time range and variable values. Rows are
drawn as section titles (a collapsed row as ``▸ title (n panels)``, its panels hidden, as a
freshly opened dashboard shows it); each panel is a box at its ``gridPos`` with its title and
its visualisation, or a notice: ``No data``, an unreachable data source, a query's error.

Drawn with matplotlib's Agg canvas (no pyplot, no display), DejaVu Sans, and without the
``Software`` PNG text, so the same data gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from obsstack.dashboards import render_table, render_timeseries, render_values
from obsstack.dashboards.render_canvas import DPI, Area, PanelJob, clip, write_notice
from obsstack.dashboards.render_data import (
    SourceProblem,
    TimeRange,
    query_step,
    resolve_variables,
    takes_all,
)
from obsstack.dashboards.render_model import (
    BORDER,
    CANVAS,
    CHANGED,
    MUTED,
    NO_DATA,
    PANEL,
    TEXT,
    DashboardDrawn,
    Frame,
    PanelDrawn,
    RowDrawn,
)
from obsstack.dashboards.render_queries import Sources, panel_frames

Json = dict[str, Any]
WIDTH_PX = 1600
UNIT_PX = 38  # one grid unit of height: 30 px and the 8 px gap
GAP_PX = 8
HEADER_PX = 64
TITLE_PX = 26
TITLE_PT = 8.5


def panel_key(row: str, panel: Json, seen: dict[tuple[str, str], int]) -> str:
    """A panel's name across revisions: row title, panel title, and which of the same."""
    base = (row, str(panel.get("title", "")))
    seen[base] = seen.get(base, 0) + 1
    suffix = f" #{seen[base]}" if seen[base] > 1 else ""
    return f"{row} / {base[1]}{suffix}" if row else f"{base[1]}{suffix}"


def panel_keys(dashboard: Json) -> dict[str, Json]:
    """Every panel (rows excluded, collapsed rows' included) by :func:`panel_key`."""
    seen: dict[tuple[str, str], int] = {}
    return {
        panel_key(row, item, seen): item
        for row, item, _shown in layout(dashboard)
        if item.get("type") != "row"
    }


def layout(dashboard: Json) -> Iterator[tuple[str, Json, bool]]:
    """(row title, panel or row, visible) in the order Grafana shows them."""
    row = ""
    for item in dashboard.get("panels") or []:
        if item.get("type") == "row":
            row = str(item.get("title", ""))
            yield row, item, True
            for hidden in item.get("panels") or []:
                yield row, hidden, not item.get("collapsed")
        else:
            yield row, item, True


def render_dashboard(
    dashboard: Json,
    source: str,
    png: Path,
    sources: Sources,
    window: TimeRange,
    changed: frozenset[str] = frozenset(),
) -> DashboardDrawn:
    """Query and draw ``dashboard`` into ``png``; what was drawn, panel by panel."""
    import matplotlib.style

    # matplotlib's defaults and its bundled font, whatever a matplotlibrc says.
    with matplotlib.style.context(["default", {"font.family": "DejaVu Sans"}]):
        return _render(dashboard, source, png, sources, window, changed)


def _render(
    dashboard: Json,
    source: str,
    png: Path,
    sources: Sources,
    window: TimeRange,
    changed: frozenset[str],
) -> DashboardDrawn:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    items = list(layout(dashboard))
    bottom = max((_grid(p)[1] + _grid(p)[3] for _, p, shown in items if shown), default=1)
    height = HEADER_PX + bottom * UNIT_PX
    figure = Figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI, facecolor=CANVAS)
    FigureCanvasAgg(figure)
    variables = resolve_variables(dashboard, sources.prometheus, window)
    drawn = DashboardDrawn(
        uid=str(dashboard.get("uid", "")),
        title=str(dashboard.get("title", "")),
        source=source,
        png=png.name,
        time_range=window.label(),
        start=window.start,
        end=window.end,
        width_px=WIDTH_PX,
        height_px=height,
    )
    _header(figure, drawn, dashboard, variables, height)
    seen: dict[tuple[str, str], int] = {}
    for row, item, shown in items:
        if item.get("type") == "row":
            drawn.rows.append(_row(figure, item))
            continue
        key = panel_key(row, item, seen)
        if shown:
            panel = _panel(figure, item, row, sources, variables, window, key in changed)
            drawn.panels.append(panel)
    figure.savefig(png, dpi=DPI, facecolor=CANVAS, metadata={"Software": None})
    return drawn


def _grid(item: Json) -> tuple[int, int, int, int]:
    grid = item.get("gridPos") or {}
    return (
        int(grid.get("x", 0)),
        int(grid.get("y", 0)),
        int(grid.get("w", 12)),
        int(grid.get("h", 8)),
    )


def _area(figure: Any, grid: tuple[int, int, int, int]) -> Area:
    x, y, w, h = grid
    column = WIDTH_PX / 24
    return Area(
        figure,
        x * column + GAP_PX / 2,
        HEADER_PX + y * UNIT_PX + GAP_PX / 2,
        w * column - GAP_PX,
        h * UNIT_PX - GAP_PX,
    )


def _header(
    figure: Any, drawn: DashboardDrawn, dashboard: Json, variables: dict[str, str], height: int
) -> None:
    top = 1 - 22 / height
    figure.text(
        GAP_PX / WIDTH_PX, top, drawn.title, fontsize=15, color=TEXT, va="center", fontweight="bold"
    )
    figure.text(
        1 - GAP_PX / WIDTH_PX,
        top,
        drawn.time_range,
        fontsize=10,
        color=MUTED,
        va="center",
        ha="right",
    )
    for variable in (dashboard.get("templating") or {}).get("list", []):
        if variable.get("type") == "datasource" or variable.get("hide") == 2:
            continue
        value = variables.get(variable["name"], "")
        drawn.variables[variable["name"]] = "All" if takes_all(variable) else value
    shown = [f"{name} = {value}" for name, value in drawn.variables.items()]
    figure.text(
        GAP_PX / WIDTH_PX, 1 - 48 / height, "   ".join(shown), fontsize=8, color=MUTED, va="center"
    )


def _row(figure: Any, item: Json) -> RowDrawn:
    grid = _grid(item)
    area = _area(figure, (0, grid[1], 24, 1))
    collapsed = bool(item.get("collapsed"))
    hidden = len(item.get("panels") or []) if collapsed else 0
    title = str(item.get("title", ""))
    text = f"▸ {title} ({hidden} panels)" if collapsed else f"▾ {title}"
    ax = area.axes(facecolor=CANVAS)
    ax.set_xlim(0, area.width)
    ax.set_ylim(0, 1)
    ax.text(
        2, 0.45, clip(text, area.width, 11), fontsize=11, color=TEXT, va="center", fontweight="bold"
    )
    return RowDrawn(title, grid[1], collapsed, hidden, area.fraction())


def _panel(
    figure: Any,
    panel: Json,
    row: str,
    sources: Sources,
    variables: dict[str, str],
    window: TimeRange,
    changed: bool,
) -> PanelDrawn:
    grid = _grid(panel)
    area = _area(figure, grid)
    unit = str(((panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit") or "")
    out = PanelDrawn(
        panel.get("id"),
        str(panel.get("type", "")),
        str(panel.get("title", "")),
        row,
        grid,
        area.fraction(),
        unit,
        changed=changed,
    )
    _frame(figure, area, out.title, changed)
    content = area.inner(6, TITLE_PX, area.width - 12, area.height - TITLE_PX - 6)
    _content(content, panel, sources, variables, window, out)
    return out


def _frame(figure: Any, area: Area, title: str, changed: bool) -> None:
    """The panel's box and title, drawn on the figure itself (no axes: cheaper to draw)."""
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = area.fraction()
    edge = CHANGED if changed else BORDER
    box = Rectangle(
        (x0, y0),
        x1 - x0,
        y1 - y0,
        transform=figure.transFigure,
        facecolor=PANEL,
        edgecolor=edge,
        linewidth=2.5 if changed else 0.8,
        zorder=-1,
    )
    figure.patches.append(box)
    height = figure.get_size_inches()[1] * DPI
    figure.text(
        x0 + 8 / WIDTH_PX,
        y1 - (TITLE_PX / 2) / height,
        clip(title, area.width - 16, TITLE_PT),
        fontsize=TITLE_PT,
        color=TEXT,
        va="center",
        fontweight="bold",
    )


def _content(
    area: Area,
    panel: Json,
    sources: Sources,
    variables: dict[str, str],
    window: TimeRange,
    out: PanelDrawn,
) -> None:
    kind = out.type
    if kind not in DRAWERS:
        out.notice = f"panel type {kind!r} is not drawn here"
        write_notice(area, out.notice)
        return
    width = round(area.width)
    frames: list[Frame] = []
    if kind != "text":
        try:
            frames = panel_frames(panel, sources, variables, window, width)
        except SourceProblem as problem:
            out.notice = str(problem)
            write_notice(area, out.notice)
            return
        if not _has_points(frames):
            out.notice = NO_DATA
            write_notice(area, NO_DATA)
            return
    step = query_step(window, width, sources.scrape_interval)
    DRAWERS[kind](PanelJob(area, panel, frames, window, step), out)


DRAWERS: dict[str, Callable[[PanelJob, PanelDrawn], None]] = {
    "timeseries": render_timeseries.draw_timeseries,
    "state-timeline": render_timeseries.draw_state_timeline,
    "stat": render_values.draw_stat,
    "gauge": render_values.draw_gauge,
    "bargauge": render_values.draw_bargauge,
    "table": render_table.draw_table,
    "text": render_values.draw_text,
}


def _has_points(frames: Sequence[Frame]) -> bool:
    return any(frame.points for frame in frames)
