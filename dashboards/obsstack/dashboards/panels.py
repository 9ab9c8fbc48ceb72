"""Panels with obsstack's conventions, built with grafanalib.

Every builder takes a title, a description, a unit and the queries, and returns a grafanalib
panel reading from the ``$datasource`` variable. grafanalib's JSON is old-fashioned (legacy keys,
``"null"`` thresholds, old gauge layouts); :mod:`obsstack.dashboards.normalise` turns it into what a
current Grafana writes, so the builders only say what differs from Grafana's defaults.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from grafanalib import core as g

from obsstack.dashboards.conventions import DATASOURCE

Json = dict[str, Any]


@dataclass(frozen=True)
class Query:
    """One PromQL target. ``instant`` asks for the latest value only (tables, bar gauges);
    ``exemplar`` overlays exemplars, whose ``trace_id`` opens the trace in Jaeger."""

    expr: str
    legend: str = ""
    instant: bool = False
    exemplar: bool = False
    table: bool = False


@dataclass(frozen=True)
class _Target:
    """grafanalib's Target plus the ``exemplar`` flag it lacks."""

    target: Any
    exemplar: bool

    def to_json_data(self) -> Json:
        data: Json = self.target.to_json_data()
        data["exemplar"] = self.exemplar
        return data


def _targets(queries: Sequence[Query]) -> list[Any]:
    if len(queries) > len(string.ascii_uppercase):
        raise ValueError("too many queries for one panel")
    return [
        _Target(
            g.Target(
                expr=q.expr,
                legendFormat=q.legend,
                refId=ref,
                instant=q.instant,
                format="table" if q.table else "time_series",
                datasource=DATASOURCE,
            ),
            q.exemplar,
        )
        for q, ref in zip(queries, string.ascii_uppercase, strict=False)
    ]


def steps(base: str, *above: tuple[float, str]) -> list[Any]:
    """Threshold steps: the ``base`` colour, then ``(value, colour)`` pairs in increasing order."""
    out = [g.Threshold(base, 0, 0.0)]
    for index, (value, colour) in enumerate(above, start=1):
        out.append(g.Threshold(colour, index, float(value)))
    return out


def value_map(mapping: dict[int, tuple[str, str]]) -> list[Json]:
    """Value mappings ``{value: (text, colour)}`` in Grafana's current format."""
    options = {
        str(value): {"text": text, "color": colour, "index": index}
        for index, (value, (text, colour)) in enumerate(sorted(mapping.items()))
    }
    return [{"type": "value", "options": options}]


def link(title: str, url: str, *, new_tab: bool = False) -> Any:
    """A panel or data link (Grafana's link variables such as ``${__field.labels.x}`` allowed)."""
    return g.DashboardLink(
        title=title, uri=url, type="link", targetBlank=new_tab, keepTime=True, tooltip=title
    )


def _field_extras(
    *,
    unit: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    data_links: Iterable[Any] = (),
    no_value: str | None = None,
) -> Json:
    # grafanalib only takes integer min/max for time series and has no data links there.
    defaults: Json = {}
    if unit is not None:
        defaults["unit"] = unit
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    data_links = list(data_links)
    if data_links:
        defaults["links"] = [item.to_json_data() for item in data_links]
    if no_value is not None:
        defaults["noValue"] = no_value
    return {"fieldConfig": {"defaults": defaults}} if defaults else {}


def timeseries(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    stacked: bool = False,
    bars: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    thresholds: list[Any] | None = None,
    threshold_lines: bool = False,
    log_scale: bool = False,
    links: Sequence[Any] = (),
    data_links: Sequence[Any] = (),
    legend_calcs: Sequence[str] = (),
) -> Any:
    """A time series; ``threshold_lines`` draws the thresholds as dashed lines on the graph,
    ``log_scale`` uses a base-10 logarithmic Y axis (for burn rates spanning decades)."""
    return g.TimeSeries(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        unit=unit,
        drawStyle="bars" if bars else "line",
        fillOpacity=80 if bars else (25 if stacked else 0),
        lineWidth=1,
        showPoints="never",
        stacking={"mode": "normal", "group": "A"} if stacked else {},
        thresholds=thresholds or steps("green"),
        thresholdsStyleMode="dashed" if threshold_lines else "off",
        scaleDistributionType="log" if log_scale else "linear",
        scaleDistributionLog=10,
        tooltipMode="multi",
        tooltipSort="desc",
        legendDisplayMode="table" if legend_calcs else "list",
        legendCalcs=list(legend_calcs),
        links=list(links),
        extraJson=_field_extras(minimum=minimum, maximum=maximum, data_links=data_links) or None,
    )


def stat(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    thresholds: list[Any] | None = None,
    mappings: list[Json] | None = None,
    graph: bool = False,
    background: bool = False,
    decimals: int | None = None,
    no_value: str | None = None,
    links: Sequence[Any] = (),
    data_links: Sequence[Any] = (),
) -> Any:
    """A big number (the last value), coloured by its thresholds."""
    return g.Stat(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        format=unit,
        decimals=decimals,
        reduceCalc="lastNotNull",
        graphMode="area" if graph else "none",
        colorMode="background" if background else "value",
        color={"mode": "thresholds"},
        textMode="auto",
        thresholds=thresholds or steps("green"),
        mappings=mappings or [],
        links=list(links),
        extraJson=_field_extras(data_links=data_links, no_value=no_value) or None,
    )


def gauge(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    minimum: float,
    maximum: float,
    thresholds: list[Any],
    links: Sequence[Any] = (),
) -> Any:
    """A radial gauge between ``minimum`` and ``maximum``, with threshold markers."""
    return g.GaugePanel(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        format=unit,
        calc="lastNotNull",
        min=minimum,
        max=maximum,
        thresholds=thresholds,
        thresholdMarkers=True,
        links=list(links),
    )


def bargauge(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    thresholds: list[Any],
    minimum: float = 0,
    maximum: float | None = None,
    links: Sequence[Any] = (),
    data_links: Sequence[Any] = (),
) -> Any:
    """One horizontal bar per series (instant queries), coloured by thresholds."""
    return g.BarGauge(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        format=unit,
        calc="lastNotNull",
        displayMode="gradient",
        orientation="horizontal",
        min=minimum,
        max=maximum,
        thresholds=thresholds,
        dataLinks=[item.to_json_data() for item in data_links],
        links=list(links),
    )


def timeline(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    mappings: list[Json],
    thresholds: list[Any] | None = None,
    unit: str = "none",
    links: Sequence[Any] = (),
    data_links: Sequence[Any] = (),
) -> Any:
    """A state timeline: one lane per series, states named and coloured by ``mappings``."""
    return g.StateTimeline(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        mappings=mappings,
        thresholds=thresholds or steps("green"),
        showValue="never",
        fillOpacity=80,
        rowHeight=0.8,
        links=list(links),
        extraJson=_field_extras(unit=unit, data_links=data_links),
    )


def table(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    hide_columns: Sequence[str] = ("Time",),
    rename: dict[str, str] | None = None,
    sort_by: str | None = None,
    links: Sequence[Any] = (),
) -> Any:
    """A table of instant ``queries`` (format table), merged on their labels."""
    transformations: list[Json] = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {name: True for name in hide_columns},
                "renameByName": dict(rename or {}),
            },
        },
    ]
    return g.Table(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        unit=unit,
        sortBy=[g.TableSortByField(displayName=sort_by, desc=True)] if sort_by else [],
        transformations=transformations,
        links=list(links),
    )
