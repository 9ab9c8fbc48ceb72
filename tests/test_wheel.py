"""obsstack runs from its wheel, installed outside the repository, with nothing of the checkout
on the import path: the commands find their data in the package and the obsstack directory
where they are told it is.

The wheel is built from this checkout and installed without dependencies into a fresh venv in
a temporary directory; the dependencies come from this test's own environment through a
``.pth`` line naming its site-packages (a path line, so the editable install's finder there is
not loaded). Every command runs with the working directory outside the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.paths import ROOT
from tests.support.processes import free_port, wait_until


def pip(*argv: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", *argv], check=True, capture_output=True, cwd=cwd)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The venv's ``obsstack`` command, from a wheel of this checkout."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"  # a copy: building in the checkout would leave build/ there
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip("wheel", "--no-deps", "-q", "--wheel-dir", str(base / "dist"), str(source), cwd=base)
    (wheel,) = (base / "dist").glob("obsstack-*.whl")
    env = base / "venv"
    venv.create(env, with_pip=False)
    (purelib,) = (env / "lib").glob("python3*/site-packages")
    (purelib / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip("--python", str(env / "bin" / "python"), "install", "--no-deps", "-q", str(wheel), cwd=base)
    yield env / "bin" / "obsstack"


def run(command: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OBSSTACK_ROOT")}
    return subprocess.run(
        [str(command), *argv], capture_output=True, text=True, cwd=cwd, timeout=120, env=environment
    )


def test_the_code_comes_from_the_wheel(installed: Path, tmp_path: Path):
    python = installed.with_name("python")
    where = subprocess.run(
        [str(python), "-c", "import obsstack.cli, obsstack.alerts; print(obsstack.cli.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.parent.parent), where
    assert not Path(where).is_relative_to(ROOT)


def test_check_config_and_kpis_check_read_their_files(installed: Path, tmp_path: Path):
    config = run(
        installed, "check-config", str(ROOT / "exporters/config/exporter.yaml"), cwd=tmp_path
    )
    assert config.returncode == 0, config.stderr
    shipped = run(installed, "kpis", "--check", cwd=tmp_path)  # platform.yaml, package data
    assert shipped.returncode == 0, shipped.stderr


def test_serve_answers(installed: Path, tmp_path: Path):
    port = free_port()
    config = tmp_path / "exporter.yaml"
    config.write_text(
        f"version: obsstack/v1\nserver:\n  listen: 127.0.0.1:{port}\n"
        "dependencies:\n  - name: redis\n    kind: redis\n    host: 127.0.0.1\n    port: 6379\n"
    )
    server = subprocess.Popen(
        [str(installed), "serve", "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200, 30, "health")
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert re.search(r'^dependency_up{dependency="redis"[^}]*} 1\.0$', metrics, re.M), metrics
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_generate_needs_an_obsstack_directory_and_writes_what_the_checkout_holds(
    installed: Path, tmp_path: Path
):
    lost = run(installed, "generate", "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert lost.returncode == 2
    assert lost.stderr.count("\n") == 1 and "pass --root DIR or set OBSSTACK_ROOT" in lost.stderr
    assert not (tmp_path / "out").exists()

    out = tmp_path / "out"
    made = run(installed, "generate", "--root", str(ROOT), "--output-dir", str(out), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    written = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert len(written) >= 20
    for path in written:
        assert (out / path).read_text() == (ROOT / path).read_text(), path
    check = run(installed, "generate", "--root", str(ROOT), "--check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


def test_up_and_down_run_the_wheels_code(installed: Path, tmp_path: Path):
    state = tmp_path / "state"
    components = ("prometheus", "alertmanager", "exporter", "oncall-sink", "node-exporter")
    ports = [f"--port={name}={free_port()}" for name in components]
    common = ["--root", str(ROOT), "--state-dir", str(state)]
    started = run(
        installed, "up", *common, "--no-demo", "--scrape-interval", "1s", *ports, cwd=tmp_path
    )
    try:
        assert started.returncode == 0, started.stderr
        records = [json.loads(p.read_text()) for p in (state / "run").glob("*.json")]
        ours = [r for r in records if r["name"] in ("exporter", "oncall-sink")]
        assert len(ours) == 2
        for record in ours:
            argv = Path(f"/proc/{record['pid']}/cmdline").read_bytes().split(b"\0")
            assert argv[0].decode() == str(installed.with_name("python")), argv
    finally:
        stopped = run(installed, "down", *common, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert list((state / "run").glob("*.json")) == []
