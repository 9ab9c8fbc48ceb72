"""``obsstack up`` brings the native stack up from the Debian binaries and this checkout;
``obsstack down`` stops exactly what it started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.processes import OBSSTACK, free_port, wait_until

COMPONENTS = ("prometheus", "alertmanager", "exporter", "oncall-sink", "demo", "kpis")


def obsstack(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OBSSTACK, *argv],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv and "pytest" not in argv:
            found.append(argv)
    return found


def test_up_then_down(tmp_path: Path):
    state = tmp_path / "state"
    ports = {name: free_port() for name in COMPONENTS}
    args = [
        "--state-dir",
        str(state),
        "--scrape-interval",
        "1s",
        *(f"--port={name}={port}" for name, port in ports.items()),
    ]
    started = obsstack("up", *args)
    try:
        assert started.returncode == 0, started.stderr
        out = started.stdout
        assert f"prometheus     http://127.0.0.1:{ports['prometheus']}/" in out
        assert "grafana        skipped: no grafana or grafana-server on PATH" in out
        assert "loki           skipped" in out and "jaeger         skipped" in out
        records = [json.loads(p.read_text()) for p in (state / "run").glob("*.json")]
        assert {r["name"] for r in records} == {*COMPONENTS, "traffic"}
        assert all((state / "logs" / f"{r['name']}.log").exists() for r in records)

        prometheus = f"http://127.0.0.1:{ports['prometheus']}"

        def targets() -> dict[str, str]:
            body = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()
            return {
                f"{t['labels']['job']}/{t['labels'].get('dependency', '')}": t["health"]
                for t in body["data"]["activeTargets"]
            }

        wait_until(lambda: targets() and set(targets().values()) == {"up"}, 60, "every target up")
        assert set(targets()) == {
            "prometheus/",
            "alertmanager/",
            "obsstack-exporter/",
            "obsstack-probe/postgres",
            "obsstack-probe/redis",
            "obsstack-kpis/",
            "saas-api/",
        }

        again = obsstack("up", *args)
        assert again.returncode == 1
        assert again.stderr.startswith("obsstack up: already running (")
    finally:
        stopped = obsstack("down", "--state-dir", str(state))
    assert stopped.returncode == 0
    traffic = next(r["pid"] for r in records if r["name"] == "traffic")
    assert stopped.stdout.splitlines()[0] == f"stopped traffic (pid {traffic})"  # last started
    assert processes_mentioning(str(state)) == []
    for record in records:
        assert (
            not Path(f"/proc/{record['pid']}").exists()
            or Path(f"/proc/{record['pid']}/stat").read_text().split(") ")[1][0] == "Z"
        )
    assert list((state / "run").glob("*.json")) == []
    assert obsstack("down", "--state-dir", str(state)).stdout.startswith("nothing to stop")


def test_up_says_what_is_missing(tmp_path: Path):
    result = obsstack(
        "up", "--state-dir", str(tmp_path / "state"), env={"PATH": str(Path(sys.executable).parent)}
    )
    assert result.returncode == 1
    assert result.stderr == (
        "obsstack up: prometheus is not on PATH: install the Debian package "
        "prometheus (make setup does)\n"
    )
    assert not (tmp_path / "state" / "run").exists()
