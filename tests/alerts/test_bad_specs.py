"""Every broken SLO spec is one exact line naming file and key path, exit 2, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from obsstack.cli import main

REPO = Path(__file__).resolve().parents[2]
BAD = sorted((REPO / "tests/data/bad/slos").glob("*.yaml"))


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_spec_is_one_exact_line_exit_2_and_nothing_written(
    path: Path, tmp_path: Path, capsys, monkeypatch
):
    expected = re.match(r"# expect: (.*)", path.read_text()).group(1)  # type: ignore[union-attr]
    monkeypatch.chdir(REPO)
    relative = path.relative_to(REPO)
    output = tmp_path / "out"
    code = main(["generate", "--slos", str(relative), "--output-dir", str(output)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == f"obsstack generate: {relative}: {expected}\n"
    assert not output.exists()


def test_a_missing_spec_file_is_a_one_line_error(tmp_path: Path, capsys):
    missing = tmp_path / "slos.yaml"
    assert main(["generate", "--slos", str(missing), "--output-dir", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (
        f"obsstack generate: {missing}: cannot read: No such file or directory\n"
    )


def test_every_failure_mode_of_the_issue_has_a_fixture():
    names = {p.stem for p in BAD}
    assert {
        "objective-out-of-range",
        "unknown-sli-kind",
        "missing-promql",
        "invalid-promql",
        "duplicate-slo",
        "bad-duration",
        "short-window-not-shorter",
    } <= names
