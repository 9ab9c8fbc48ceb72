"""Scrape time and connection use of the probe exporter (``make bench-probe``).

Seven dependencies (a private PostgreSQL, a private Redis, Neo4j, Qdrant, Elasticsearch and
OpenAI HTTP doubles, and one blackholed TCP server), probe timeout T = 1 s:

1. /metrics wall time / T while the blackholed dependency times out (target <= 1.1), beside a
   sequential baseline (the same probes one after another, as a one-at-a-time exporter does);
2. /metrics wall time once its circuit is open (target <= 50 ms);
3. the most connections the exporter holds to the private PostgreSQL during 50 concurrent
   scrapes (target <= 1 per dependency).

Run: ``.venv/bin/python -m benchmarks.probe_scrape`` (prints a Markdown table).
"""

from __future__ import annotations

import asyncio
import logging
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import yaml

from obsstack.probe.config import load_config
from obsstack.probe.engine import Prober
from tests.support.doubles import Blackhole, HttpDouble, Reply
from tests.support.processes import OBSSTACK, Process, free_port, http_ok, wait_until
from tests.support.servers import PrivatePostgres, PrivateRedis

T = 1.0
THRESHOLD = 3


# Answer times of the doubles in the "realistic latencies" scenario, in seconds.
UPSTREAM_LATENCY = {"neo4j": 0.03, "qdrant": 0.01, "elasticsearch": 0.05, "openai": 0.3}


def doubles(realistic: bool = False) -> HttpDouble:
    def delay(kind: str) -> float:
        return UPSTREAM_LATENCY[kind] if realistic else 0.0

    return HttpDouble(
        {
            ("POST", "/db/neo4j/tx/commit"): Reply(
                200,
                {
                    "results": [{"columns": ["ok"], "data": [{"row": [1], "meta": [None]}]}],
                    "errors": [],
                },
                delay=delay("neo4j"),
            ),
            ("GET", "/healthz"): Reply(200, "healthz check passed", delay=delay("qdrant")),
            ("GET", "/readyz"): Reply(200, "all shards are ready", delay=delay("qdrant")),
            ("GET", "/_cluster/health"): Reply(
                200,
                {"status": "green", "number_of_nodes": 3, "unassigned_shards": 0},
                delay=delay("elasticsearch"),
            ),
            ("GET", "/v1/models"): Reply(
                200,
                {"data": []},
                headers={
                    "x-ratelimit-remaining-requests": "4999",
                    "x-ratelimit-remaining-tokens": "1000",
                },
                delay=delay("openai"),
            ),
        }
    )


def write_config(
    directory: Path,
    port: int,
    pg: PrivatePostgres,
    redis: PrivateRedis,
    http: HttpDouble,
    hole: Blackhole,
) -> Path:
    config = {
        "server": {"listen": f"127.0.0.1:{port}", "log_level": "warning"},
        "defaults": {
            "timeout": f"{T:g}s",
            "retries": {"attempts": 1},
            "circuit_breaker": {"failure_threshold": THRESHOLD, "cooldown": "10m"},
        },
        "dependencies": [
            {"name": "postgres", "kind": "postgres", "port": pg.port},
            {"name": "redis", "kind": "redis", "port": redis.port},
            {"name": "neo4j", "kind": "neo4j", "url": http.url},
            {"name": "qdrant", "kind": "qdrant", "url": http.url},
            {"name": "elasticsearch", "kind": "elasticsearch", "url": http.url},
            {
                "name": "openai",
                "kind": "http",
                "preset": "openai",
                "url": http.url,
                "api_key": "bench",
            },
            {"name": "blackholed", "kind": "postgres", "port": hole.port},
        ],
    }
    path = directory / "exporter.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def timed_scrape(url: str) -> float:
    started = time.perf_counter()
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return time.perf_counter() - started


async def in_process(config_path: Path, sequential: bool) -> float:
    """One round of the seven probes: concurrently as the exporter does, or one by one."""
    logging.getLogger("obsstack").setLevel(logging.ERROR)
    prober = Prober(load_config(config_path))
    started = time.perf_counter()
    if sequential:
        for name in prober.states:
            await prober.probe(name, budget=10.0)
    else:
        await prober.probe_all(budget=10.0)
    return time.perf_counter() - started


