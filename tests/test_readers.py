"""The four readers (probe exporter config, KPI config, SLO spec, alerting file) refuse what is
not plain YAML data, files that are not regular or too large, and never quote a secret: one line
naming the file, exit 2, nothing written. One bad file per failure mode of the KPI config and of
the alerting file (tests/data/bad/kpis, tests/data/bad/alerting); the exporter's and the SLO
spec's are run by tests/probe/test_config.py and tests/alerts/test_bad_specs.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from obsstack.cli import main
from obsstack.core import plain_yaml
from obsstack.stack import generate as bundle_generate

REPO = Path(__file__).resolve().parents[1]
BAD = REPO / "tests/data/bad"
KPIS = sorted((BAD / "kpis").glob("*.yaml"))
ALERTING = sorted((BAD / "alerting").glob("*.yaml"))
# Planted in the environment and in the fixtures: no message may show either.
ENVIRONMENT = {
    "OBSSTACK_TEST_SECRET": "s3cret-from-env",
    "OBSSTACK_TEST_URL": "htp://pagerduty:s3cret-from-env@events.internal/v2",
}
VALID = {
    "exporter": "dependencies:\n  - {name: db, kind: postgres}\n",
    "kpis": "database: {host: 127.0.0.1, database: test}\n"
    "kpis:\n  - {name: a, metric: custom_things, type: gauge, help: Things., sql: SELECT 1}\n",
    "slos": "version: obsstack/v1\nservices: [{name: api}]\nslos:\n"
    "  - {service: api, name: up, objective: 99, sli: {kind: uptime, metric: up}}\n",
    "alerting": "version: obsstack/v1\n",
}


def expected(path: Path) -> str:
    match = re.match(r"# expect: (.*)", path.read_text())
    assert match, f"{path.name} must start with '# expect: <message>'"
    return match.group(1)


def run(reader: str, path: Path, output: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """The reader's command line on ``path``; ``generate`` writes under ``output``."""
    if reader == "exporter":
        return main(["check-config", str(path)])
    if reader == "kpis":
        return main(["kpis", "--check", "--config", str(path)])
    if reader == "slos":
        return main(["generate", "--slos", str(path), "--output-dir", str(output)])
    # `obsstack generate` reads compose/alerting.yaml under the source root: point it here.
    monkeypatch.setattr(bundle_generate, "ALERTING", str(path))
    return main(["generate", "--output-dir", str(output)])


def command(reader: str) -> str:
    return {"exporter": "check-config", "kpis": "kpis"}.get(reader, "generate")


def check_refused(reader: str, path: Path, reason: str, tmp_path: Path, capsys, monkeypatch):
    output = tmp_path / "out"
    started = time.monotonic()
    code = run(reader, path, output, monkeypatch)
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == f"obsstack {command(reader)}: {path}: {reason}\n"
    assert not output.exists()
    assert time.monotonic() - started < 5


