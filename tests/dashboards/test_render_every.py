"""``obsstack dashboards render --every``: drawn again each tick until stopped; a Prometheus that
is not there yet is said once and waited for; a bad flag stops it at once (exit 2)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.support.paths import ROOT
from tests.support.processes import OBSSTACK, Process, wait_until
from tests.support.servers import PrivatePrometheus

BOARD = ["--dashboard", "obsstack-service-overview"]


def loop_argv(prometheus: str, out: Path, *extra: str) -> list[str]:
    return [*OBSSTACK, "dashboards", "render", "--prometheus", prometheus, "--out", str(out),
            "--root", str(ROOT), *BOARD, *extra]  # fmt: skip


def test_it_waits_for_prometheus_then_renders_each_tick_and_stops_cleanly(tmp_path: Path):
    prometheus = PrivatePrometheus(
        tmp_path, {"global": {"scrape_interval": "1s"}, "scrape_configs": []}
    )
    out = tmp_path / "drawn"
    loop = Process(loop_argv(prometheus.url, out, "--every", "1s", "--last", "5m"),
                   tmp_path / "loop.log")  # fmt: skip
    try:
        wait_until(lambda: "not reachable" in loop.output(), 60, "the first failed round")
        time.sleep(2.5)  # two more rounds fail the same way: said once
        failed_rounds_seen = loop.output()
        assert loop.alive() and not out.exists()
        prometheus.start()
        wait_until((out / "index.html").exists, 120, "a round once Prometheus answers", 0.5)
        assert failed_rounds_seen.count("Prometheus not reachable") == 1, failed_rounds_seen
        first = (out / "render.json").stat().st_mtime_ns
        wait_until(
            lambda: (out / "render.json").stat().st_mtime_ns != first, 120, "another round", 0.5
        )
        assert (out / "service-overview.png").read_bytes().startswith(b"\x89PNG")
    finally:
        loop.stop(signal.SIGTERM, timeout=30)
        prometheus.stop()
    assert loop.popen.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".drawn")) == []
    assert (out / "index.html").exists()  # a stopped round leaves the last one in place


def test_a_bad_flag_stops_the_loop_at_once(tmp_path: Path):
    for extra, message in (
        (["--every", "1s", "--last", "0h"], "obsstack dashboards: --last: must be longer than 0s"),
        (["--every", "0s"], "argument --every: must be longer than 0s"),
        (["--every", "soon"], "argument --every: not a duration like 60s (got 'soon')"),
    ):
        done = subprocess.run(
            loop_argv("http://127.0.0.1:9", tmp_path / "out", *extra),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and message in done.stderr, (extra, done.stderr)
        assert not (tmp_path / "out").exists()
