"""Every dashboard validates against Grafana's dashboard JSON Schema, every panel's options and
custom field config against its panel schema, every target against the Prometheus query
schema, and every unit is one Grafana knows."""

from __future__ import annotations

import json

from grafanalib._gen import DashboardEncoder

from obsstack.dashboards import service_overview
from tests.dashboards.schemas import dashboard_errors, grafana_units


def test_every_committed_dashboard_is_valid_for_grafanas_schemas(dashboards):
    errors = [error for dashboard in dashboards for error in dashboard_errors(dashboard)]
    assert errors == []


def test_every_panel_type_used_has_a_panel_schema(dashboards):
    types = {p["type"] for d in dashboards for p in d["panels"]}
    assert types <= {"row", "timeseries", "stat", "gauge", "bargauge", "state-timeline", "table"}


def test_raw_grafanalib_output_is_rejected_so_the_validation_has_teeth():
    raw = json.loads(json.dumps(service_overview.build().to_json_data(), cls=DashboardEncoder))
    errors = dashboard_errors(raw)
    joined = "\n".join(errors)
    assert "Additional properties are not allowed" in joined  # rows, style, sharedCrosshair ...
    assert "'null' is not valid" in joined or "None is not of type" in joined


def test_units_come_from_grafanas_unit_list():
    units = grafana_units()
    assert {"s", "reqps", "percentunit", "bytes", "cpm", "short", "none"} <= units
    assert "seconds" not in units
