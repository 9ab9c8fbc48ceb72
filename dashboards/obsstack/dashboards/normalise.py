"""The adapter between grafanalib and Grafana: grafanalib's JSON rewritten as Grafana 11 writes it.

grafanalib 0.7.1 emits ``schemaVersion`` 12, nulls, keys Grafana dropped years ago
(``rows``, ``style``, ``span``, ``minSpan``, target ``step``/``intervalFactor`` ...), the string
``"null"`` as a threshold value and the pre-7 gauge and bar gauge layouts. :func:`normalise`
returns the same dashboard with a modern ``schemaVersion``, no nulls except the threshold base
(``{"color": ..., "value": null}``, Grafana's encoding of minus infinity), current panel options,
a ``uid`` derived from the title, ``editable: false``, panel ids, and checked grid positions.
"""

from __future__ import annotations

import json
from typing import Any

from grafanalib._gen import DashboardEncoder

from obsstack.dashboards.conventions import SCHEMA_VERSION, uid_for

Json = dict[str, Any]

_DASHBOARD_KEYS = (
    "title",
    "description",
    "tags",
    "timezone",
    "graphTooltip",
    "time",
    "refresh",
    "links",
)
_PANEL_KEYS = (
    "type",
    "title",
    "description",
    "datasource",
    "gridPos",
    "targets",
    "links",
    "transformations",
    "interval",
    "timeFrom",
)
_FIELD_KEYS = (
    "unit",
    "decimals",
    "min",
    "max",
    "noValue",
    "color",
    "mappings",
    "links",
    "thresholds",
    "custom",
)
_TARGET_KEYS = ("refId", "expr", "legendFormat", "datasource")
_VARIABLE_KEYS = (
    "type",
    "name",
    "label",
    "hide",
    "query",
    "datasource",
    "current",
    "multi",
    "includeAll",
    "allValue",
    "refresh",
    "regex",
    "sort",
)
BUILTIN_ANNOTATION: Json = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


def normalise(dashboard: Any) -> Json:
    """The Grafana JSON of a grafanalib ``Dashboard``."""
    raw = _prune(json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder)))
    out: Json = {key: raw[key] for key in _DASHBOARD_KEYS if key in raw}
    out["uid"] = uid_for(raw["title"])
    out["editable"] = False
    out["schemaVersion"] = SCHEMA_VERSION
    out["timepicker"] = {"refresh_intervals": raw["timepicker"]["refresh_intervals"]}
    out["annotations"] = {"list": [BUILTIN_ANNOTATION, *raw["annotations"].get("list", [])]}
    out["templating"] = {"list": [_variable(v) for v in raw["templating"].get("list", [])]}
    out["links"] = raw.get("links", [])
    out["panels"] = [_panel(p, number) for number, p in enumerate(raw["panels"], start=1)]
    check_grid(out["panels"])
    return out


