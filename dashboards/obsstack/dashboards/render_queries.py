"""A panel's queries, run as Grafana runs them, into named frames.

A target is a range query unless it asks for ``instant`` only; its series are named by the
target's ``legendFormat`` (``{{label}}`` from the series' labels, an absent label is empty, as in
Grafana), or by the series' name and labels when there is none. A panel whose data source is not
Prometheus (Loki, Jaeger, ...) raises :class:`SourceProblem` with what the panel says instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from obsstack.dashboards.lint import expand
from obsstack.dashboards.render_data import (
    Prometheus,
    Series,
    SourceProblem,
    TimeRange,
    interval_values,
    query_step,
    reason,
)
from obsstack.dashboards.render_model import Frame

Json = dict[str, Any]
_LEGEND = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
_SOURCE_NAMES = {
    "loki": "Loki",
    "jaeger": "Jaeger",
    "tempo": "Tempo",
    "alertmanager": "Alertmanager",
}
_READY_PATHS = {"loki": "/ready", "jaeger": "/", "tempo": "/ready", "alertmanager": "/-/ready"}


@dataclass
class Sources:
    """Where the data sources are: Prometheus, and the URLs given for the others."""

    prometheus: Prometheus
    scrape_interval: float
    others: Mapping[str, str] = field(default_factory=dict)  # type -> URL
    _notices: dict[str, str] = field(default_factory=dict)

    def notice_for(self, kind: str) -> str:
        """What a panel reading from a data source of type ``kind`` says instead of data."""
        if kind not in self._notices:
            self._notices[kind] = self._probe(kind)
        return self._notices[kind]

    def _probe(self, kind: str) -> str:
        name = _SOURCE_NAMES.get(kind, kind)
        url = self.others.get(kind)
        if not url:
            return f"{name} not reachable: no --{kind} URL given"
        try:
            response = httpx.get(url.rstrip("/") + _READY_PATHS.get(kind, "/"), timeout=3)
        except httpx.HTTPError as exc:
            return f"{name} not reachable at {url}: {reason(exc)}"
        if response.status_code >= 400:
            return f"{name} not reachable at {url}: HTTP {response.status_code}"
        return f"{name} at {url}: only Prometheus panels are drawn here"


def panel_kind(panel: Json, target: Json | None = None) -> str:
    """The data source type a panel (or one of its targets) reads from."""
    for holder in (target, panel):
        source = (holder or {}).get("datasource")
        if isinstance(source, dict) and source.get("type"):
            return str(source["type"])
        if isinstance(source, str) and source:
            return "prometheus" if "datasource" in source or "prom" in source.lower() else source
    return "prometheus"


def panel_frames(
    panel: Json,
    sources: Sources,
    variables: Mapping[str, str],
    window: TimeRange,
    width_px: int,
) -> list[Frame]:
    """Every frame the panel's visible targets return; SourceProblem when one cannot run."""
    bound = {**variables, **interval_values(window, width_px, sources.scrape_interval)}
    step = query_step(window, width_px, sources.scrape_interval)
    frames: list[Frame] = []
    for target in panel.get("targets", []):
        if target.get("hide"):
            continue
        kind = panel_kind(panel, target)
        if kind != "prometheus":
            raise SourceProblem(sources.notice_for(kind))
        expr = expand(str(target.get("expr", "")), bound)
        ref = str(target.get("refId", "A"))
        try:
            if target.get("instant") and not target.get("range"):
                result = sources.prometheus.query(expr, window.end)
            else:
                result = sources.prometheus.query_range(expr, window, step)
        except SourceProblem as problem:
            raise SourceProblem(f"query {ref}: {problem}") from None
        frames += [_frame(ref, target, series, expr) for series in result]
    return frames


def _frame(ref: str, target: Json, series: Series, expr: str) -> Frame:
    return Frame(
        ref,
        legend_name(target.get("legendFormat"), series.labels, expr),
        series.labels,
        series.points,
    )


def legend_name(legend_format: str | None, labels: Mapping[str, str], expr: str) -> str:
    """A series' display name as Grafana's Prometheus data source names it: the legend format
    expanded; with ``__auto`` and one label, its value; else ``name{label="value", ...}``
    (labels sorted), else the expression."""
    if legend_format and legend_format != "__auto":
        return _LEGEND.sub(lambda m: labels.get(m[1], ""), legend_format)
    if legend_format == "__auto" and len(labels) == 1:
        return next(iter(labels.values()))
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest else name or expr
