"""The probe exporter beside the exporters users run today (``make bench-probe-anchors``).

One private PostgreSQL and one private Redis (own data directories, free ports: the machine's
shared servers are never touched), a blackholed TCP server (accepts, never answers), and, against
them, in one run:

- obsstack's probe exporter, one ``obsstack serve`` per dependency with the shipped defaults;
- Debian's postgres_exporter 0.11 and redis_exporter 1.45, their defaults;
- Debian's blackbox_exporter 0.23: ``tcp_connect`` for PostgreSQL, TCP ``PING``/``+PONG``
  for Redis.

Each run measures, target by target with the others idle: healthy scrape latency (p50, p99),
the exporter's CPU per scrape and the server's (PostgreSQL's whole process tree, Redis), from
/proc, and the exporter's RSS. Then all targets at once are scraped every second, as
Prometheus does with ``X-Prometheus-Scrape-Timeout-Seconds: 5``, while PostgreSQL and Redis are
hung (SIGSTOP of every process) and second instances of each exporter point at the blackhole;
after SIGCONT each is polled until it says up again. The hang lasts a different time in each
run (``--hang``), so that the resume falls at different points of a circuit breaker's cooldown.

Run: ``.venv/bin/python -m benchmarks.probe_anchors`` (Markdown on stdout; figures are medians
over ``--runs``).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks import process_usage
from benchmarks.anchor_exporters import SCRAPE_HEADERS, Exporters, Target, versions
from benchmarks.anchor_faults import (
    Poller,
    Scrape,
    describe_answers,
    describe_seconds,
    recovery_text,
    scrape,
    scrapes_until_up,
)
from benchmarks.latency import percentile
from benchmarks.pg_statements import Audit, audit, audit_table
from benchmarks.probe_profile import import_footprint, profile_scrapes
from tests.support.doubles import Blackhole
from tests.support.servers import PrivatePostgres, PrivateRedis

HEALTHY_TIMEOUT = 10.0  # Prometheus' default scrape timeout
FAULT_TIMEOUT = 5.0
PROMETHEUS_INTERVAL = 15.0
ANCHOR = {"postgres": "postgres_exporter", "redis": "redis_exporter"}


@dataclass(frozen=True)
class Healthy:
    p50: float
    p99: float
    exporter_cpu: float  # seconds per scrape
    server_cpu: float  # seconds per scrape
    rss: int  # bytes


@dataclass
class Servers:
    pg: PrivatePostgres
    redis: PrivateRedis

    def postmaster(self) -> int:
        return int((self.pg.datadir / "postmaster.pid").read_text().split()[0])

    def redis_pid(self) -> int:
        assert self.redis.process is not None
        return self.redis.process.pid

    def server_cpu(self, dependency: str) -> float:
        if dependency == "postgres":
            return process_usage.tree_cpu_seconds(self.postmaster())
        return process_usage.cpu_seconds(self.redis_pid())

    def hang(self, sig: signal.Signals) -> None:
        process_usage.signal_tree(self.postmaster(), sig)
        process_usage.signal_tree(self.redis_pid(), sig)


def healthy(target: Target, servers: Servers, count: int) -> Healthy:
    """``count`` scrapes one after another, after a warm-up."""
    with httpx.Client(headers=SCRAPE_HEADERS, timeout=HEALTHY_TIMEOUT) as client:
        for _ in range(5):
            scrape(client, target, HEALTHY_TIMEOUT)
        cpu_before = process_usage.cpu_seconds(target.pid)
        server_before = servers.server_cpu(target.dependency)
        scrapes: list[Scrape] = [scrape(client, target, HEALTHY_TIMEOUT) for _ in range(count)]
        server_after = servers.server_cpu(target.dependency)
        cpu_after = process_usage.cpu_seconds(target.pid)
    down = [s for s in scrapes if s.up != 1.0]
    if down:
        raise RuntimeError(f"{target.exporter} ({target.dependency}) said down: {down[0]}")
    seconds = [s.seconds for s in scrapes]
    return Healthy(
        p50=statistics.median(seconds),
        p99=percentile(seconds, 0.99),
        exporter_cpu=(cpu_after - cpu_before) / count,
        server_cpu=(server_after - server_before) / count,
        rss=process_usage.rss_bytes(target.pid),
    )


@dataclass
class FaultRun:
    """One hang (and the blackhole beside it): every target's poller."""

    started: float
    hung: dict[Target, Poller]
    holed: dict[Target, Poller]


