"""Grafana's JSON Schemas (tests/data/schemas/grafana, see its README) as validators."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parent.parent / "data" / "schemas" / "grafana"
# Panel type -> schema file: Grafana's plugin ids are not always the file names.
PANEL_SCHEMA_FILES = {
    "timeseries": "timeseries",
    "stat": "stat",
    "gauge": "gauge",
    "bargauge": "bargauge",
    "state-timeline": "statetimeline",
    "table": "table",
}


@functools.cache
def _document(name: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{name}.jsonschema.json").read_text()))


def _validator(name: str, definition: str | None = None) -> jsonschema.Draft7Validator:
    document = _document(name)
    schema = document if definition is None else {**document, "$ref": f"#/definitions/{definition}"}
    return jsonschema.Draft7Validator(schema)


def _messages(validator: jsonschema.Draft7Validator, instance: Any, where: str) -> Iterator[str]:
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        path = "/".join(map(str, error.absolute_path))
        yield f"{where}/{path}: {error.message}"


# Custom units Grafana documents for FieldConfig.unit: "suffix:<text>", "prefix:<text>" ...
CUSTOM_UNIT_PREFIXES = ("suffix:", "prefix:", "si:", "count:", "currency:", "time:")


def grafana_units() -> set[str]:
    """Every unit id Grafana knows."""
    definitions = _document("units")["definitions"].values()
    return {d["const"] for d in definitions if "const" in d}


def known_unit(unit: str) -> bool:
    return unit in grafana_units() or (unit.startswith(CUSTOM_UNIT_PREFIXES) and unit[-1] != ":")


def dashboard_errors(dashboard: dict[str, Any]) -> list[str]:
    """Every schema violation: the dashboard, each panel's options, custom field config and
    targets, and unknown units."""
    errors = list(_messages(_validator("dashboard"), dashboard, dashboard.get("uid", "?")))
    for panel in dashboard.get("panels", []):
        if panel["type"] == "row":
            continue
        where = f"{dashboard.get('uid')}/panel {panel.get('id')} {panel.get('title')!r}"
        schema = PANEL_SCHEMA_FILES.get(panel["type"])
        if schema is None:
            errors.append(f"{where}: no schema for panel type {panel['type']!r}")
            continue
        errors += _messages(
            _validator(schema, "Options"), panel.get("options", {}), where + "/options"
        )
        if "FieldConfig" in _document(schema)["definitions"]:
            custom = panel["fieldConfig"]["defaults"].get("custom", {})
            errors += _messages(_validator(schema, "FieldConfig"), custom, where + "/custom")
        for target in panel.get("targets", []):
            errors += _messages(_validator("prometheus"), target, f"{where}/targets")
        unit = panel["fieldConfig"]["defaults"].get("unit")
        if unit is not None and not known_unit(unit):
            errors.append(f"{where}: unknown unit {unit!r}")
        for override in panel["fieldConfig"].get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] == "unit" and not known_unit(prop["value"]):
                    errors.append(f"{where}: unknown unit {prop['value']!r} in an override")
    return errors