@pytest.fixture
def planted(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("path", KPIS, ids=[p.stem for p in KPIS])
def test_bad_kpi_config_is_one_exact_line_and_exit_2(path, tmp_path, capsys, monkeypatch, planted):
    check_refused("kpis", path, expected(path), tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize("path", ALERTING, ids=[p.stem for p in ALERTING])
def test_bad_alerting_file_is_one_exact_line_exit_2_nothing_written(
    path, tmp_path, capsys, monkeypatch, planted
):
    check_refused("alerting", path, expected(path), tmp_path, capsys, monkeypatch)


def test_no_fixture_message_quotes_a_secret():
    for path in sorted(BAD.rglob("*.yaml")):
        assert "s3cret" not in expected_or_empty(path), path


def expected_or_empty(path: Path) -> str:
    match = re.match(r"# expect: (.*)", path.read_text())
    return match.group(1) if match else ""


READERS = ["exporter", "kpis", "slos", "alerting"]


@pytest.mark.parametrize("reader", READERS)
def test_each_reader_accepts_its_minimal_file(reader, tmp_path, capsys, monkeypatch):
    path = tmp_path / "file.yaml"
    path.write_text(VALID[reader])
    assert run(reader, path, tmp_path / "out", monkeypatch) == 0, capsys.readouterr().err


@pytest.mark.parametrize("reader", READERS)
def test_a_directory_or_a_device_is_refused_without_reading(reader, tmp_path, capsys, monkeypatch):
    reason = "is a directory, not a regular file"
    check_refused(reader, tmp_path, reason, tmp_path, capsys, monkeypatch)
    reason = "is a character device, not a regular file"
    check_refused(reader, Path("/dev/zero"), reason, tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize("reader", READERS)
def test_a_file_over_1_mib_is_refused_unparsed(reader, tmp_path, capsys, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text(VALID[reader] + "#" * plain_yaml.MAX_FILE_BYTES)
    check_refused(reader, path, "is larger than 1 MiB", tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize("reader", READERS)
def test_text_that_is_not_utf8_is_refused(reader, tmp_path, capsys, monkeypatch):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID[reader].encode() + b"# caf\xe9\n")
    check_refused(reader, path, "is not UTF-8 text", tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize("reader", READERS)
def test_half_a_million_values_are_refused_quickly(reader, tmp_path, capsys, monkeypatch):
    # The slowest shape of a file under 1 MiB: a flow list of half a million items.
    path = tmp_path / "wide.yaml"
    path.write_text("wide: [" + "1," * ((plain_yaml.MAX_FILE_BYTES - 20) // 2) + "1]\n")
    reason = "line 1: more than 100000 values in one file"
    check_refused(reader, path, reason, tmp_path, capsys, monkeypatch)  # about 0.5 s


def run_in_subprocess(reader: str, path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The reader's command in a child process, so that a read that blocks fails the test
    (the timeout) instead of hanging it."""
    code = (
        "import sys; from obsstack.stack import generate; from obsstack.cli import main; "
        f"generate.ALERTING = {str(path)!r}; sys.exit(main(sys.argv[1:]))"
    )
    argv = {
        "exporter": ["check-config", str(path)],
        "kpis": ["kpis", "--check", "--config", str(path)],
        "slos": ["generate", "--slos", str(path), "--output-dir", str(tmp_path / "out")],
        "alerting": ["generate", "--output-dir", str(tmp_path / "out")],
    }[reader]
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("reader", READERS)
def test_a_fifo_is_refused_at_once(reader, tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    result = run_in_subprocess(reader, fifo, tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"obsstack {command(reader)}: {fifo}: is a FIFO (named pipe), not a regular file\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_secret_file_must_be_a_small_regular_file(tmp_path, capsys):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "huge").write_text("x" * (plain_yaml.MAX_SECRET_BYTES + 1))
    for name, reason in {
        "fifo": "fifo is a FIFO (named pipe), not a regular file",
        "huge": "huge is larger than 64 KiB",
        "/dev/zero": "/dev/zero is a character device, not a regular file",
    }.items():
        path = tmp_path / "exporter.yaml"
        path.write_text(f"dependencies:\n  - {{name: db, kind: postgres, password_file: {name}}}\n")
        assert main(["check-config", str(path)]) == 2
        assert capsys.readouterr().err == (
            f"obsstack check-config: {path}: dependencies[0].password_file: {reason}\n"
        )


def test_an_included_file_that_cannot_be_read_is_the_including_files_error(tmp_path, capsys):
    os.mkfifo(tmp_path / "sloth.yaml")
    spec = tmp_path / "slos.yaml"
    spec.write_text("version: obsstack/v1\nservices: [{name: api}]\ninclude: [sloth.yaml]\n")
    assert main(["generate", "--slos", str(spec), "--output-dir", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"obsstack generate: {spec}: include[0]: 'sloth.yaml' is a FIFO (named pipe), "
        "not a regular file\n"
    )
