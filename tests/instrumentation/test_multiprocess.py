"""Several uvicorn workers: /metrics of any worker reports the requests of all of them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from tests.instrumentation.helpers import request_counts
from tests.support.processes import Process, free_port, http_ok, running, wait_until

ROOT = Path(__file__).resolve().parents[2]


def serve_two_workers(tmp_path: Path, metrics_dir: Path, name: str) -> tuple[Process, str]:
    port = free_port()
    process = Process(
        [sys.executable, "-m", "tests.instrumentation.sample_app", "--port", str(port),
         "--workers", "2"],
        tmp_path / f"{name}.log",
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ok(f"{url}/health"), 30, "two workers to serve")
    return process, url


def worker_files(metrics_dir: Path) -> list[Path]:
    return list(metrics_dir.glob("histogram_*.db"))


def served_items(url: str) -> float:
    # A new connection per scrape: any worker may answer, each must see every worker's counts.
    text = httpx.get(f"{url}/metrics", headers={"connection": "close"}).text
    return request_counts(text).get(("GET", "/items/{item_id}", "200"), 0)


def test_counts_are_merged_across_workers_and_reset_when_the_server_restarts(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_4242.db").write_bytes(b"left over from an earlier run")

    process, url = serve_two_workers(tmp_path, metrics_dir, "first")
    with running(process):
        assert not (metrics_dir / "counter_4242.db").exists()
        sent = 0
        # Which worker accepts a connection is up to the kernel: send until both have served.
        while sent < 20 or (len(worker_files(metrics_dir)) < 2 and sent < 500):
            httpx.get(f"{url}/items/{sent}", headers={"connection": "close"})
            sent += 1
        assert len(worker_files(metrics_dir)) == 2
        assert {served_items(url) for _ in range(6)} == {sent}

    process, url = serve_two_workers(tmp_path, metrics_dir, "second")
    with running(process):
        for n in range(3):
            httpx.get(f"{url}/items/{n}", headers={"connection": "close"})
        assert {served_items(url) for _ in range(6)} == {3}


def test_a_worker_drops_the_in_flight_gauges_of_dead_workers_and_keeps_their_counts(
    tmp_path, monkeypatch
):
    from obsstack.instrumentation.multiprocess import forget_dead_workers

    dead = 2**22 + 12345  # above the default pid_max: no such process
    for name in (f"gauge_livesum_{dead}.db", f"counter_{dead}.db", f"histogram_{dead}.db"):
        (tmp_path / name).write_bytes(b"")
    live = f"gauge_livesum_{os.getpid()}.db"
    (tmp_path / live).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    assert forget_dead_workers() == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead}.db", f"histogram_{dead}.db", live]
    )


def test_gunicorn_hooks_empty_the_directory_and_forget_exited_workers(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from obsstack.instrumentation import gunicorn_hooks

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_1.db").write_bytes(b"")
    (tmp_path / "stale").mkdir()
    gunicorn_hooks.on_starting(server=None)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "gauge_livesum_77.db").write_bytes(b"")
    (tmp_path / "counter_77.db").write_bytes(b"")
    gunicorn_hooks.child_exit(server=None, worker=SimpleNamespace(pid=77))
    assert [p.name for p in tmp_path.iterdir()] == ["counter_77.db"]
