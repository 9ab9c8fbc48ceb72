"""Reading a rendered dashboard back: how much of a panel's rectangle is drawn on, and where
Grafana's grid puts it."""

from __future__ import annotations

from pathlib import Path

import numpy
from PIL import Image

PANEL_BACKGROUND = (0x18, 0x1B, 0x1F)


def grid_box(grid: list[int], height_px: int) -> tuple[float, float, float, float]:
    """Where a panel at ``gridPos`` (x, y, w, h) belongs, in figure coordinates: 24 columns
    across the 1600 px figure, 38 px a grid unit below the 64 px header, 4 px margins."""
    from obsstack.dashboards.render import GAP_PX, HEADER_PX, UNIT_PX, WIDTH_PX

    x, y, w, h = grid
    left = x * WIDTH_PX / 24 + GAP_PX / 2
    top = HEADER_PX + y * UNIT_PX + GAP_PX / 2
    right = left + w * WIDTH_PX / 24 - GAP_PX
    bottom = top + h * UNIT_PX - GAP_PX
    return (left / WIDTH_PX, 1 - bottom / height_px, right / WIDTH_PX, 1 - top / height_px)


def ink(png: Path, box: tuple[float, float, float, float], inset: int = 30) -> float:
    """Share of pixels inside ``box`` (figure coordinates, origin bottom-left), ``inset`` pixels
    in from its edges (past the title and border), that differ from the panel background."""
    region = _body(png, box, inset)
    distance = numpy.abs(region - numpy.array(PANEL_BACKGROUND, dtype=numpy.int16)).max(axis=2)
    return float((distance > 24).mean()) if distance.size else 0.0


def coloured(png: Path, box: tuple[float, float, float, float], inset: int = 30) -> int:
    """How many pixels inside ``box`` (as for :func:`ink`) carry a colour rather than a grey:
    series, bars, thresholds and coloured values do; titles, axes, frames and "No data" do
    not."""
    region = _body(png, box, inset)
    return int(((region.max(axis=2) - region.min(axis=2)) > 60).sum())


def _body(png: Path, box: tuple[float, float, float, float], inset: int) -> numpy.ndarray:
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        x0, y0, x1, y1 = box
        left, right = round(x0 * width) + 6, round(x1 * width) - 6
        top, bottom = round((1 - y1) * height) + inset, round((1 - y0) * height) - 6
        return numpy.asarray(rgb.crop((left, top, right, bottom)), dtype=numpy.int16)
