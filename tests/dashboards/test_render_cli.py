"""``obsstack dashboards render`` on bad input: one line naming the flag or file, exit 2, and
nothing written (a run that fails part-way leaves the previous output as it was)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from obsstack.cli import main
from obsstack.dashboards.render import render_dashboard
from obsstack.dashboards.render_command import write_output
from obsstack.dashboards.render_data import Prometheus, TimeRange
from obsstack.dashboards.render_queries import Sources
from tests.support.paths import ROOT
from tests.support.processes import free_port

FIXTURE = ROOT / "tests" / "data" / "dashboards" / "render-fixture.json"


@pytest.fixture()
def boards(tmp_path: Path) -> Path:
    directory = tmp_path / "boards"
    directory.mkdir()
    shutil.copy(FIXTURE, directory / "fixture.json")
    return directory


def run(capsys, boards: Path, out: Path, *flags: str, url: str | None = None) -> tuple[int, str]:
    url = url or f"http://127.0.0.1:{free_port()}"
    argv = ["dashboards", "render", "--dashboards-dir", str(boards), "--out", str(out)]
    code = main([*argv, "--prometheus", url, *flags])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--last", "1x"], "--last: not a duration like 1h or 30m (got '1x')"),
        (["--last", "0s"], "--last: must be longer than 0s"),
        (["--last", "1h", "--from", "now-1h"], "--last: cannot be combined with --from/--to"),
        (["--from", "now-1h", "--to", "now-2h"], "--from: must be before --to (now-1h is not)"),
        (["--to", "now"], "--to: needs --from"),
        (
            ["--from", "yesterday"],
            "--from: not a time: use now, now-1h, seconds since 1970 or ISO 8601 (got 'yesterday')",
        ),
        (["--dashboard", "nope"], "--dashboard: unknown uid 'nope' (known: render-fixture)"),
    ],
)
def test_bad_flags_name_the_flag_and_write_nothing(capsys, tmp_path, boards, flags, message):
    code, err = run(capsys, boards, tmp_path / "out", *flags)
    assert (code, err) == (2, f"obsstack dashboards: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boards"]


def test_unreachable_prometheus_is_named_at_start(capsys, tmp_path, boards):
    url = f"http://127.0.0.1:{free_port()}"
    code, err = run(capsys, boards, tmp_path / "out", url=url)
    assert code == 2
    assert err == (
        f"obsstack dashboards: --prometheus: Prometheus not reachable at {url}: "
        "[Errno 111] Connection refused\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boards"]


def test_a_url_that_is_not_http_is_refused(capsys, tmp_path, boards):
    code, err = run(capsys, boards, tmp_path / "out", url="ftp://prometheus")
    expected = "--prometheus: must be an http:// or https:// URL (got 'ftp://prometheus')"
    assert (code, err) == (2, f"obsstack dashboards: {expected}\n")


def test_a_directory_without_dashboards_is_named(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run(capsys, empty, tmp_path / "out")
    assert (code, err) == (2, f"obsstack dashboards: {empty}: no dashboard JSON files here\n")


def test_a_file_that_is_not_json_is_named(capsys, tmp_path, boards):
    (boards / "broken.json").write_text("{")
    code, err = run(capsys, boards, tmp_path / "out")
    assert code == 2
    assert err.startswith(f"obsstack dashboards: {boards / 'broken.json'}: not JSON: ")
    assert err.count("\n") == 1


def test_a_failed_run_leaves_the_previous_output_untouched(tmp_path):
    out = tmp_path / "out"
    write_output(out, lambda d: (d / "index.html").write_text("first"))

    def fail(directory: Path) -> None:
        (directory / "index.html").write_text("half")
        raise RuntimeError("Prometheus went away")

    with pytest.raises(RuntimeError):
        write_output(out, fail)
    assert (out / "index.html").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    write_output(out, lambda d: (d / "index.html").write_text("second"))
    assert (out / "index.html").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_text_panels_need_no_query_and_unknown_types_say_so(tmp_path):
    read_me: dict[str, Any] = {
        "id": 1,
        "type": "text",
        "title": "Read me",
        "gridPos": {"w": 12, "h": 4},
    }
    read_me["options"] = {"content": "# Runbook\nRestart the exporter."}
    pie = {"id": 2, "type": "piechart", "title": "Pie", "gridPos": {"x": 12, "w": 12, "h": 4}}
    board = {"uid": "text-only", "title": "Text only", "panels": [read_me, pie]}
    nowhere = Sources(Prometheus(f"http://127.0.0.1:{free_port()}"), 15.0)
    png = tmp_path / "text.png"
    drawn = render_dashboard(board, "text.json", png, nowhere, TimeRange(0, 3600))
    text, other = drawn.panels
    assert [(v.name, v.text) for v in text.values] == [
        ("content", "Runbook\nRestart the exporter.")
    ]
    assert other.notice == "panel type 'piechart' is not drawn here"
    assert png.stat().st_size > 0


def test_other_commands_do_not_import_matplotlib():
    code = (
        "import sys; from obsstack import cli; cli.build_parser(); "
        "print(sorted(m for m in ('matplotlib', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
