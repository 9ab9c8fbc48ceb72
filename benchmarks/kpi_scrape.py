"""Scrape cost and memory of the KPI exporter over a million-row demo database
(``make bench-kpis``).

A private PostgreSQL (own data directory, free port) holds the demo platform's schema with about
a million rows (:mod:`benchmarks.kpi_data`); the exporter runs the shipped KPIs
(``platform.yaml``) as the read-only role of ``reader_role.sql``. Measured in one run:

1. the KPI queries themselves, one at a time as the reader role: wall time and PostgreSQL CPU
   per run, and what they cost the database per hour at the shipped intervals;
2. ``obsstack kpis`` on the shipped schedule: scrape latency p50/p99 from the cache, the
   exporter's CPU per scrape (its background refresh CPU, measured idle, taken out) and RSS;
3. the same exporter with every KPI refreshed every few seconds and one more KPI that sleeps
   4 s in PostgreSQL: scrapes split by whether a KPI query was running in PostgreSQL meanwhile
   (pg_stat_activity sampled every few ms);
4. the anchor: Debian's postgres_exporter 0.11 with the same queries as custom queries
   (``--extend.query-path``), which runs them at every scrape.

Run: ``.venv/bin/python -m benchmarks.kpi_scrape`` (Markdown on stdout).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml

from benchmarks import process_usage
from benchmarks.anchor_exporters import POSTGRES_EXPORTER, SCRAPE_HEADERS, Target
from benchmarks.kpi_data import fill
from benchmarks.kpi_report import QueryCost, Results, Scrapes, report
from benchmarks.pg_activity import ActivitySampler
from benchmarks.probe_profile import profile_scrapes
from obsstack.kpis import reader_role
from obsstack.kpis.config import SHIPPED
from tests.support.processes import (
    OBSSTACK,
    Process,
    free_port,
    http_ok,
    require_binary,
    running,
    wait_until,
)
from tests.support.servers import PrivatePostgres

KPI_SUCCESS = re.compile(r'^kpi_query_success\{query="ai_queries"\} (\S+)$', re.M)
SLOW_KPI = {
    "name": "bench_slow_query",
    "metric": "bench_slow_query",
    "type": "gauge",
    "help": "A query that takes 4 s in PostgreSQL, to show that scrapes never wait for one.",
    "interval": "6s",
    "timeout": "5s",
    "sql": "SELECT 1 AS value FROM (SELECT pg_sleep(4)) AS slow",
}


def shipped_kpis() -> list[dict[str, Any]]:
    document = yaml.safe_load(SHIPPED.read_text())
    return list(document["kpis"])


def seconds_of(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if duration.endswith(unit):
            return float(duration[: -len(unit)]) * units[unit]
    raise ValueError(duration)


def reader_dsn(pg: PrivatePostgres) -> str:
    return f"postgresql://{reader_role.ROLE}@127.0.0.1:{pg.port}/postgres"


async def prepare(pg: PrivatePostgres) -> dict[str, int]:
    connection = await asyncpg.connect(host="127.0.0.1", port=pg.port, user="postgres")
    try:
        counts = await fill(connection)
    finally:
        await connection.close()
    await reader_role.apply(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres")
    return counts


async def query_costs(pg: PrivatePostgres, postmaster: int, repeat: int) -> list[QueryCost]:
    """Every shipped KPI query, ``repeat`` times one after another, as the reader role."""
    connection = await asyncpg.connect(
        reader_dsn(pg), server_settings={"search_path": reader_role.SCHEMA}
    )
    costs = []
    try:
        defaults = yaml.safe_load(SHIPPED.read_text())["defaults"]
        for kpi in shipped_kpis():
            await connection.fetch(kpi["sql"])  # warm the cache and the plan
            walls = []
            cpu_before = process_usage.tree_cpu_seconds(postmaster)
            for _ in range(repeat):
                started = time.perf_counter()
                await connection.fetch(kpi["sql"])
                walls.append(time.perf_counter() - started)
            cpu = (process_usage.tree_cpu_seconds(postmaster) - cpu_before) / repeat
            interval = seconds_of(kpi.get("interval", defaults["interval"]))
            costs.append(QueryCost(kpi["name"], interval, statistics.median(walls), cpu))
    finally:
        await connection.close()
    return costs


def kpi_config(workdir: Path, pg: PrivatePostgres, port: int, busy: bool) -> Path:
    """platform.yaml pointed at the private database; ``busy``: every KPI every 3 s, plus a
    KPI that sleeps 4 s in PostgreSQL."""
    document = yaml.safe_load(SHIPPED.read_text())
    document["server"] = {"listen": f"127.0.0.1:{port}", "log_level": "warning"}
    document["database"] = {
        "host": "127.0.0.1",
        "port": pg.port,
        "database": "postgres",
        "user": reader_role.ROLE,
        "search_path": reader_role.SCHEMA,
    }
    if busy:
        for kpi in document["kpis"]:
            kpi["interval"], kpi["timeout"] = "3s", "2500ms"
        document["kpis"].append(SLOW_KPI)
    path = workdir / ("kpis-busy.yaml" if busy else "kpis.yaml")
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def scrape_many(
    url: str, pid: int, postmaster: int, count: int, pace: float, idle_rate: float
) -> Scrapes:
    """``count`` scrapes, one starting every ``pace`` seconds (or as soon as the last one
    ended); CPU per scrape less ``idle_rate`` (the exporter's CPU seconds per second unscraped).
    """
    seconds, starts = [], []
    with httpx.Client(headers=SCRAPE_HEADERS, timeout=60) as client:
        for _ in range(5):
            client.get(url).raise_for_status()
        began = time.monotonic()
        cpu_before = process_usage.cpu_seconds(pid)
        delay_before = process_usage.run_delay_seconds(pid)
        server_before = process_usage.tree_cpu_seconds(postmaster)
        for index in range(count):
            time.sleep(max(0.0, began + index * pace - time.monotonic()))
            started = time.monotonic()
            client.get(
                url, headers={"X-Prometheus-Scrape-Timeout-Seconds": "10"}
            ).raise_for_status()
            starts.append(started)
            seconds.append(time.monotonic() - started)
        elapsed = time.monotonic() - began
        cpu = process_usage.cpu_seconds(pid) - cpu_before - idle_rate * elapsed
        server = process_usage.tree_cpu_seconds(postmaster) - server_before
        delay = process_usage.run_delay_seconds(pid) - delay_before
    return Scrapes(
        seconds,
        starts,
        max(0.0, cpu) / count,
        server / count,
        process_usage.rss_bytes(pid),
        delay / count,
    )


def idle_cpu_rate(pid: int, seconds: float) -> float:
    before = process_usage.cpu_seconds(pid)
    time.sleep(seconds)
    return (process_usage.cpu_seconds(pid) - before) / seconds


def start_kpis(workdir: Path, config: Path, port: int, name: str) -> Process:
    process = Process([*OBSSTACK, "kpis", "--config", str(config)], workdir / f"{name}.log")
    wait_until(http_ok(f"http://127.0.0.1:{port}/ready"), 60, f"{name} to be ready")
    return process


def custom_queries(path: Path) -> None:
    """The shipped KPIs as postgres_exporter custom queries (one metric per label column and
    one for the value)."""
    queries: dict[str, Any] = {}
    for kpi in shipped_kpis():
        usage = "COUNTER" if kpi["type"] == "counter" else "GAUGE"
        metrics = [
            {label: {"usage": "LABEL", "description": label}} for label in kpi.get("labels", [])
        ]
        metrics.append({"value": {"usage": usage, "description": kpi["name"]}})
        queries[kpi["name"]] = {"query": kpi["sql"], "metrics": metrics}
    path.write_text(yaml.safe_dump(queries, sort_keys=False))


def start_postgres_exporter(workdir: Path, pg: PrivatePostgres, port: int) -> Process:
    queries = workdir / "queries.yaml"
    custom_queries(queries)
    dsn = f"{reader_dsn(pg)}?sslmode=disable&search_path={reader_role.SCHEMA}"
    process = Process(
        [
            require_binary(POSTGRES_EXPORTER),
            f"--web.listen-address=127.0.0.1:{port}",
            f"--extend.query-path={queries}",
            "--disable-default-metrics",
            "--disable-settings-metrics",
        ],
        workdir / "postgres-exporter.log",
        env={"DATA_SOURCE_NAME": dsn},
    )
    wait_until(http_ok(f"http://127.0.0.1:{port}/"), 20, "postgres_exporter")
    return process


def measure(args: argparse.Namespace, workdir: Path, pg: PrivatePostgres) -> Results:
    machine = process_usage.machine()
    started = time.monotonic()
    counts = asyncio.run(prepare(pg))
    fill_seconds = time.monotonic() - started
    postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
    costs = asyncio.run(query_costs(pg, postmaster, args.repeat))

    port = free_port()
    with running(
        start_kpis(workdir, kpi_config(workdir, pg, port, busy=False), port, "kpis")
    ) as kpis:
        url = f"http://127.0.0.1:{port}/metrics"
        idle = idle_cpu_rate(kpis.pid, args.idle)
        with ActivitySampler(pg.port) as quiet_sampler:
            quiet = scrape_many(url, kpis.pid, postmaster, args.scrapes, args.pace, idle)
        body_bytes = len(httpx.get(url, timeout=10).content)
        target = Target("obsstack kpis", "shipped KPIs", url, kpis.pid, KPI_SUCCESS)
        profile = profile_scrapes(target, args.scrapes // 2, workdir)

    port = free_port()
    config = kpi_config(workdir, pg, port, busy=True)
    url = f"http://127.0.0.1:{port}/metrics"
    with (
        running(start_kpis(workdir, config, port, "kpis-busy")) as kpis,
        ActivitySampler(pg.port) as busy_sampler,
    ):
        busy = scrape_many(url, kpis.pid, postmaster, args.scrapes, args.pace, 0.0)

    port = free_port()
    with running(start_postgres_exporter(workdir, pg, port)) as anchor_process:
        url = f"http://127.0.0.1:{port}/metrics"
        anchor = scrape_many(url, anchor_process.pid, postmaster, args.anchor_scrapes, 0.0, 0.0)
        anchor_body = httpx.get(url, timeout=60).text
    # Every custom query must have answered, or the anchor's scrape time would be flattered.
    missing = [
        kpi["name"]
        for kpi in shipped_kpis()
        if not re.search(rf"^{kpi['name']}_value[ {{]", anchor_body, re.M)
    ]
    if missing:
        raise RuntimeError(f"postgres_exporter returned no samples for {', '.join(missing)}")
    return Results(
        machine,
        counts,
        fill_seconds,
        costs,
        idle,
        quiet,
        quiet_sampler,
        busy,
        busy_sampler,
        anchor,
        body_bytes,
        len(anchor_body.encode()),
        profile,
        " ".join(f"{load:.2f}" for load in os.getloadavg()),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scrapes", type=int, default=2000, help="scrapes per phase")
    parser.add_argument("--pace", type=float, default=0.01, help="seconds between scrapes")
    parser.add_argument("--anchor-scrapes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=10, help="runs of each KPI query")
    parser.add_argument(
        "--idle", type=float, default=30.0, help="seconds the exporter's refresh CPU is measured"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="obsstack-kpis-"))
    pg = PrivatePostgres().start()
    try:
        results = measure(args, workdir, pg)
    finally:
        pg.destroy()
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
