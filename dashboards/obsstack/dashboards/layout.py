"""Dashboards from sections of panels: grid positions, variables and the common header.

A dashboard is a list of :class:`Section` (a row title and its panels with their widths);
:func:`dashboard` lays them out left to right on Grafana's 24-column grid, wrapping to a new
line when a panel does not fit, so no two panels overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import attr
from grafanalib import core as g

from obsstack.core.artifacts import HEADER
from obsstack.dashboards.conventions import DATASOURCE, DATASOURCE_VARIABLE, PROMETHEUS_UID, TAG

GRID_WIDTH = 24


@dataclass(frozen=True)
class Cell:
    """A panel and its size in grid units (width out of 24, height in 30 px rows)."""

    panel: Any
    width: int = 8
    height: int = 8


@dataclass(frozen=True)
class Section:
    """A titled row of panels."""

    title: str
    cells: Sequence[Cell] = field(default_factory=tuple)


def datasource_variable() -> Any:
    """The ``$datasource`` variable every panel reads from (default: the provisioned one)."""
    return g.Template(
        name=DATASOURCE_VARIABLE,
        label="Data source",
        query="prometheus",
        type="datasource",
        default=PROMETHEUS_UID,
    )


def query_variable(
    name: str,
    label: str,
    query: str,
    *,
    multi: bool = True,
    include_all: bool = True,
) -> Any:
    """A variable listing label values (``label_values(metric{...}, label)``), refreshed with the
    time range. With ``include_all`` the "All" value matches any value (``.*``)."""
    return g.Template(
        name=name,
        label=label,
        query=query,
        dataSource=DATASOURCE,
        multi=multi,
        includeAll=include_all,
        allValue=".*" if include_all else None,
        default="All" if include_all else None,
        refresh=g.REFRESH_ON_TIME_RANGE_CHANGE,
        sort=g.SORT_ALPHA_ASC,
    )


def place(sections: Sequence[Section]) -> list[Any]:
    """Row panels and panels with grid positions, top to bottom."""
    out: list[Any] = []
    y = 0
    for section in sections:
        out.append(g.RowPanel(title=section.title, gridPos=g.GridPos(h=1, w=GRID_WIDTH, x=0, y=y)))
        y += 1
        x, line_height = 0, 0
        for cell in section.cells:
            if not 0 < cell.width <= GRID_WIDTH:
                raise ValueError(f"panel width {cell.width} outside 1..{GRID_WIDTH}")
            if x + cell.width > GRID_WIDTH:
                y, x, line_height = y + line_height, 0, 0
            position = g.GridPos(h=cell.height, w=cell.width, x=x, y=y)
            out.append(attr.evolve(cell.panel, gridPos=position))
            x += cell.width
            line_height = max(line_height, cell.height)
        y += line_height
    return out


def dashboard(
    title: str,
    description: str,
    sections: Sequence[Section],
    *,
    variables: Sequence[Any] = (),
    time_from: str = "now-6h",
    refresh: str = "1m",
) -> Any:
    """A grafanalib dashboard with obsstack's header: tag, links to its sibling dashboards,
    shared crosshair, the ``$datasource`` variable first."""
    return g.Dashboard(
        title=title,
        description=f"{description} ({HEADER}: edit dashboards/ and run `obsstack generate`.)",
        tags=[TAG],
        editable=False,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        timezone="browser",
        time=g.Time(time_from, "now"),
        refresh=refresh,
        links=[
            g.DashboardLink(
                title="obsstack dashboards",
                type="dashboards",
                tags=[TAG],
                asDropdown=True,
                keepTime=True,
                includeVars=False,
                icon="dashboard",
            )
        ],
        templating=g.Templating(list=[datasource_variable(), *variables]),
        panels=place(sections),
    )
