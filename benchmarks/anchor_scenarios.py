"""The faults of ``benchmarks.probe_anchors``: the private servers hung, stopped and restarted,
while every exporter is scraped as Prometheus scrapes it."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from benchmarks import process_usage
from benchmarks.anchor_exporters import SCRAPE_HEADERS, Target
from benchmarks.anchor_faults import Poller, Scrape, scrape
from tests.support.servers import PrivatePostgres, PrivateRedis

FAULT_TIMEOUT = 5.0  # X-Prometheus-Scrape-Timeout-Seconds and the client's own limit
PROMETHEUS_INTERVAL = 15.0


@dataclass
class Servers:
    """The private PostgreSQL and Redis every exporter points at."""

    pg: PrivatePostgres
    redis: PrivateRedis

    def postmaster(self) -> int:
        return int((self.pg.datadir / "postmaster.pid").read_text().split()[0])

    def redis_pid(self) -> int:
        assert self.redis.process is not None
        return self.redis.process.pid

    def server_cpu(self, dependency: str) -> float:
        """CPU seconds the server has used so far (PostgreSQL: its whole process tree)."""
        if dependency == "postgres":
            return process_usage.tree_cpu_seconds(self.postmaster())
        return process_usage.cpu_seconds(self.redis_pid())

    def hang(self) -> None:
        process_usage.signal_tree(self.postmaster(), signal.SIGSTOP)
        process_usage.signal_tree(self.redis_pid(), signal.SIGSTOP)

    def resume(self) -> dict[str, float]:
        # Taken before the signals: a scrape answered as they arrive belongs to the recovery.
        resumed = time.monotonic()
        process_usage.signal_tree(self.postmaster(), signal.SIGCONT)
        process_usage.signal_tree(self.redis_pid(), signal.SIGCONT)
        return {"postgres": resumed, "redis": resumed}

    def stop(self) -> None:
        self.pg.stop("fast")
        self.redis.stop()

    def start(self) -> dict[str, float]:
        """Start both again on the same ports; when each accepted connections again."""
        self.pg.start()  # pg_ctl -w: returns once the server accepts connections
        ready = {"postgres": time.monotonic()}
        self.redis.start()
        ready["redis"] = time.monotonic()
        return ready


@dataclass
class FaultRun:
    """One fault: when it began and every target's poller (with its recovery, if asked)."""

    started: float
    ended: float  # when the fault was lifted (the resume or the restart began)
    pollers: dict[Target, Poller]


def fault_run(
    watched: list[Target],
    unwatched: list[Target],
    begin: Callable[[], None],
    end: Callable[[], dict[str, float]],
    seconds: float,
    give_up: float,
    slow: tuple[list[Target], float, float] = ([], PROMETHEUS_INTERVAL, 0.0),
) -> FaultRun:
    """Poll every target each second from ``begin()`` for ``seconds``; after ``end()`` (which
    says when each dependency was back), poll ``watched`` targets until they say up.

    ``slow`` = (targets, interval, phase): exporters scraped every ``interval`` instead, their
    first scrape after the fault ``phase`` seconds after it, as Prometheus' would come.
    """
    resumed = threading.Event()
    slow_targets, interval, phase = slow
    pollers = {
        **{t: Poller(t, resumed, True, FAULT_TIMEOUT, give_up=give_up) for t in watched},
        **{t: Poller(t, resumed, False, FAULT_TIMEOUT) for t in unwatched},
        **{
            t: Poller(t, resumed, True, FAULT_TIMEOUT, interval, give_up + interval, phase)
            for t in slow_targets
        },
    }
    begin()
    started = time.monotonic()
    try:
        for poller in pollers.values():
            poller.start()
        time.sleep(seconds)
    finally:
        ended = time.monotonic()
        back = end()
    for target, poller in pollers.items():
        poller.resumed_at = back[target.dependency]
    resumed.set()
    for poller in pollers.values():
        poller.join()
    return FaultRun(started, ended, pollers)


@dataclass(frozen=True)
class Bound:
    """One scrape left to run as long as the exporter takes, under the 5 s header."""

    scrape: Scrape
    resumed_at: float
    limit: float


def own_bounds(
    targets: list[Target], servers: Servers, hang_seconds: float, limit: float
) -> dict[Target, Bound]:
    """While the servers are hung for ``hang_seconds``: one scrape of each target with the 5 s
    header and a client that waits up to ``limit`` s: how long each exporter takes by itself."""
    found: dict[Target, Scrape] = {}

    def one(target: Target) -> None:
        with httpx.Client(headers=SCRAPE_HEADERS, timeout=limit) as client:
            found[target] = scrape(client, target, FAULT_TIMEOUT)

    threads = [threading.Thread(target=one, args=(t,), daemon=True) for t in targets]
    servers.hang()
    try:
        for thread in threads:
            thread.start()
        time.sleep(hang_seconds)
    finally:
        resumed_at = servers.resume()["postgres"]
    for thread in threads:
        thread.join()
    return {t: Bound(found[t], resumed_at, limit) for t in targets}
