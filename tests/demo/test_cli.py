"""Bad input to ``obsstack demo``: exit 2 with one line on stderr, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["serve", "--listen", "nope"], {}, "--listen: must be HOST:PORT (got 'nope')"),
        (["serve", "--workers", "0"], {}, "--workers: must be at least 1 (got 0)"),
        (
            ["serve"],
            {"OBSSTACK_DEMO_TIME_SCALE": "-1"},
            "OBSSTACK_DEMO_TIME_SCALE: must be a positive number (got '-1')",
        ),
        (
            ["serve"],
            {"OBSSTACK_DEMO_SCHEMA": "demo; drop"},
            "OBSSTACK_DEMO_SCHEMA: must match ^[a-z_][a-z0-9_]{0,62}$ (got 'demo; drop')",
        ),
        (["traffic", "--duration", "5x"], {}, "--duration: invalid duration '5x'"),
        (["traffic", "--rate", "0"], {}, "--rate: must be positive (got 0)"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, env, message):
    result = subprocess.run(
        [sys.executable, "-m", "obsstack.cli", "demo", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == f"obsstack demo: {message}\n"
