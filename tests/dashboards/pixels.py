"""Reading a rendered PNG back: how much of a panel's rectangle is drawn on."""

from __future__ import annotations

from pathlib import Path

import numpy
from PIL import Image

PANEL_BACKGROUND = (0x18, 0x1B, 0x1F)


def ink(png: Path, box: tuple[float, float, float, float], inset: int = 30) -> float:
    """Share of pixels inside ``box`` (figure coordinates, origin bottom-left), ``inset`` pixels
    in from its edges (past the title and border), that differ from the panel background."""
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        x0, y0, x1, y1 = box
        left, right = round(x0 * width) + 6, round(x1 * width) - 6
        top, bottom = round((1 - y1) * height) + inset, round((1 - y0) * height) - 6
        region = numpy.asarray(rgb.crop((left, top, right, bottom)), dtype=numpy.int16)
    distance = numpy.abs(region - numpy.array(PANEL_BACKGROUND, dtype=numpy.int16)).max(axis=2)
    return float((distance > 24).mean()) if distance.size else 0.0
