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
Then both servers are stopped (``--down`` seconds) and started again on the same ports, and
each target is polled until it says up.

Once: PostgreSQL's log of what a scrape runs there (:mod:`benchmarks.pg_statements`), a py-spy
profile of the probe exporter, one scrape per target that nothing cuts short during a hang (the
exporter's own bound), and the import footprint of ``obsstack serve``.

Run: ``.venv/bin/python -m benchmarks.probe_anchors`` (Markdown on stdout; figures are medians
over ``--runs``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

import httpx

from benchmarks import process_usage
from benchmarks.anchor_exporters import SCRAPE_HEADERS, Exporters, Target, versions
from benchmarks.anchor_faults import Scrape, scrape
from benchmarks.anchor_report import (
    OURS,
    Healthy,
    Row,
    bounds_table,
    fault_table,
    healthy_table,
    restart_table,
)
from benchmarks.anchor_scenarios import (
    FAULT_TIMEOUT,
    PROMETHEUS_INTERVAL,
    FaultRun,
    Servers,
    fault_run,
    own_bounds,
)
from benchmarks.latency import percentile
from benchmarks.pg_statements import Audit, audit, audit_table
from benchmarks.probe_profile import import_footprint, profile_scrapes
from tests.support.doubles import Blackhole
from tests.support.servers import PrivatePostgres, PrivateRedis

HEALTHY_TIMEOUT = 10.0  # Prometheus' default scrape timeout
SLOW = "15s"  # the instance label of the exporters scraped every 15 s


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


def obsstack_settings(config_path: Path) -> str:
    """The probe policy the shipped defaults give (read as the exporter reads them)."""
    from obsstack.probe.config import load_config

    try:
        dependency = load_config(config_path).dependencies[0]
        circuit = dependency.circuit
        cooldown = getattr(circuit, "cooldown", None)
        opened = f"{cooldown:g} s" if cooldown else "a trial probe at every scrape"
        return (
            f"probe timeout {dependency.timeout:g} s, {dependency.retry.attempts} attempts, "
            f"circuit opens after {circuit.failure_threshold} failures ({opened})"
        )
    except Exception as exc:  # the figures above matter more than this line
        return f"shipped defaults ({type(exc).__name__} reading them: {exc})"


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
    parser.add_argument("--down", type=float, default=5.0, help="seconds stopped before a restart")
    parser.add_argument("--give-up", type=float, default=60.0, help="longest wait for up again")
    parser.add_argument(
        "--bound", type=float, default=20.0, help="seconds of the hang with one uncut scrape"
    )
    parser.add_argument(
        "--profile-scrapes", type=int, default=1000, help="scrapes profiled (0: no profile)"
    )
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
        # The same exporters again, scraped every 15 s during the faults (as Prometheus would).
        slow = [
            exporters.obsstack("obsstack-postgres-15s", "postgres", pg, SLOW),
            exporters.postgres_exporter("postgres-exporter-15s", pg, SLOW),
            exporters.blackbox("postgres", pg, SLOW),
            exporters.obsstack("obsstack-redis-15s", "redis", redis, SLOW),
            exporters.redis_exporter("redis-exporter-15s", redis, SLOW),
            exporters.blackbox("redis", redis, SLOW),
        ]
        results: dict[Target, list[Healthy]] = {t: [] for t in targets}
        hung: list[FaultRun] = []
        restarted: list[FaultRun] = []
        profiles: list[str] = []
        audits: dict[Target, Audit] = {}
        for run in range(args.runs):
            for target in targets:
                results[target].append(healthy(target, servers, args.scrapes))
            if run == 0:
                audits = audit([t for t in targets if t.dependency == "postgres"], servers.pg)
            if run == 0 and args.profile_scrapes:
                profiles = [
                    profile_scrapes(t, args.profile_scrapes, workdir)
                    for t in targets
                    if t.exporter == OURS
                ]
            seconds = hangs[run % len(hangs)]
            # Where in its 15 s cycle the first scrape after the fault comes, spread over runs.
            phased = (slow, PROMETHEUS_INTERVAL, PROMETHEUS_INTERVAL * (run + 0.5) / args.runs)
            hung.append(
                fault_run(
                    targets, holed, servers.hang, servers.resume, seconds, args.give_up, phased
                )
            )
            restarted.append(
                fault_run(targets, [], servers.stop, servers.start, args.down, args.give_up, phased)
            )
        bounds = own_bounds(targets + holed, servers, args.bound, args.bound + 5)
        settings = obsstack_settings(workdir / "obsstack-postgres.yaml")
        try:
            footprint = import_footprint(workdir / "obsstack-postgres.yaml", workdir)
        except Exception as exc:  # keep the figures measured so far
            footprint = f"(no import footprint: {type(exc).__name__}: {exc})"
    finally:
        exporters.close()
        hole.close()
        servers.redis.stop()
        servers.pg.destroy()

    rows = [Row(*three) for three in zip(targets, holed, slow, strict=True)]
    out = [
        f"machine: {machine}",
        "",
        "versions: "
        + ", ".join(f"{k} {v}" for k, v in versions().items())
        + f" (checkout {git_revision()}), PostgreSQL 15, Redis 7",
        "",
        f"{args.runs} runs; {args.scrapes} healthy scrapes per target and run "
        f"(X-Prometheus-Scrape-Timeout-Seconds: {HEALTHY_TIMEOUT:g}, gzip, keep-alive); "
        f"faults: a scrape every second with a {FAULT_TIMEOUT:g} s timeout, hung for "
        f"{', '.join(f'{h:g}' for h in hangs[: args.runs])} s, stopped for {args.down:g} s",
        "",
        f"obsstack probe: {settings}",
        "",
        *healthy_table(targets, results),
        "",
        *fault_table(rows, hung, args.give_up),
        "",
        *restart_table(rows, restarted, args.give_up),
        "",
        f"One scrape with the {FAULT_TIMEOUT:g} s header that nothing cuts short (a client "
        f"waiting up to {args.bound + 5:g} s; the hang lasts {args.bound:g} s):",
        "",
        *bounds_table(rows, bounds),
        "",
        *audit_table(audits),
    ]
    for text in profiles:
        out += ["", text]
    out += [
        "",
        "Resident memory of a fresh interpreter importing, in the same order, what the "
        "PostgreSQL exporter had imported by its first scrape:",
        "",
        footprint,
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