def compare_with_sequential(
    workdir: Path, pg: PrivatePostgres, redis: PrivateRedis, hole: Blackhole, realistic: bool
) -> tuple[float, float]:
    """(concurrent, sequential) median wall time of one round, in units of T."""
    http = doubles(realistic)
    try:
        own = workdir / ("realistic" if realistic else "local")
        own.mkdir(exist_ok=True)
        path = write_config(own, free_port(), pg, redis, http, hole)
        concurrent = [asyncio.run(in_process(path, sequential=False)) for _ in range(3)]
        one_by_one = [asyncio.run(in_process(path, sequential=True)) for _ in range(3)]
    finally:
        http.close()
    return statistics.median(concurrent) / T, statistics.median(one_by_one) / T


class ConnectionWatcher:
    """Samples the exporter's sessions on PostgreSQL every few ms, keeping the maximum."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.maximum = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)

    async def _watch(self) -> None:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )
        while not self._stop.is_set():
            count = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'obsstack-probe'"
            )
            self.maximum = max(self.maximum, int(count))
            self.samples += 1
            await asyncio.sleep(0.002)
        await connection.close()

    def __enter__(self) -> ConnectionWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def concurrent_scrapes(url: str, count: int) -> list[float]:
    async with httpx.AsyncClient(timeout=30) as client:

        async def one() -> float:
            started = time.perf_counter()
            (await client.get(url)).raise_for_status()
            return time.perf_counter() - started

        return list(await asyncio.gather(*(one() for _ in range(count))))


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="obsstack-bench-"))
    pg = PrivatePostgres().start()
    redis = PrivateRedis(workdir).start()
    http, hole = doubles(), Blackhole()
    port = free_port()
    config_path = write_config(workdir, port, pg, redis, http, hole)
    exporter = Process([*OBSSTACK, "serve", "--config", str(config_path)], workdir / "serve.log")
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 20, "obsstack serve")
        closed = [timed_scrape(url) for _ in range(THRESHOLD)]
        opened = [timed_scrape(url) for _ in range(20)]
        local = compare_with_sequential(workdir, pg, redis, hole, realistic=False)
        remote = compare_with_sequential(workdir, pg, redis, hole, realistic=True)
        # With the circuit open nothing waits on the blackhole, so every scrape is fast and
        # the PostgreSQL probe is the one the scrapes must share: count its sessions.
        with ConnectionWatcher(pg.port) as watcher:
            burst = asyncio.run(concurrent_scrapes(url, 50))
        with ConnectionWatcher(pg.port) as slow_watcher:  # and once more, probes in flight
            exporter.stop()
            exporter = Process(
                [*OBSSTACK, "serve", "--config", str(config_path)], workdir / "serve2.log"
            )
            wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 20, "obsstack serve")
            slow_burst = asyncio.run(concurrent_scrapes(url, 50))
    finally:
        exporter.stop()
        hole.close()
        http.close()
        redis.stop()
        pg.destroy()

    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    print(f"probe timeout T = {T:g} s, 7 dependencies, 1 blackholed\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(
        f"| scrape wall time / T, circuit closed (median of {THRESHOLD}) | "
        f"{statistics.median(closed) / T:.3f} | <= 1.1 |"
    )
    print(
        f"| one round in-process / T, concurrent vs sequential baseline | "
        f"{local[0]:.3f} vs {local[1]:.3f} | (reference) |"
    )
    print(
        f"| the same with upstream latencies {UPSTREAM_LATENCY} | "
        f"{remote[0]:.3f} vs {remote[1]:.3f} | (reference) |"
    )
    print(
        f"| scrape wall time, circuit open (median of 20) | "
        f"{statistics.median(opened) * 1000:.1f} ms | <= 50 ms |"
    )
    print(f"| scrape wall time, circuit open (max of 20) | {max(opened) * 1000:.1f} ms | |")
    print(
        f"| PostgreSQL sessions, 50 concurrent scrapes, circuit open (max of "
        f"{watcher.samples} samples) | {watcher.maximum} | <= 1 |"
    )
    print(
        f"| PostgreSQL sessions, 50 concurrent scrapes, blackhole in flight (max of "
        f"{slow_watcher.samples} samples) | {slow_watcher.maximum} | <= 1 |"
    )
    print(f"| 50 concurrent scrapes, slowest, circuit open | {max(burst) * 1000:.1f} ms | |")
    print(
        f"| 50 concurrent scrapes, slowest, blackhole in flight | {max(slow_burst) / T:.3f} T | |"
    )


if __name__ == "__main__":
    main()
