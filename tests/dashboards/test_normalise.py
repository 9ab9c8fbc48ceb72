"""The adapter turns grafanalib's JSON into what a current Grafana writes."""

from __future__ import annotations

from typing import Any

import pytest
from grafanalib import core as g

from obsstack.dashboards.conventions import SCHEMA_VERSION, uid_for
from obsstack.dashboards.layout import Cell, Section, dashboard, place
from obsstack.dashboards.lint import panels
from obsstack.dashboards.normalise import check_grid, normalise
from obsstack.dashboards.panels import Query, bargauge, gauge, stat, steps, timeseries

LEGACY_DASHBOARD_KEYS = {"rows", "style", "sharedCrosshair", "hideControls", "__inputs", "gnetId"}
LEGACY_PANEL_KEYS = {"span", "minSpan", "height", "error", "editable", "cacheTimeout",
                     "maxDataPoints", "columns", "fontSize"}  # fmt: skip
LEGACY_TARGET_KEYS = {"step", "intervalFactor", "query", "target", "metric"}
LEGACY_VARIABLE_KEYS = {"useTags", "tagsQuery", "tagValuesQuery", "auto_count", "auto_min"}


def walk(value: Any, path: str = ""):
    """Every (path, key, value) of a JSON document."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield path, key, child
            yield from walk(child, f"{path}/{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, f"{path}/{index}")


def one_panel(panel: Any) -> dict[str, Any]:
    return normalise(dashboard("Test board", "A test.", [Section("Row", [Cell(panel, 12)])]))


def test_committed_dashboards_are_modern_and_not_editable(dashboards):
    for d in dashboards:
        assert d["schemaVersion"] >= 39
        assert d["editable"] is False
        assert d["uid"] == uid_for(d["title"])


def test_no_nulls_except_the_threshold_base(dashboards):
    for d in dashboards:
        for path, key, value in walk(d):
            if value is None:
                assert path.endswith("/thresholds/steps/0") and key == "value", (d["uid"], path)
            assert value != "null", (d["uid"], path, key)


def test_no_legacy_keys(dashboards):
    for d in dashboards:
        assert not LEGACY_DASHBOARD_KEYS & set(d)
        assert set(d["timepicker"]) == {"refresh_intervals"}
        for variable in d["templating"]["list"]:
            assert not LEGACY_VARIABLE_KEYS & set(variable), variable["name"]
        for panel in panels(d):
            assert not LEGACY_PANEL_KEYS & set(panel), panel["title"]
            assert "fieldOptions" not in panel.get("options", {})
            for target in panel["targets"]:
                assert not LEGACY_TARGET_KEYS & set(target), panel["title"]


def test_thresholds_are_color_value_pairs_with_a_null_base(dashboards):
    for d in dashboards:
        for panel in panels(d):
            steps_ = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert all(set(step) == {"color", "value"} for step in steps_)
            assert steps_[0]["value"] is None
            values = [s["value"] for s in steps_[1:]]
            assert values == sorted(values)


def test_panel_ids_are_unique_and_the_grid_has_no_overlap(dashboards):
    for d in dashboards:
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
        check_grid(d["panels"])  # raises on overlap


def test_uids_are_the_ones_other_files_link_to(dashboards):
    assert sorted(d["uid"] for d in dashboards) == sorted(
        [
            "obsstack-business-kpis",
            "obsstack-dependencies",
            "obsstack-service-overview",
            "obsstack-slos",
            "obsstack-stack-health",
        ]
    )


def test_uid_is_derived_from_the_title():
    assert uid_for("Stack health") == "obsstack-stack-health"
    assert uid_for("Business KPIs") == "obsstack-business-kpis"
    with pytest.raises(ValueError, match="longer than 40"):
        uid_for("a title far too long to fit in a Grafana uid at all")


def test_gauge_gets_the_modern_layout_not_grafanalibs_legacy_one():
    out = one_panel(
        gauge(
            "Budget", "Left.", "percentunit", [Query("up")],
            minimum=0, maximum=1, thresholds=steps("red", (0.25, "green")),
        )
    )["panels"][1]  # fmt: skip
    assert out["options"]["reduceOptions"] == {
        "calcs": ["lastNotNull"],
        "fields": "",
        "values": False,
    }
    assert out["options"]["showThresholdMarkers"] is True
    assert out["fieldConfig"]["defaults"]["min"] == 0
    assert out["fieldConfig"]["defaults"]["max"] == 1
    assert out["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "red", "value": None},
        {"color": "green", "value": 0.25},
    ]
    assert "calcs" not in out["fieldConfig"]["defaults"]


def test_bargauge_options_move_out_of_field_options():
    out = one_panel(
        bargauge("Bars", "Some.", "s", [Query("up", instant=True)], thresholds=steps("blue"))
    )["panels"][1]
    assert "fieldOptions" not in out["options"]
    assert out["options"]["displayMode"] == "gradient"
    assert out["options"]["valueMode"] == "color"
    assert out["fieldConfig"]["defaults"]["unit"] == "s"
    assert out["targets"][0]["instant"] is True


def test_timeseries_takes_fractional_limits_that_grafanalib_refuses():
    out = one_panel(
        timeseries("Ratio", "A ratio.", "percentunit", [Query("up")], minimum=0.99, maximum=1)
    )["panels"][1]
    assert out["fieldConfig"]["defaults"]["min"] == 0.99
    assert out["options"]["legend"]["showLegend"] is True


def test_stat_does_not_print_the_word_none_without_data():
    out = one_panel(stat("Up", "Is it up.", "none", [Query("up")]))["panels"][1]
    assert "noValue" not in out["fieldConfig"]["defaults"]
    assert out["options"]["wideLayout"] is True


def test_targets_read_from_the_datasource_variable_and_keep_exemplars():
    out = one_panel(timeseries("L", "L.", "s", [Query("up", "x", exemplar=True)]))["panels"][1]
    assert out["targets"] == [
        {
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "editorMode": "code",
            "exemplar": True,
            "expr": "up",
            "legendFormat": "x",
            "range": True,
            "refId": "A",
        }
    ]


def test_variables_drop_legacy_keys_and_all_means_grafanas_all():
    board = normalise(
        dashboard(
            "Vars",
            "Variables.",
            [Section("Row", [Cell(stat("Up", "Up.", "none", [Query('up{job=~"$job"}')]))])],
            variables=[
                g.Template(name="job", query="label_values(up, job)", includeAll=True,
                           default="All", allValue=".*")
            ],
        )
    )  # fmt: skip
    datasource, job = board["templating"]["list"]
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    assert job["current"]["value"] == "$__all"
    assert "useTags" not in job and "auto" not in job and job["definition"] == job["query"]
    assert SCHEMA_VERSION >= 39


def test_panels_are_laid_out_left_to_right_and_wrap():
    placed = place([Section("A", [Cell(g.Text(), 16), Cell(g.Text(), 16), Cell(g.Text(), 8)])])
    positions = [(p.gridPos.x, p.gridPos.y, p.gridPos.w) for p in placed]
    assert positions == [(0, 0, 24), (0, 1, 16), (0, 9, 16), (16, 9, 8)]


def test_overlapping_panels_are_refused():
    panels_ = [
        {"title": "a", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8}},
        {"title": "b", "gridPos": {"x": 6, "y": 4, "w": 12, "h": 8}},
    ]
    with pytest.raises(ValueError, match="panels 'a' and 'b' overlap at 6,4"):
        check_grid(panels_)


def test_a_panel_wider_than_the_grid_is_refused():
    with pytest.raises(ValueError, match="outside the grid"):
        check_grid([{"title": "a", "gridPos": {"x": 20, "y": 0, "w": 8, "h": 8}}])


def test_thresholds_must_increase():
    with pytest.raises(ValueError, match="threshold steps must increase"):
        one_panel(
            stat(
                "S", "S.", "none", [Query("up")], thresholds=steps("green", (5, "red"), (1, "blue"))
            )
        )