def faults(
    hung: list[Target], holed: list[Target], servers: Servers, hang_seconds: float, give_up: float
) -> FaultRun:
    resumed = threading.Event()
    hung_pollers = {
        t: Poller(t, resumed, until_up=True, timeout=FAULT_TIMEOUT, give_up=give_up) for t in hung
    }
    hole_pollers = {t: Poller(t, resumed, until_up=False, timeout=FAULT_TIMEOUT) for t in holed}
    servers.hang(signal.SIGSTOP)
    started = time.monotonic()
    try:
        for poller in (*hung_pollers.values(), *hole_pollers.values()):
            poller.start()
        time.sleep(hang_seconds)
    finally:
        # Taken before the signals: a scrape answered as they arrive belongs to the recovery.
        resumed_at = time.monotonic()
        servers.hang(signal.SIGCONT)
    for poller in (*hung_pollers.values(), *hole_pollers.values()):
        poller.resumed_at = resumed_at
    resumed.set()
    for poller in (*hung_pollers.values(), *hole_pollers.values()):
        poller.join()
    return FaultRun(started, hung_pollers, hole_pollers)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ratio(ours: float, anchor: float) -> str:
    return f"{ours / anchor:.2f}x" if anchor > 0 else "-"


def healthy_table(targets: list[Target], results: dict[Target, list[Healthy]]) -> list[str]:
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
        ours, theirs = (
            medians.get((dependency, "obsstack probe")),
            medians.get((dependency, anchor)),
        )
        if ours is None or theirs is None:
            continue
        lines.append(
            f"| {dependency} | **obsstack / {anchor}** | {ratio(ours.p50, theirs.p50)} "
            f"| {ratio(ours.p99, theirs.p99)} | {ratio(ours.exporter_cpu, theirs.exporter_cpu)} "
            f"| {ratio(ours.server_cpu, theirs.server_cpu)} | {ratio(ours.rss, theirs.rss)} |"
        )
    return lines


def fault_table(runs: list[FaultRun], give_up: float) -> list[str]:
    lines = [
        "| dependency | exporter | hung: scrape time, median (max) | hung: says "
        "| blackholed: scrape time, median (max) | blackholed: says "
        "| up again after SIGCONT, median (range) "
        f"| scrapes until up at a {PROMETHEUS_INTERVAL:g} s interval |",
        "|---|---|---:|---|---:|---|---:|---:|",
    ]
    holed = {(t.dependency, t.exporter): t for t in runs[0].holed}
    for target in runs[0].hung:
        hung = [s for run in runs for s in run.hung[target].during_fault(run.started)]
        recoveries = [run.hung[target].recovery() for run in runs]
        hole_target = holed.get((target.dependency, target.exporter))
        hole: list[Scrape] = []
        if hole_target is not None:
            hole = [s for run in runs for s in run.holed[hole_target].during_fault(run.started)]
        lines.append(
            f"| {target.dependency} | {target.exporter} | {describe_seconds(hung)} "
            f"| {describe_answers(hung)} | {describe_seconds(hole)} | {describe_answers(hole)} "
            f"| {recovery_text(recoveries, give_up)} "
            f"| {scrapes_until_up(recoveries, PROMETHEUS_INTERVAL)} |"
        )
    return lines


