"""The tables of ``benchmarks.probe_anchors``, as Markdown."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from benchmarks.anchor_exporters import Target
from benchmarks.anchor_faults import (
    Scrape,
    count_text,
    describe_answers,
    describe_seconds,
    recovery_text,
)
from benchmarks.anchor_scenarios import PROMETHEUS_INTERVAL, Bound, FaultRun

ANCHOR = {"postgres": "postgres_exporter", "redis": "redis_exporter"}
OURS = "obsstack probe"


@dataclass(frozen=True)
class Row:
    """A target, its twin pointed at the blackhole, and its twin scraped every 15 s."""

    target: Target
    hole: Target | None = None
    slow: Target | None = None


@dataclass(frozen=True)
class Healthy:
    p50: float
    p99: float
    exporter_cpu: float  # seconds per scrape
    server_cpu: float  # seconds per scrape
    rss: int  # bytes


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ratio(ours: float, anchor: float) -> str:
    return f"{ours / anchor:.2f}x" if anchor > 0 else "-"


def healthy_table(targets: list[Target], results: dict[Target, list[Healthy]]) -> list[str]:
    """Medians over the runs, and the probe exporter's ratio to each dependency's anchor."""
    lines = [
        "| dependency | exporter | scrape p50 | scrape p99 | exporter CPU / scrape "
        "| server CPU / scrape | RSS |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    medians: dict[tuple[str, str], Healthy] = {}
    for target in targets:
        runs = results[target]
        m = Healthy(
            statistics.median(r.p50 for r in runs),
            statistics.median(r.p99 for r in runs),
            statistics.median(r.exporter_cpu for r in runs),
            statistics.median(r.server_cpu for r in runs),
            int(statistics.median(r.rss for r in runs)),
        )
        medians[(target.dependency, target.exporter)] = m
        lines.append(
            f"| {target.dependency} | {target.exporter} | {ms(m.p50)} | {ms(m.p99)} "
            f"| {ms(m.exporter_cpu)} | {ms(m.server_cpu)} | {m.rss / 2**20:.1f} MiB |"
        )
    for dependency, anchor in ANCHOR.items():
        ours, theirs = medians.get((dependency, OURS)), medians.get((dependency, anchor))
        if ours is None or theirs is None:
            continue
        lines.append(
            f"| {dependency} | **obsstack / {anchor}** | {ratio(ours.p50, theirs.p50)} "
            f"| {ratio(ours.p99, theirs.p99)} | {ratio(ours.exporter_cpu, theirs.exporter_cpu)} "
            f"| {ratio(ours.server_cpu, theirs.server_cpu)} | {ratio(ours.rss, theirs.rss)} |"
        )
    return lines


def _pooled(runs: list[FaultRun], target: Target | None) -> list[Scrape]:
    """The scrapes of ``target`` during the fault, over all runs."""
    scrapes: list[Scrape] = []
    for run in runs:
        poller = run.pollers.get(target) if target is not None else None
        if poller is not None:
            scrapes += poller.during_fault(run.started, run.ended)
    return scrapes


def _recovery(runs: list[FaultRun], row: Row, give_up: float) -> str:
    """Recovery cells: time and scrapes until up, 1 s apart, then at the 15 s interval."""
    fast = [run.pollers[row.target] for run in runs if row.target in run.pollers]
    cells = [
        recovery_text([p.recovery() for p in fast], give_up),
        count_text([p.scrapes_to_up() for p in fast]),
    ]
    slow = [
        run.pollers[row.slow] for run in runs if row.slow is not None and row.slow in run.pollers
    ]
    cells.append(count_text([p.scrapes_to_up() for p in slow]) if slow else "-")
    return " | ".join(cells)


_RECOVERY_HEADERS = (
    "| up again after {what}, scraped every 1 s: median (range) | scrapes until up, 1 s apart "
    f"| scraped every {PROMETHEUS_INTERVAL:g} s: scrapes until up |"
)


def fault_table(rows: list[Row], runs: list[FaultRun], give_up: float) -> list[str]:
    """Hung and blackholed side by side, and the recovery after SIGCONT."""
    lines = [
        "| dependency | exporter | hung: scrape time, median (max) | hung: says "
        "| blackholed: scrape time, median (max) | blackholed: says "
        + _RECOVERY_HEADERS.format(what="SIGCONT"),
        "|---|---|---:|---|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        during = _pooled(runs, row.target)
        hole = _pooled(runs, row.hole)
        lines.append(
            f"| {row.target.dependency} | {row.target.exporter} | {describe_seconds(during)} "
            f"| {describe_answers(during)} | {describe_seconds(hole)} | {describe_answers(hole)} "
            f"| {_recovery(runs, row, give_up)} |"
        )
    return lines


def restart_table(rows: list[Row], runs: list[FaultRun], give_up: float) -> list[str]:
    """Servers stopped (connections refused), then started again on the same ports."""
    lines = [
        "| dependency | exporter | stopped: scrape time, median (max) | stopped: says "
        + _RECOVERY_HEADERS.format(what="the restart"),
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        during = _pooled(runs, row.target)
        lines.append(
            f"| {row.target.dependency} | {row.target.exporter} | {describe_seconds(during)} "
            f"| {describe_answers(during)} | {_recovery(runs, row, give_up)} |"
        )
    return lines


def _bound_text(bound: Bound | None) -> str:
    if bound is None:
        return "-"
    one = bound.scrape
    if one.end - one.start >= bound.limit - 0.1:
        return f"no answer in {bound.limit:g} s"
    said = "no up sample" if one.up is None else f"up {one.up:g}"
    after = " (only once resumed)" if one.end >= bound.resumed_at else ""
    return f"{one.seconds:.1f} s: {said}{after}"


def bounds_table(rows: list[Row], bounds: dict[Target, Bound]) -> list[str]:
    """How long each exporter takes by itself when nothing cuts the scrape short."""
    lines = ["| dependency | exporter | hung | blackholed |", "|---|---|---|---|"]
    for row in rows:
        hole = bounds.get(row.hole) if row.hole is not None else None
        lines.append(
            f"| {row.target.dependency} | {row.target.exporter} "
            f"| {_bound_text(bounds.get(row.target))} | {_bound_text(hole)} |"
        )
    return lines
