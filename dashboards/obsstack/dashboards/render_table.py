"""Table panels: Prometheus "table" results as Grafana tabulates them.

Each series is a row: ``Time``, its labels, and its value under ``Value`` (one query) or
``Value #<refId>`` (several). The ``merge`` transformation joins the rows of all queries that
agree on their labels; without it the table shows the first query's rows. ``organize`` drops
(``excludeByName``), renames (``renameByName``) and orders (``indexByName``) the columns; the
panel's ``sortBy`` sorts the rows. Value cells are formatted in the field's unit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from obsstack.dashboards.render_canvas import PanelJob, clip
from obsstack.dashboards.render_fields import panel_field, reduce
from obsstack.dashboards.render_model import BORDER, MUTED, TEXT, Frame, PanelDrawn

Json = dict[str, Any]
ROW_PX = 18
CELL_PT = 7.0
Cell = str | float | None


def tabulate(panel: Json, frames: Sequence[Frame]) -> tuple[list[str], list[list[Cell]]]:
    """Column names and rows, after the panel's transformations and sort."""
    refs = sorted({f.ref_id for f in frames})
    transforms = {t.get("id"): t.get("options") or {} for t in panel.get("transformations") or []}
    if "merge" not in transforms and refs:
        frames = [f for f in frames if f.ref_id == refs[0]]
        refs = refs[:1]
    value_name = {ref: "Value" if len(refs) == 1 else f"Value #{ref}" for ref in refs}
    labels = sorted({k for f in frames for k in f.labels})
    columns = ["Time", *labels, *(value_name[r] for r in refs)]
    rows: dict[tuple[str, ...], dict[str, Cell]] = {}
    for frame in frames:
        key = tuple(frame.labels.get(k, "") for k in labels)
        row = rows.setdefault(key, {"Time": None, **dict(zip(labels, key, strict=True))})
        moment = frame.points[-1][0] if frame.points else None
        row["Time"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment)) if moment else None
        row[value_name[frame.ref_id]] = reduce(frame.points, "lastNotNull")
    organise = transforms.get("organize") or {}
    excluded = {k for k, v in (organise.get("excludeByName") or {}).items() if v}
    order = organise.get("indexByName") or {}
    kept = [c for c in columns if c not in excluded]
    position = {c: i for i, c in enumerate(kept)}
    kept.sort(key=lambda c: order.get(c, len(order) + position[c]))
    renames = organise.get("renameByName") or {}
    table = [[row.get(c) for c in kept] for row in rows.values()]
    names = [str(renames.get(c) or c) for c in kept]
    for sort in reversed((panel.get("options") or {}).get("sortBy") or []):
        if sort.get("displayName") in names:
            at = names.index(sort["displayName"])
            table.sort(key=lambda r: _sort_key(r[at]), reverse=bool(sort.get("desc")))
    return names, table


def _sort_key(cell: Cell) -> tuple[int, float, str]:
    if isinstance(cell, float):
        return (1, cell, "")
    return (0, 0.0, str(cell or ""))


def draw_table(job: PanelJob, out: PanelDrawn) -> None:
    """Header and as many rows as fit; the rest counted in the last line."""
    area, panel, frames = job.area, job.panel, job.frames
    fld = panel_field(panel)
    names, rows = tabulate(panel, frames)
    texts = [[_cell(c, fld.text) for c in row] for row in rows]
    out.table = [names, *texts]
    ax = area.axes()
    ax.set_xlim(0, area.width)
    ax.set_ylim(area.height, 0)
    widths = _widths(names, texts, area.width)
    fitting = max(1, int(area.height / ROW_PX) - 1)
    shown = texts if len(texts) <= fitting else texts[: fitting - 1]
    for line, row in enumerate([names, *shown]):
        y = line * ROW_PX + ROW_PX / 2
        x = 0.0
        for width, text in zip(widths, row, strict=True):
            ax.text(
                x + 4,
                y,
                clip(text, width - 8, CELL_PT),
                va="center",
                ha="left",
                fontsize=CELL_PT,
                color=MUTED if line == 0 else TEXT,
                fontweight="bold" if line == 0 else "normal",
            )
            x += width
        ax.plot([0, area.width], [y + ROW_PX / 2] * 2, color=BORDER, linewidth=0.6)
    if len(shown) < len(texts):
        ax.text(
            4,
            (len(shown) + 1.5) * ROW_PX,
            f"… {len(texts) - len(shown)} more rows",
            va="center",
            fontsize=CELL_PT,
            color=MUTED,
        )


def _cell(cell: Cell, formatter: Any) -> str:
    if isinstance(cell, float):
        return str(formatter(cell))
    return "" if cell is None else str(cell)


def _widths(names: Sequence[str], rows: Sequence[Sequence[str]], total: float) -> list[float]:
    longest = [max([len(n), *(len(r[i]) for r in rows)]) + 2 for i, n in enumerate(names)]
    scale = total / max(sum(longest), 1)
    return [n * scale for n in longest]
