"""Golden files: the committed dashboards are exactly what the code generates."""

from __future__ import annotations

import json

import attr

from obsstack.cli import main
from obsstack.core.artifacts import GenerateContext
from obsstack.dashboards import generate as dashboards_generate
from obsstack.dashboards import service_overview
from obsstack.dashboards.generate import OUTPUT_DIR
from obsstack.dashboards.panels import Query, stat
from tests.support.paths import ROOT as REPO_ROOT


def test_regeneration_is_byte_identical_to_the_committed_files(tmp_path, capsys):
    assert main(["generate", "--output-dir", str(tmp_path)]) == 0
    committed = sorted(p.name for p in (REPO_ROOT / OUTPUT_DIR).glob("*.json"))
    generated = sorted(p.name for p in (tmp_path / OUTPUT_DIR).glob("*.json"))
    assert generated == committed
    for name in committed:
        fresh = (tmp_path / OUTPUT_DIR / name).read_bytes()
        assert fresh == (REPO_ROOT / OUTPUT_DIR / name).read_bytes(), name
        assert fresh.endswith(b"}\n")


def test_output_is_sorted_and_deterministic(tmp_path):
    first = dashboards_generate.generate(GenerateContext(REPO_ROOT))
    second = dashboards_generate.generate(GenerateContext(REPO_ROOT))
    assert first == second
    for artifact in first:
        document = json.loads(artifact.content)
        assert artifact.content == json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_check_reports_a_hand_edited_dashboard(tmp_path, capsys):
    assert main(["generate", "--output-dir", str(tmp_path)]) == 0
    edited = tmp_path / OUTPUT_DIR / "service-overview.json"
    edited.write_text(edited.read_text().replace('"editable": false', '"editable": true'))
    capsys.readouterr()
    assert main(["generate", "--check", "--output-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{OUTPUT_DIR}/service-overview.json: differs" in out


def test_check_reports_a_stray_file_in_the_generated_folder(tmp_path, capsys):
    assert main(["generate", "--output-dir", str(tmp_path)]) == 0
    (tmp_path / OUTPUT_DIR / "old-board.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["generate", "--check", "--output-dir", str(tmp_path)]) == 1
    assert f"{OUTPUT_DIR}/old-board.json: not generated" in capsys.readouterr().out


def test_a_dashboard_failing_lint_is_not_written(tmp_path, capsys, monkeypatch):
    original = service_overview.build

    def broken() -> object:
        board = original()
        typo = stat("Typo", "A typo.", "none", [Query("dependency_upp")])
        board.panels[1] = attr.evolve(typo, gridPos=board.panels[1].gridPos)
        return board

    monkeypatch.setattr(service_overview, "build", broken)
    assert main(["generate", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "obsstack generate: dashboards/generated/service-overview.json: panel 2 'Typo' target A: "
        "unknown metric 'dependency_upp': not in obsstack.core.naming nor a recording rule\n"
    )
    assert not (tmp_path / OUTPUT_DIR).exists()
