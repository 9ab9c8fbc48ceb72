"""The runtime (the exporters and servers the image runs) needs none of the generators'
packages: with grafanalib and jsonschema unimportable, as in the image, the commands it runs
work, and `obsstack generate` says in one line which extra to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from obsstack.kpis.config import SHIPPED as KPI_CONFIG

REPO = Path(__file__).resolve().parents[1]
WITHOUT = "import sys; sys.modules['grafanalib'] = sys.modules['jsonschema'] = None; "


def obsstack_without_generator_packages(*argv: str) -> subprocess.CompletedProcess[str]:
    code = WITHOUT + f"from obsstack.cli import main; sys.exit(main({list(argv)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )


def test_the_image_commands_run_without_the_generator_packages():
    checked = obsstack_without_generator_packages(
        "check-config", str(REPO / "exporters/config/exporter.yaml")
    )
    assert checked.returncode == 0, checked.stderr
    kpis = obsstack_without_generator_packages("kpis", "--config", str(KPI_CONFIG), "--check")
    assert kpis.returncode == 0, kpis.stderr


def test_generate_names_the_extra_it_needs(tmp_path: Path):
    result = obsstack_without_generator_packages("generate", "--output-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        "obsstack generate: grafanalib is not installed: the generators need pip install "
        "'obsstack[generate]' (the exporters and servers do not)\n"
    )
    assert list(tmp_path.iterdir()) == []  # nothing half-written
