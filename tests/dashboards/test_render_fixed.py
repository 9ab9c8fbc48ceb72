"""``obsstack dashboards render`` over one fixed hour of data: what each panel shows, compared
as the render's structured record (render.json), not pixel by pixel.

A real Prometheus (Debian 2.42) serves an hour backfilled with promtool (see
fixed_prometheus.py); the dashboard is tests/data/dashboards/render-fixture.json, one panel of
each kind the generated dashboards use plus the notices (no data, a query error, an unreachable
Loki) and a collapsed row.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from obsstack.cli import main
from obsstack.dashboards.render import HEADER_PX, UNIT_PX, WIDTH_PX
from tests.dashboards.fixed_prometheus import FIXED_RANGE
from tests.dashboards.pixels import grid_box, ink
from tests.support.paths import ROOT
from tests.support.processes import OBSSTACK, free_port
from tests.support.servers import PrivatePrometheus

pytestmark = pytest.mark.e2e

FIXTURE = ROOT / "tests" / "data" / "dashboards" / "render-fixture.json"
GREEN, RED, ORANGE, PURPLE = "#73BF69", "#F2495C", "#FF9830", "#B877D9"


def render(url: str, boards: Path, out: Path, loki: str) -> int:
    return main(
        [
            "dashboards",
            "render",
            "--prometheus",
            url,
            *FIXED_RANGE,
            "--out",
            str(out),
            "--dashboards-dir",
            str(boards),
            "--loki",
            loki,
        ]
    )


@pytest.fixture(scope="module")
def rendered(
    fixed_prometheus: PrivatePrometheus, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("fixed")
    boards = workdir / "boards"
    boards.mkdir()
    shutil.copy(FIXTURE, boards / "fixture.json")
    loki = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert render(fixed_prometheus.url, boards, workdir / "one", loki) == 0
    assert render(fixed_prometheus.url, boards, workdir / "two", loki) == 0
    record = json.loads((workdir / "one" / "render.json").read_text())[0]
    return {"record": record, "one": workdir / "one", "two": workdir / "two", "loki": loki}


def panel(rendered: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in rendered["record"]["panels"] if p["title"] == title)


def described(p: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer reads off a panel."""
    return {
        "series": [(s["name"], s["points"], s["colour"]) for s in p["series"]],
        "legend": p["legend"],
        "thresholds": [(t["value"], t["colour"]) for t in p["thresholds"]],
        "values": [(v["name"], v["text"], v["colour"]) for v in p["values"]],
        "table": p["table"],
        "notice": p["notice"],
    }


NOTHING = {"series": [], "legend": [], "thresholds": [], "values": [], "table": [], "notice": ""}


def test_time_series_draws_each_route_with_its_legend_overrides_and_dashed_threshold(rendered):
    # rate over $__rate_interval (1m at a 15 s scrape): the first sample has no rate yet.
    assert described(panel(rendered, "Requests per route")) == {
        **NOTHING,
        # /b is renamed and recoloured by a byName override
        "series": [("/a", 240, GREEN), ("route b", 240, PURPLE)],
        "legend": ["/a", "route b"],
        "thresholds": [(None, GREEN), (12.0, RED)],
    }


def test_the_soft_maximum_widens_the_axis_to_show_the_threshold(rendered):
    low, high = panel(rendered, "Requests per route")["axis"]
    assert low == 0 and 15 <= high < 16  # data up to 10 req/s, axisSoftMax 15, threshold 12


def test_state_timeline_colours_each_state_by_its_value_mapping(rendered):
    assert described(panel(rendered, "Dependency state")) == {
        **NOTHING,
        "series": [("cache", 241, RED), ("db", 241, GREEN)],  # cache ends down
        "legend": ["Down", "Up"],
        "thresholds": [(None, GREEN)],
    }


def test_stat_gauge_and_bar_gauge_show_values_in_units_and_threshold_colours(rendered):
    assert described(panel(rendered, "Dependencies"))["values"] == [
        ("cache", "Down", RED),
        ("db", "Up", GREEN),
    ]
    assert described(panel(rendered, "Ratio"))["values"] == [("demo_ratio", "95%", ORANGE)]
    assert described(panel(rendered, "Ratio"))["thresholds"] == [
        (None, RED),
        (0.9, ORANGE),
        (0.99, GREEN),
    ]
    assert described(panel(rendered, "Latency per route"))["values"] == [
        ("/a", "50 ms", GREEN),
        ("/b", "200 ms", RED),
        ("/c", "n/a", GREEN),  # only NaN samples: the panel's noValue (Grafana's default "-")
    ]
    assert described(panel(rendered, "Payload"))["values"] == [("demo_bytes", "1.50 KiB", GREEN)]


