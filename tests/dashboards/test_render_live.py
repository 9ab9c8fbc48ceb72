"""``obsstack dashboards render`` against the live stack (real Prometheus with the rules, the
probe and KPI exporters, node-exporter, the demo platform under traffic): every committed
dashboard renders, every panel that has data draws it, on its grid position, and its picture
is not blank; the panels that have no data here are the ones the no-empty-panels test
explains, and say "No data"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from obsstack.cli import main
from obsstack.dashboards.render_model import NO_DATA
from tests.dashboards.conftest import committed_dashboards
from tests.dashboards.live import LiveStack
from tests.dashboards.pixels import coloured, grid_box, ink
from tests.dashboards.test_no_empty_panels import ALLOWED_EMPTY
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rendered(live: LiveStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    assert live.prometheus is not None
    out = tmp_path_factory.mktemp("render") / "out"
    code = main(
        [
            "dashboards",
            "render",
            "--root",
            str(ROOT),
            "--prometheus",
            live.prometheus.url,
            "--last",
            "2m",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    records = json.loads((out / "render.json").read_text())
    boards = {r["uid"]: r for r in records}
    return {"out": out, "boards": boards}


def test_every_dashboard_renders_into_a_picture_of_its_size(rendered):
    assert set(rendered["boards"]) == {d["uid"] for d in committed_dashboards()}
    for record in rendered["boards"].values():
        with Image.open(rendered["out"] / record["png"]) as image:
            assert image.size == (record["width_px"], record["height_px"])
    page = (rendered["out"] / "index.html").read_text()
    assert all(f'src="{r["png"]}"' in page for r in rendered["boards"].values())


@pytest.mark.parametrize("uid", [d["uid"] for d in committed_dashboards()])
def test_every_panel_with_data_draws_it(rendered, uid):
    record = rendered["boards"][uid]
    empty = {p["title"]: p["notice"] for p in record["panels"] if not _drawn(p)}
    assert empty == {title: NO_DATA for (board, title) in ALLOWED_EMPTY if board == uid}
    for p in record["panels"]:
        if p["type"] in ("timeseries", "state-timeline") and _drawn(p):
            assert any(s["points"] > 1 for s in p["series"]), p["title"]
            assert all(s["name"].strip() for s in p["series"]), p["title"]  # legends name them
        if p["type"] in ("stat", "gauge", "bargauge") and _drawn(p):
            # "-" is Grafana's "No value" for a series without a number (only NaN samples)
            assert all(v["text"] for v in p["values"]), p["title"]
            assert any(v["text"] != "-" for v in p["values"]), p["title"]


@pytest.mark.parametrize("uid", [d["uid"] for d in committed_dashboards()])
def test_panels_sit_on_their_grid_positions_and_are_not_blank(rendered, uid):
    record = rendered["boards"][uid]
    png: Path = rendered["out"] / record["png"]
    height = record["height_px"]
    dashboard = next(d for d in committed_dashboards() if d["uid"] == uid)
    shown = [p for p in dashboard["panels"] if p["type"] != "row"]
    shown += [
        q
        for r in dashboard["panels"]
        if r["type"] == "row" and not r.get("collapsed")
        for q in r.get("panels", [])
    ]
    assert len(record["panels"]) == len(shown)
    for p in record["panels"]:
        assert p["box"] == pytest.approx(grid_box(p["grid"], height), abs=1 / height)
        assert ink(png, p["box"]) > 0.001, p["title"]  # more than its title and frame
        if _drawn(p):  # coloured data (a series, a bar, a value), or a table's rows of text
            assert coloured(png, p["box"]) >= 20 or ink(png, p["box"]) > 0.0025, p["title"]
    rows = [r["y"] for r in record["rows"]]
    assert rows == sorted(rows)
    for p in record["panels"]:  # each panel below the title of its own row
        row = next(r for r in record["rows"] if r["title"] == p["row"])
        assert p["grid"][1] > row["y"]


def _drawn(panel: dict[str, Any]) -> bool:
    return bool(
        any(s["points"] for s in panel["series"]) or panel["values"] or len(panel["table"]) > 1
    )
