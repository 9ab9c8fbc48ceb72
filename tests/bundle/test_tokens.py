"""``obsstack tokens``: the stack's own tokens, generated once and kept."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from tests.support.processes import OBSSTACK

NAMES = ("scrape_token", "oncall_token", "kpi_db_password")  # as created


def tokens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OBSSTACK, "tokens", *args], capture_output=True, text=True)


def test_missing_tokens_are_created_and_existing_ones_kept(tmp_path: Path):
    directory = tmp_path / "tokens"
    first = tokens("--dir", str(directory), "--mode", "644")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"created {directory / name}" for name in NAMES]
    values = {name: (directory / name).read_text() for name in NAMES}
    for name, value in values.items():
        assert len(value) == 43 and value.replace("-", "").replace("_", "").isalnum(), name
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o644
    assert len(set(values.values())) == 3
    (directory / "oncall_token").unlink()
    again = tokens("--dir", str(directory))
    assert again.stdout == f"created {directory / 'oncall_token'}\n"
    assert stat.S_IMODE((directory / "oncall_token").stat().st_mode) == 0o600
    assert (directory / "scrape_token").read_text() == values["scrape_token"]


def test_a_bad_mode_is_one_line_and_exit_2(tmp_path: Path):
    result = tokens("--dir", str(tmp_path), "--mode", "u+rw")
    assert result.returncode == 2
    assert result.stderr == (
        "obsstack tokens: --mode: must be an octal mode such as 600 (got 'u+rw')\n"
    )
    assert list(tmp_path.iterdir()) == []
