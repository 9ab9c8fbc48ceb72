"""Running the real ``promtool`` on rule and rule-test files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from obsstack.alerts.generate import generate
from obsstack.core.artifacts import GenerateContext
from tests.support.paths import ROOT as REPO_ROOT
from tests.support.processes import require_binary


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def generate_into(root: Path, spec: Path | None = None) -> Path:
    """Generate the alerts artifacts of ``spec`` under ``root``; the alerts/generated dir."""
    for artifact in generate(GenerateContext(REPO_ROOT, slo_spec=spec)):
        path = root / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(artifact.content)
    return root / "alerts/generated"