def _prune(value: Any) -> Any:
    """``value`` without None anywhere (grafanalib writes null for every unset attribute)."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value if v is not None]
    return value


# -- variables ------------------------------------------------------------------------------------
def _variable(raw: Json) -> Json:
    out = {key: raw[key] for key in _VARIABLE_KEYS if key in raw}
    current = raw.get("current", {})
    if "text" in current and "value" in current:
        out["current"] = {"selected": current.get("selected", False)} | {
            "text": current["text"],
            "value": "$__all" if current["value"] == "All" else current["value"],
        }
    else:
        out.pop("current", None)
    if out["type"] == "query":
        out["definition"] = out["query"]
        out["options"] = []
    else:
        out.pop("datasource", None)
    if not out.get("regex"):
        out.pop("regex", None)
    return out


# -- panels ---------------------------------------------------------------------------------------
def _panel(raw: Json, number: int) -> Json:
    if raw["type"] == "row":
        return {
            "type": "row",
            "id": number,
            "title": raw.get("title", ""),
            "collapsed": False,
            "gridPos": raw["gridPos"],
            "panels": [],
        }
    panel = {key: raw[key] for key in _PANEL_KEYS if raw.get(key) not in (None, "", [])}
    panel["id"] = number
    panel["targets"] = [_target(t) for t in raw.get("targets", [])]
    options, field = _OPTIONS[raw["type"]](raw)
    defaults = {key: field[key] for key in _FIELD_KEYS if key in field}
    defaults["thresholds"] = _thresholds(field.get("thresholds", {}))
    defaults.setdefault("color", {"mode": "thresholds"})
    defaults.setdefault("mappings", [])
    if not defaults.get("custom"):
        defaults.pop("custom", None)
    panel["options"] = options
    panel["fieldConfig"] = {
        "defaults": defaults,
        "overrides": raw.get("fieldConfig", {}).get("overrides", []),
    }
    return panel


def _target(raw: Json) -> Json:
    out = {key: raw[key] for key in _TARGET_KEYS if raw.get(key) not in (None, "")}
    out["editorMode"] = "code"
    if raw.get("instant"):
        out["instant"], out["range"] = True, False
    else:
        out["range"] = True
    if raw.get("format", "time_series") != "time_series":
        out["format"] = raw["format"]
    if raw.get("exemplar"):
        out["exemplar"] = True
    return out


def _thresholds(raw: Any) -> Json:
    """``{mode, steps}`` with ``{color, value}`` steps and a null base, from any grafanalib form."""
    steps = raw.get("steps") if isinstance(raw, dict) else raw
    if not isinstance(steps, list) or not steps:
        steps = [{"color": "green"}]
    out = [{"color": steps[0]["color"], "value": None}]
    for step in steps[1:]:
        value = float(step["value"])
        if value <= (out[-1]["value"] if out[-1]["value"] is not None else float("-inf")):
            raise ValueError(f"threshold steps must increase (got {value} after {out[-1]})")
        out.append({"color": step["color"], "value": value})
    mode = raw.get("mode", "absolute") if isinstance(raw, dict) else "absolute"
    return {"mode": mode, "steps": out}


def _legend(raw: Json, *, shown: bool = True) -> Json:
    mode = raw.get("displayMode", "list")
    return {
        "displayMode": "list" if mode == "hidden" else mode,
        "placement": raw.get("placement", "bottom"),
        "showLegend": shown and mode != "hidden",
        "calcs": raw.get("calcs", []),
    }


def _reduce(calcs: list[str], values: bool = False) -> Json:
    return {"calcs": calcs, "fields": "", "values": values}


def _timeseries(raw: Json) -> tuple[Json, Json]:
    options = raw["options"]
    field = dict(raw["fieldConfig"]["defaults"])
    custom = dict(field.get("custom", {}))
    custom["stacking"] = custom.get("stacking") or {"mode": "none", "group": "A"}
    if custom.get("scaleDistribution", {}).get("type") == "linear":
        custom["scaleDistribution"] = {"type": "linear"}
    custom.setdefault("axisBorderShow", False)
    field["custom"] = custom
    tooltip = {"mode": options["tooltip"]["mode"], "sort": options["tooltip"].get("sort", "none")}
    return {"legend": _legend(options["legend"]), "tooltip": tooltip}, field


def _stat(raw: Json) -> tuple[Json, Json]:
    options = raw["options"]
    field = dict(raw["fieldConfig"]["defaults"])
    if field.get("noValue") == "none":  # grafanalib's default would print the word "none"
        field.pop("noValue")
    field.pop("custom", None)
    reduce = options["reduceOptions"]
    return {
        "reduceOptions": _reduce(reduce["calcs"], reduce.get("values", False)),
        "orientation": options.get("orientation", "auto"),
        "textMode": options.get("textMode", "auto"),
        "colorMode": options.get("colorMode", "value"),
        "graphMode": options.get("graphMode", "none"),
        "justifyMode": options.get("justifyMode", "auto"),
        "wideLayout": True,
        "showPercentChange": False,
        "percentChangeColorMode": "standard",
    }, field


def _gauge(raw: Json) -> tuple[Json, Json]:
    # grafanalib writes the pre-Grafana-7 layout: calcs and limits inside fieldConfig.defaults,
    # threshold options beside it.
    legacy = raw["fieldConfig"]["defaults"]
    field = {k: legacy[k] for k in ("unit", "decimals", "min", "max", "links") if k in legacy}
    field["mappings"] = legacy.get("mappings", [])
    field["thresholds"] = legacy.get("thresholds", {})
    return {
        "reduceOptions": _reduce(legacy.get("calcs", ["lastNotNull"]), legacy.get("values", False)),
        "orientation": "auto",
        "showThresholdLabels": raw["fieldConfig"].get("showThresholdLabels", False),
        "showThresholdMarkers": raw["fieldConfig"].get("showThresholdMarkers", True),
        "sizing": "auto",
        "minVizWidth": 75,
        "minVizHeight": 75,
    }, field


def _bargauge(raw: Json) -> tuple[Json, Json]:
    legacy = raw["options"]["fieldOptions"]
    defaults = legacy.get("defaults", {})
    field = {k: defaults[k] for k in ("unit", "decimals", "min", "max", "links") if k in defaults}
    if not field.get("links"):
        field.pop("links", None)
    field["mappings"] = legacy.get("mappings", [])
    field["thresholds"] = legacy.get("thresholds", [])
    return {
        "reduceOptions": _reduce(legacy.get("calcs", ["lastNotNull"]), legacy.get("values", False)),
        "orientation": raw["options"].get("orientation", "horizontal"),
        "displayMode": raw["options"].get("displayMode", "gradient"),
        "valueMode": "color",
        "namePlacement": "auto",
        "showUnfilled": True,
        "sizing": "auto",
        "minVizWidth": 8,
        "minVizHeight": 16,
        "maxVizHeight": 300,
        "legend": _legend({}, shown=False),
    }, field


def _state_timeline(raw: Json) -> tuple[Json, Json]:
    options = raw["options"]
    return {
        "mergeValues": options.get("mergeValues", True),
        "showValue": options.get("showValue", "auto"),
        "alignValue": options.get("alignValue", "left"),
        "rowHeight": options.get("rowHeight", 0.9),
        "legend": _legend(options.get("legend", {})),
        "tooltip": {"mode": options.get("tooltip", {}).get("mode", "single"), "sort": "none"},
    }, dict(raw["fieldConfig"]["defaults"])


def _table(raw: Json) -> tuple[Json, Json]:
    field = dict(raw["fieldConfig"]["defaults"])
    legacy = field.get("custom", {})
    field["custom"] = {
        "align": legacy.get("align", "auto"),
        "filterable": legacy.get("filterable", False),
        "inspect": False,
    }
    field["mappings"] = raw.get("mappings", [])
    options = raw["options"]
    out = {"showHeader": options.get("showHeader", True), "frameIndex": 0, "cellHeight": "sm"}
    if options.get("sortBy"):
        out["sortBy"] = options["sortBy"]
    return out, field


_OPTIONS = {
    "timeseries": _timeseries,
    "stat": _stat,
    "gauge": _gauge,
    "bargauge": _bargauge,
    "state-timeline": _state_timeline,
    "table": _table,
}


# -- grid -----------------------------------------------------------------------------------------
def check_grid(panels: list[Json]) -> None:
    """Raise ValueError when a panel leaves the 24-column grid or overlaps another panel."""
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        if pos["x"] < 0 or pos["w"] < 1 or pos["x"] + pos["w"] > 24 or pos["h"] < 1:
            raise ValueError(f"panel {panel.get('title')!r} is outside the grid: {pos}")
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                if (x, y) in taken:
                    raise ValueError(
                        f"panels {taken[(x, y)]!r} and {panel.get('title')!r} overlap at {x},{y}"
                    )
                taken[(x, y)] = panel.get("title", "")
