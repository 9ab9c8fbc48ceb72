"""The KPI configuration is read strictly: one bad file per failure mode, exact messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from obsstack.core import naming
from obsstack.core.spec import ConfigError
from obsstack.kpis.config import SHIPPED, load_config
from tests.kpis.helpers import document, write

BAD = sorted((Path(__file__).parent / "data" / "bad").glob("*.yaml"))
ROOT = Path(__file__).resolve().parents[2]


def expected_error(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# "), f"{path.name} must start with '# <expected error>'"
    return f"{path}: {first[2:]}"


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_configuration_is_rejected_with_its_exact_message(path):
    with pytest.raises(ConfigError) as error:
        load_config(path, env={})
    assert str(error.value) == expected_error(path)


def test_the_shipped_platform_kpis_load_and_use_only_names_from_the_naming_module():
    config = load_config(SHIPPED, env={})
    specs = {spec.name: spec for spec in naming.all_metrics()}
    assert len(config.kpis) == 10
    for kpi in config.kpis:
        spec = specs[kpi.metric]
        assert spec.group == naming.PLATFORM
        assert (spec.type, set(spec.labels)) == (kpi.type, set(kpi.labels))
    assert {spec.name for spec in specs.values() if spec.group == naming.PLATFORM} == {
        kpi.metric for kpi in config.kpis
    }


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "obsstack.cli", "kpis", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_check_exits_0_for_a_good_file_and_2_with_one_line_for_a_bad_one():
    good = run_cli("--check")
    assert good.returncode == 0
    assert good.stdout == f"{SHIPPED}: ok (10 KPI queries, listen 127.0.0.1:9411)\n"
    bad_path = next(p for p in BAD if p.stem == "duplicate_name")
    bad = run_cli("--config", str(bad_path), "--check")
    assert bad.returncode == 2
    assert bad.stderr == f"obsstack kpis: {expected_error(bad_path)}\n"


def test_secrets_from_the_environment_never_reach_the_output(tmp_path):
    data = document("public", [
        {"name": "a", "metric": "custom_things", "type": "gauge", "help": "Things.",
         "sql": "SELECT 1 AS value"}
    ])  # fmt: skip
    data["database"]["password"] = "${KPI_DB_PASSWORD}"
    path = write(tmp_path, data)
    import os

    result = run_cli("--config", str(path), "--check",
                     env={**os.environ, "KPI_DB_PASSWORD": "pw-do-not-print"})  # fmt: skip
    assert result.returncode == 0
    assert "pw-do-not-print" not in result.stdout + result.stderr
