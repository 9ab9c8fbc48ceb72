"""Pixel geometry on a matplotlib figure: a panel's area and the axes placed inside it.

The figure is laid out in pixels (Grafana's grid is), and matplotlib places axes in fractions
of the figure; an :class:`Area` converts, measuring from its top-left corner as a browser does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from obsstack.dashboards.render_data import TimeRange
from obsstack.dashboards.render_model import MUTED, PANEL, TEXT, Frame

DPI = 100
PX_PER_PT = DPI / 72
CHAR_WIDTH = 0.6  # of the font size, DejaVu Sans on average
BOLD_CHAR_WIDTH = 0.75  # DejaVu Sans Bold digits and % are wider


@dataclass(frozen=True)
class Area:
    """A rectangle of the figure in pixels, from the figure's top-left corner."""

    figure: Any  # matplotlib.figure.Figure
    left: float
    top: float
    width: float
    height: float

    def fraction(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in figure coordinates (origin bottom-left)."""
        fig_w, fig_h = self.figure.get_size_inches() * DPI
        x0 = self.left / fig_w
        y1 = 1 - self.top / fig_h
        return (x0, y1 - self.height / fig_h, x0 + self.width / fig_w, y1)

    def inner(self, left: float, top: float, width: float, height: float) -> Area:
        """A sub-area, relative to this one's top-left corner."""
        return Area(self.figure, self.left + left, self.top + top, max(width, 1), max(height, 1))

    def axes(self, *, visible: bool = False, facecolor: str = PANEL) -> Any:
        """New axes filling the area (axis lines, ticks and labels hidden unless ``visible``)."""
        x0, y0, x1, y1 = self.fraction()
        ax = self.figure.add_axes((x0, y0, x1 - x0, y1 - y0), facecolor=facecolor)
        if not visible:
            ax.set_axis_off()
        return ax


@dataclass(frozen=True)
class PanelJob:
    """What every panel drawer is given: where to draw, the panel's JSON, its frames, the
    time range and the query step (seconds)."""

    area: Area
    panel: dict[str, Any]
    frames: Sequence[Frame]
    window: TimeRange
    step: float


def fit_font(
    text: str, width_px: float, height_px: float, largest: float = 40, bold: bool = False
) -> float:
    """The largest font size (points, at most ``largest``) at which ``text`` fits the box."""
    per_char = BOLD_CHAR_WIDTH if bold else CHAR_WIDTH
    by_width = width_px / max(len(text), 1) / per_char / PX_PER_PT
    by_height = height_px / 1.25 / PX_PER_PT
    return max(5.0, min(largest, by_width, by_height))


def chars_fitting(width_px: float, size_pt: float) -> int:
    """How many characters of a ``size_pt`` font fit in ``width_px``."""
    return max(1, int(width_px / (size_pt * PX_PER_PT * CHAR_WIDTH)))


def clip(text: str, width_px: float, size_pt: float) -> str:
    """``text`` cut with an ellipsis to fit ``width_px``."""
    room = chars_fitting(width_px, size_pt)
    return text if len(text) <= room else text[: max(room - 1, 1)] + "…"


def write_notice(area: Area, text: str) -> None:
    """A centred line of muted text (``No data``, an unreachable data source, an error)."""
    ax = area.axes()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    size = min(11.0, fit_font(text, area.width * 0.95, area.height / 3, 11))
    lines = _wrap(text, chars_fitting(area.width * 0.92, size))
    colour = TEXT if text == "No data" else MUTED
    ax.text(0.5, 0.5, "\n".join(lines[:4]), ha="center", va="center", color=colour, fontsize=size)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*lines, current] if current else lines
