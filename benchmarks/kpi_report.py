"""The KPI exporter benchmark's figures, as Markdown (``benchmarks.kpi_scrape``)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.anchor_exporters import versions
from benchmarks.latency import percentile
from benchmarks.pg_activity import NOTHING, SCANNING, SLEEPING, ActivitySampler

PROMETHEUS_INTERVAL = 15.0


@dataclass(frozen=True)
class QueryCost:
    name: str
    interval: float
    seconds: float  # median wall time of one run
    server_cpu: float  # PostgreSQL CPU seconds per run


@dataclass(frozen=True)
class Scrapes:
    seconds: list[float]
    starts: list[float]  # monotonic
    exporter_cpu: float  # per scrape
    server_cpu: float  # per scrape
    rss: int
    run_delay: float  # per scrape: the exporter's threads ready to run, waiting for a CPU


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.01 else f"{seconds * 1000:.1f} ms"


def latency_row(label: str, seconds: list[float], extra: str = "") -> str:
    if not seconds:
        return f"| {label} | 0 | - | - | - | {extra} |"
    return (
        f"| {label} | {len(seconds)} | {ms(statistics.median(seconds))} "
        f"| {ms(percentile(seconds, 0.99))} | {ms(max(seconds))} | {extra} |"
    )


@dataclass
class Results:
    machine: str
    counts: dict[str, int]
    fill_seconds: float
    costs: list[QueryCost]
    idle_rate: float  # the exporter's refresh CPU on the shipped schedule, CPU s per s
    quiet: Scrapes
    quiet_sampler: ActivitySampler
    busy: Scrapes
    busy_sampler: ActivitySampler
    anchor: Scrapes
    body_bytes: int
    anchor_body_bytes: int
    profile: str
    load_after: str  # the 1, 5 and 15 minute load averages when the run ended


def report(r: Results) -> list[str]:
    version = versions("obsstack", "postgres_exporter")
    lines = [
        f"machine: {r.machine}",
        "",
        f"load average at the end (1, 5, 15 min): {r.load_after}",
        "",
        f"versions: obsstack {version['obsstack']}, "
        f"postgres_exporter {version['postgres_exporter']}, PostgreSQL 15",
        "",
        f"database: {sum(r.counts.values()):,} rows ("
        + ", ".join(f"{table} {count:,}" for table, count in r.counts.items())
        + f"), loaded in {r.fill_seconds:.0f} s",
        "",
        "| KPI | interval | query time (median) | PostgreSQL CPU per run | CPU per hour |",
        "|---|---:|---:|---:|---:|",
    ]
    for cost in r.costs:
        lines.append(
            f"| {cost.name} | {cost.interval:g} s | {ms(cost.seconds)} | {ms(cost.server_cpu)} "
            f"| {cost.server_cpu * 3600 / cost.interval:.1f} s |"
        )
    per_hour = sum(c.server_cpu * 3600 / c.interval for c in r.costs)
    anchor_hour = r.anchor.server_cpu * 3600 / PROMETHEUS_INTERVAL
    lines += [
        f"| **all, one refresh** | | {ms(sum(c.seconds for c in r.costs))} "
        f"| {ms(sum(c.server_cpu for c in r.costs))} | {per_hour:.1f} s |",
        f"| postgres_exporter, the same queries at every {PROMETHEUS_INTERVAL:g} s scrape "
        f"| {PROMETHEUS_INTERVAL:g} s | | {ms(r.anchor.server_cpu)} | {anchor_hour:.1f} s |",
        "",
    ]
    quiet = split(r.quiet, r.quiet_sampler)
    busy = split(r.busy, r.busy_sampler)
    ratio = statistics.median(r.quiet.seconds) / statistics.median(r.anchor.seconds)
    lines += [
        "| scrapes of | count | p50 | p99 | max | |",
        "|---|---:|---:|---:|---:|---|",
        latency_row("obsstack kpis, shipped schedule, all", r.quiet.seconds),
        latency_row("obsstack kpis, shipped schedule, no KPI query running", quiet[NOTHING]),
        latency_row("obsstack kpis, shipped schedule, a KPI query running", quiet[SCANNING]),
        latency_row("obsstack kpis, every KPI every 3 s, all", r.busy.seconds),
        latency_row("obsstack kpis, every KPI every 3 s, no KPI query running", busy[NOTHING]),
        latency_row(
            "obsstack kpis, every KPI every 3 s, only the 4 s query in flight", busy[SLEEPING]
        ),
        latency_row(
            "obsstack kpis, every KPI every 3 s, a KPI query reading tables", busy[SCANNING]
        ),
        latency_row(
            "postgres_exporter, the same queries as custom queries",
            r.anchor.seconds,
            f"obsstack p50 / this: {ratio:.3f}x",
        ),
        "",
        "| exporter | CPU per scrape | waiting for a CPU per scrape "
        "| PostgreSQL CPU per scrape | RSS | /metrics size |",
        "|---|---:|---:|---:|---:|---:|",
        f"| obsstack kpis (shipped schedule, refresh CPU taken out) | {ms(r.quiet.exporter_cpu)} "
        f"| {ms(r.quiet.run_delay)} | {ms(r.quiet.server_cpu)} | {r.quiet.rss / 2**20:.1f} MiB "
        f"| {r.body_bytes:,} B |",
        f"| obsstack kpis (every KPI every 3 s, refresh CPU included) "
        f"| {ms(r.busy.exporter_cpu)} | {ms(r.busy.run_delay)} | {ms(r.busy.server_cpu)} "
        f"| {r.busy.rss / 2**20:.1f} MiB | |",
        f"| postgres_exporter (custom queries) | {ms(r.anchor.exporter_cpu)} "
        f"| {ms(r.anchor.run_delay)} | {ms(r.anchor.server_cpu)} "
        f"| {r.anchor.rss / 2**20:.1f} MiB | {r.anchor_body_bytes:,} B |",
        "",
        *ratios(r),
        "",
        f"obsstack kpis on the shipped schedule, unscraped: {r.idle_rate * 3600:.1f} CPU s per "
        "hour in the exporter (running the queries and keeping the cache)",
        "",
        r.profile,
    ]
    return lines


def ratios(r: Results) -> list[str]:
    """obsstack kpis over postgres_exporter, measure by measure (below 1: obsstack costs less)."""

    def row(label: str, measure: Callable[[Scrapes], float]) -> str:
        anchor = measure(r.anchor)
        return f"| {label} | {measure(r.quiet) / anchor:.3f}x | {measure(r.busy) / anchor:.3f}x |"

    return [
        "| obsstack kpis / postgres_exporter | shipped schedule | every KPI every 3 s |",
        "|---|---:|---:|",
        row("scrape p50", lambda s: statistics.median(s.seconds)),
        row("scrape p99", lambda s: percentile(s.seconds, 0.99)),
        row("exporter CPU per scrape", lambda s: s.exporter_cpu),
        row("PostgreSQL CPU per scrape", lambda s: s.server_cpu),
        row("RSS", lambda s: s.rss),
    ]


def split(scrapes: Scrapes, sampler: ActivitySampler) -> dict[int, list[float]]:
    """Scrape times by what PostgreSQL ran for the exporter meanwhile."""
    by_state: dict[int, list[float]] = {NOTHING: [], SLEEPING: [], SCANNING: []}
    for start, seconds in zip(scrapes.starts, scrapes.seconds, strict=True):
        by_state[sampler.during(start, start + seconds)].append(seconds)
    return by_state
