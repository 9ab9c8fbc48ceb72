"""The SLO dashboard: one section per SLO of the spec, built on the alerts package's model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from obsstack.alerts import load_default_spec, records
from obsstack.cli import main
from obsstack.core.artifacts import GenerateContext
from obsstack.dashboards.generate import OUTPUT_DIR
from obsstack.dashboards.lint import lint, metric_allow_list
from tests.dashboards.schemas import dashboard_errors
from tests.support.paths import ROOT as REPO_ROOT

CUSTOM_SPEC = """\
version: obsstack/v1
services:
  - name: checkout
    depends_on: [postgres, redis]
slos:
  - service: checkout
    name: availability
    description: Checkouts without a server error
    objective: 99.5
    period: 7d
    runbook_url: https://runbooks.example/checkout
    sli:
      kind: availability
      errors: http_server_request_duration_seconds_count{job="shop",http_response_status_code="500"}
      total: http_server_request_duration_seconds_count{job="shop"}
"""


def sections(board: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Row title -> the panels below it."""
    out: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for panel in board["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            out[current] = []
        else:
            out[current].append(panel)
    return out


def slo_board(dashboards: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in dashboards if d["uid"] == "obsstack-slos")


def exprs(panel: dict[str, Any]) -> list[str]:
    return [t["expr"] for t in panel["targets"]]


def test_one_section_per_slo_of_the_shipped_spec(dashboards):
    spec = load_default_spec()
    rows = list(sections(slo_board(dashboards)))
    assert rows[0].startswith("Overview")
    assert [r.split(":")[0] for r in rows[1:]] == [f"{s.service} / {s.name}" for s in spec.slos]


def test_each_section_reads_the_slos_recording_rules(dashboards):
    spec = load_default_spec()
    by_row = list(sections(slo_board(dashboards)).values())[1:]
    for slo, panels in zip(spec.slos, by_row, strict=True):
        titles = [p["title"] for p in panels]
        assert titles == [
            f"SLI over {slo.period_name} (objective {slo.objective:g} %)",
            f"Error budget remaining ({slo.period_name})",
            "Burn rate per alert window",
            "SLI over 1h windows",
            "Alerts firing",
        ]
        sli, budget, burn, _over_time, alerts = panels
        assert exprs(sli) == [f"1 - {records.query(records.ERROR_RATIO_PERIOD, slo)}"]
        assert exprs(budget) == [records.query(records.ERROR_BUDGET_REMAINING, slo)]
        long_windows = sorted({w.long for t in slo.tiers for w in t.windows})
        assert len(exprs(burn)) == len(long_windows)
        assert exprs(burn)[0] == records.burn_rate_query(slo, "1h")
        assert records.selector(slo).strip("{}") in exprs(alerts)[0]


def test_burn_rate_thresholds_are_the_tiers_factors(dashboards):
    api = next(r for title, r in sections(slo_board(dashboards)).items() if title.startswith("api"))
    burn = api[2]
    custom = burn["fieldConfig"]["defaults"]["custom"]
    assert custom["thresholdsStyle"] == {"mode": "dashed"}
    assert custom["scaleDistribution"] == {"log": 10, "type": "log"}
    assert burn["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "green", "value": None},
        {"color": "orange", "value": 1.0},
        {"color": "orange", "value": 3.0},
        {"color": "red", "value": 6.0},
        {"color": "red", "value": 14.4},
    ]


def test_alert_links_open_this_dashboard_with_declared_variables(dashboards):
    board = slo_board(dashboards)
    declared = {v["name"] for v in board["templating"]["list"]}
    for slo in load_default_spec().slos:
        url = urlsplit(slo.dashboard_url)
        assert url.path.startswith(f"/d/{board['uid']}/")
        variables = {k.removeprefix("var-") for k in parse_qs(url.query)}
        assert variables <= declared, slo.dashboard_url


def test_runbook_links_point_at_each_alerts_runbook_section(dashboards):
    spec = load_default_spec()
    slo = spec.slos[0]
    sli_panel = list(sections(slo_board(dashboards)).values())[1][0]
    urls = {item["title"]: item["url"] for item in sli_panel["links"]}
    for tier in slo.tiers:
        assert urls[f"Runbook: {tier.alertname}"] == slo.runbook_for(tier.alertname)
    assert urls["Dependencies: postgres, redis"].startswith(
        "/d/obsstack-dependencies/dependencies?var-dependency=postgres&var-dependency=redis&"
    )


def test_another_spec_gives_its_own_sections_thresholds_and_runbook(tmp_path: Path):
    spec = tmp_path / "slos.yaml"
    spec.write_text(CUSTOM_SPEC)
    assert main(["generate", "--slos", str(spec), "--output-dir", str(tmp_path)]) == 0
    board = json.loads((tmp_path / OUTPUT_DIR / "slos.json").read_text())
    rows = sections(board)
    assert list(rows)[1:] == [
        "checkout / availability: 99.5 % over 7d (Checkouts without a server error)"
    ]
    sli, budget, burn, _, _ = list(rows.values())[1]
    assert budget["title"] == "Error budget remaining (7d)"
    factors = [s["value"] for s in burn["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]]
    assert factors == [0.233333333333, 0.7, 1.4, 3.36]  # 30d factors scaled to 7d
    assert sli["links"][0]["url"] == "https://runbooks.example/checkout"
    assert sli["fieldConfig"]["defaults"]["thresholds"]["steps"][1] == {
        "color": "green",
        "value": 0.995,
    }
    context = GenerateContext(REPO_ROOT, slo_spec=spec)
    assert lint(board, metric_allow_list(context)) == []
    assert dashboard_errors(board) == []