def test_table_applies_organize_and_sort(rendered):
    assert panel(rendered, "Dependencies table")["table"] == [
        ["dependency", "up"],
        ["cache", "0"],
        ["db", "1"],
    ]


def test_panels_without_data_say_why(rendered):
    assert panel(rendered, "Nothing here")["notice"] == "No data"
    assert panel(rendered, "Broken query")["notice"] == (
        "query A: Prometheus error: 1:12: parse error: unclosed left parenthesis"
    )
    assert panel(rendered, "Log lines")["notice"] == (
        f"Loki not reachable at {rendered['loki']}: [Errno 111] Connection refused"
    )
    for title in ("Nothing here", "Broken query", "Log lines"):
        assert not panel(rendered, title)["series"]


def test_the_header_shows_variables_as_grafana_binds_them(rendered):
    # route: "All" without an allValue, so the queries match the regex of every value
    assert rendered["record"]["variables"] == {"route": "All"}
    assert [s["name"] for s in panel(rendered, "Requests per route")["series"]] == ["/a", "route b"]


def test_rows_in_order_and_a_collapsed_row_hides_its_panels(rendered):
    record = rendered["record"]
    assert [(r["title"], r["collapsed"], r["hidden_panels"]) for r in record["rows"]] == [
        ("Traffic", False, 0),
        ("Values", False, 0),
        ("Tables and notices", False, 0),
        ("Logs", False, 0),
        ("Hidden", True, 1),
    ]
    assert "Inside a collapsed row" not in [p["title"] for p in record["panels"]]
    tops = [r["box"][3] for r in record["rows"]]
    assert tops == sorted(tops, reverse=True)  # drawn top to bottom


def test_each_panel_sits_at_its_grid_position(rendered):
    record = rendered["record"]
    height = record["height_px"]
    assert (record["width_px"], height) == (
        WIDTH_PX,
        HEADER_PX + 29 * UNIT_PX,
    )  # down to the collapsed row
    with Image.open(rendered["one"] / record["png"]) as image:
        assert image.size == (WIDTH_PX, height)
    for p in record["panels"]:
        assert p["box"] == pytest.approx(grid_box(p["grid"], height), abs=1 / height), p["title"]


def test_every_panel_has_ink_in_its_rectangle(rendered):
    png = rendered["one"] / rendered["record"]["png"]
    for p in rendered["record"]["panels"]:
        if p["notice"]:  # a line of text
            assert 0.001 < ink(png, p["box"]) < 0.02, p["title"]
        else:
            assert ink(png, p["box"]) > 0.004, p["title"]


def test_same_data_gives_the_same_bytes_without_a_software_stamp(rendered):
    one = (rendered["one"] / "fixture.png").read_bytes()
    assert one == (rendered["two"] / "fixture.png").read_bytes()
    with Image.open(rendered["one"] / "fixture.png") as image:
        assert "Software" not in image.info


def test_a_users_matplotlibrc_changes_nothing(rendered, fixed_prometheus, tmp_path):
    rc = tmp_path / "matplotlibrc"
    rc.write_text("font.family: serif\nlines.linewidth: 5\naxes.facecolor: white\n")
    boards = tmp_path / "boards"
    boards.mkdir()
    shutil.copy(FIXTURE, boards / "fixture.json")
    argv = [
        *OBSSTACK,
        "dashboards",
        "render",
        "--prometheus",
        fixed_prometheus.url,
        *FIXED_RANGE,
        "--out",
        str(tmp_path / "out"),
        "--dashboards-dir",
        str(boards),
        "--loki",
        rendered["loki"],
    ]
    done = subprocess.run(argv, env={**os.environ, "MATPLOTLIBRC": str(rc)}, capture_output=True)
    assert done.returncode == 0, done.stderr
    png = (tmp_path / "out" / "fixture.png").read_bytes()
    assert png == (rendered["one"] / "fixture.png").read_bytes()


def test_index_lists_the_dashboard_with_its_time_range_and_picture(rendered):
    page = (rendered["one"] / "index.html").read_text()
    assert '<a href="fixture.png">fixture.png</a>' in page
    assert "Render fixture" in page and "render-fixture" in page
    assert "2026-01-01 00:00:00 to 01:00:00 UTC" in page
    assert "<td>7/10</td>" in page  # panels with data, of panels shown
