"""What the renderer drew, panel by panel: the structured twin of each PNG.

Every renderer function returns these records, and ``render.json`` holds them beside the
pictures, so a test or a review can say what a panel showed (series and their points, legend
entries, threshold colours, the value texts, table cells, or the notice written instead of data)
without reading pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

# Grafana's dark theme.
CANVAS = "#111217"
PANEL = "#181B1F"
BORDER = "#2C3235"
TEXT = "#CCCCDC"
MUTED = "#9FA7B3"
GRID = "#2A2E33"
EMPTY_BAR = "#22252B"
CHANGED = "#FF9830"

NO_DATA = "No data"


@dataclass(frozen=True)
class Frame:
    """One series a panel's query returned, named as its legend names it."""

    ref_id: str
    name: str
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass
class SeriesDrawn:
    name: str
    points: int
    colour: str


@dataclass
class ValueDrawn:
    name: str
    text: str
    colour: str


@dataclass
class ThresholdDrawn:
    value: float | None
    colour: str


@dataclass
class PanelDrawn:
    """One panel as drawn; ``box`` is its rectangle in figure coordinates (x0, y0, x1, y1)."""

    id: int | None
    type: str
    title: str
    row: str
    grid: tuple[int, int, int, int]  # gridPos x, y, w, h
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    unit: str = ""
    series: list[SeriesDrawn] = field(default_factory=list)
    values: list[ValueDrawn] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)  # header first
    thresholds: list[ThresholdDrawn] = field(default_factory=list)
    legend: list[str] = field(default_factory=list)
    axis: tuple[float, float] | None = None  # a time series' y range
    notice: str = ""
    changed: bool = False

    @property
    def drawn(self) -> bool:
        """Whether the panel shows data (not only a notice)."""
        return bool(any(s.points for s in self.series) or self.values or len(self.table) > 1)


@dataclass
class RowDrawn:
    title: str
    y: int
    collapsed: bool
    hidden_panels: int
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


@dataclass
class DashboardDrawn:
    """One dashboard's picture and what is in it."""

    uid: str
    title: str
    source: str  # the JSON file it was drawn from
    png: str  # file name in the output directory
    time_range: str
    start: float
    end: float
    width_px: int
    height_px: int
    variables: dict[str, str] = field(default_factory=dict)  # as shown in the header
    rows: list[RowDrawn] = field(default_factory=list)
    panels: list[PanelDrawn] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)
