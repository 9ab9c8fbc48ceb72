"""One reader for every secret file: each command that takes a key, token or password from a
file treats the same bad file the same way, with one line naming it and nothing of what it
holds (exit 2; `obsstack up` exits 1 as for every other start failure)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from obsstack.core.secret_files import SecretFileProblem, read_secret
from obsstack.kpis.config import SHIPPED as KPI_CONFIG
from tests.support.processes import OBSSTACK, free_port

SECRET = "s3cr3t-value-never-shown"


def bad_files(directory: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, what the message says after the file's name)."""
    files = {
        "missing": (directory / "missing", "cannot read"),
        "empty": (directory / "empty", "is empty"),
        "control": (directory / "control", "holds a control character"),
        "binary": (directory / "binary", "is not UTF-8 text"),
        "big": (directory / "big", "larger than"),
        "directory": (directory / "dir", "is a directory"),
        "fifo": (directory / "fifo", "not a regular file"),
    }
    files["empty"][0].write_text(" \n")
    files["control"][0].write_text(f"{SECRET}\x1b[2J{SECRET}\n")
    files["binary"][0].write_bytes(b"\xff\xfe" + SECRET.encode())
    files["big"][0].write_text(SECRET * 4000)
    files["directory"][0].mkdir()
    os.mkfifo(files["fifo"][0])
    return files


def test_a_good_file_is_trimmed(tmp_path: Path):
    path = tmp_path / "key"
    path.write_text(f"  {SECRET}\n")
    assert read_secret(path) == SECRET


def test_every_bad_file_is_a_problem_that_names_it(tmp_path: Path):
    for path, says in bad_files(tmp_path).values():
        with pytest.raises(SecretFileProblem) as problem:
            read_secret(path, "the key file")
        assert problem.value.reason.startswith(("the key file ", "cannot read the key file")), path
        assert says in problem.value.reason, (path, problem.value.reason)
        assert SECRET[:8] not in problem.value.reason


def exporter_config(tmp_path: Path, secret: Path) -> list[str]:
    config = tmp_path / "exporter.yaml"
    config.write_text(
        f"dependencies:\n  - name: db\n    kind: postgres\n    password_file: {secret}\n"
    )
    return ["check-config", str(config)]


COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "check-config": exporter_config,
    "oncall-sink": lambda tmp, secret: [
        "oncall-sink", "--listen", f"127.0.0.1:{free_port()}",
        "--pagerduty-routing-key-file", str(secret), "--opsgenie-api-key-file", str(secret),
    ],
    "kpis": lambda tmp, secret: [
        "kpis", "--config", str(KPI_CONFIG), "--check", "--database-password-file", str(secret),
    ],
    "kpis token": lambda tmp, secret: [
        "kpis", "--config", str(KPI_CONFIG), "--check", "--bearer-token-file", str(secret),
    ],
    "dashboards push": lambda tmp, secret: [
        "dashboards", "push", "--grafana-url", "http://127.0.0.1:9", "--token-file", str(secret),
    ],
}  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_each_bad_secret_file_alike(tmp_path: Path, command: str):
    for kind, (path, says) in bad_files(tmp_path).items():
        argv = COMMANDS[command](tmp_path, path)
        result = subprocess.run(
            [*OBSSTACK, *argv], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        assert result.returncode == 2, (kind, result.stderr)
        assert result.stderr.count("\n") == 1, (kind, result.stderr)
        assert says in result.stderr, (kind, result.stderr)
        assert SECRET[:8] not in result.stderr + result.stdout, kind
        assert "Traceback" not in result.stderr