def obsstack_settings(config_path: Path) -> str:
    """The probe policy the shipped defaults give (read as the exporter reads them)."""
    from obsstack.probe.config import load_config

    dependency = load_config(config_path).dependencies[0]
    circuit = dependency.circuit
    cooldown = getattr(circuit, "cooldown", None)
    opened = f"{cooldown:g} s" if cooldown else "a trial probe at every scrape"
    return (
        f"probe timeout {dependency.timeout:g} s, {dependency.retry.attempts} attempts, "
        f"circuit opens after {circuit.failure_threshold} failures ({opened})"
    )


def git_revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git(
        "status", "--porcelain", "--", "exporters/obsstack/probe", "exporters/obsstack/core"
    )
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scrapes", type=int, default=200, help="healthy scrapes per target")
    parser.add_argument(
        "--hang",
        default="12,19,26,33,40",
        help="seconds each run's dependencies stay hung (comma-separated, used in turn)",
    )
    parser.add_argument("--give-up", type=float, default=60.0, help="longest wait for up again")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    args = parser.parse_args(argv)
    hangs = [float(x) for x in args.hang.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="obsstack-anchors-"))
    machine = process_usage.machine()
    servers = Servers(PrivatePostgres().start(), PrivateRedis(workdir).start())
    hole = Blackhole()
    exporters = Exporters(workdir)
    try:
        pg, redis = servers.pg.port, servers.redis.port
        targets = [
            exporters.obsstack("obsstack-postgres", "postgres", pg),
            exporters.postgres_exporter("postgres-exporter", pg),
            exporters.blackbox("postgres", pg),
            exporters.obsstack("obsstack-redis", "redis", redis),
            exporters.redis_exporter("redis-exporter", redis),
            exporters.blackbox("redis", redis),
        ]
        holed = [
            exporters.obsstack("obsstack-postgres-hole", "postgres", hole.port),
            exporters.postgres_exporter("postgres-exporter-hole", hole.port),
            exporters.blackbox("postgres", hole.port),
            exporters.obsstack("obsstack-redis-hole", "redis", hole.port),
            exporters.redis_exporter("redis-exporter-hole", hole.port),
            exporters.blackbox("redis", hole.port),
        ]
        results: dict[Target, list[Healthy]] = {t: [] for t in targets}
        fault_runs: list[FaultRun] = []
        profiles: list[str] = []
        audits: dict[Target, Audit] = {}
        for run in range(args.runs):
            for target in targets:
                results[target].append(healthy(target, servers, args.scrapes))
            if run == 0:
                audits = audit([t for t in targets if t.dependency == "postgres"], servers.pg)
            if run == 0 and not args.no_profile:
                profiles = [
                    profile_scrapes(t, args.scrapes, workdir)
                    for t in targets
                    if t.exporter == "obsstack probe"
                ]
            fault_runs.append(
                faults(targets, holed, servers, hangs[run % len(hangs)], args.give_up)
            )
        settings = obsstack_settings(workdir / "obsstack-postgres.yaml")
        footprint = import_footprint(workdir / "obsstack-postgres.yaml", workdir)
    finally:
        exporters.close()
        hole.close()
        servers.redis.stop()
        servers.pg.destroy()

    print(f"machine: {machine}\n")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()), end="")
    print(f" (checkout {git_revision()}), PostgreSQL 15, Redis 7\n")
    print(
        f"{args.runs} runs; {args.scrapes} healthy scrapes per target and run "
        f"(X-Prometheus-Scrape-Timeout-Seconds: {HEALTHY_TIMEOUT:g}, gzip, keep-alive); "
        f"faults: a scrape every second with a {FAULT_TIMEOUT:g} s timeout, hung for "
        f"{', '.join(f'{h:g}' for h in hangs[: args.runs])} s\n"
    )
    print(f"obsstack probe: {settings}\n")
    print("\n".join(healthy_table(targets, results)))
    print()
    print("\n".join(fault_table(fault_runs, args.give_up)))
    print()
    print("\n".join(audit_table(audits)))
    for text in profiles:
        print()
        print(text)
    print(
        "\nResident memory of a fresh interpreter importing what the PostgreSQL exporter "
        "had imported by its first scrape:\n"
    )
    print(footprint)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
