"""The postgres kind against the machine's PostgreSQL and private clusters that fail on purpose."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import asyncpg
import pytest

from obsstack.probe.engine import Prober
from tests.probe.conftest import PG, sample
from tests.support.servers import PrivatePostgres


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(password="pg-sentinel-Secret-1").start()
    yield server
    server.destroy()


def _dep(server: PrivatePostgres, password: str, **extra: object) -> dict[str, object]:
    return {
        "name": "db",
        "kind": "postgres",
        "port": server.port,
        "database": "postgres",
        "user": "postgres",
        "password": password,
        **extra,
    }


async def test_healthy_server_reports_role_connections_and_latencies(make_config, exporter_for):
    exporter = exporter_for(make_config([{"name": "main-db", **PG}]))
    text = await exporter.metrics()
    labels = {"dependency": "main-db", "kind": "postgres"}
    assert sample(text, "dependency_up", **labels) == 1
    assert sample(text, "dependency_postgres_in_recovery", **labels) == 0
    max_connections = sample(text, "dependency_postgres_max_connections", **labels)
    in_use = sample(text, "dependency_postgres_connections", **labels)
    assert max_connections is not None and max_connections >= 10
    assert in_use is not None and 1 <= in_use <= max_connections
    connect = sample(text, "dependency_postgres_connect_duration_seconds", **labels)
    query = sample(text, "dependency_postgres_query_duration_seconds", **labels)
    total = sample(text, "dependency_probe_duration_seconds", **labels)
    assert connect is not None and query is not None and total is not None
    assert 0 < connect < total and 0 < query < total


async def test_wrong_password_is_an_auth_failure(private_pg, make_config, exporter_for):
    exporter = exporter_for(make_config([_dep(private_pg, "not-the-password")]))
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="db") == 0
    assert sample(text, "dependency_probe_failures_total", dependency="db", reason="auth") == 1
    # auth failures are not transient: no retry
    assert sample(text, "dependency_probe_retries_total", dependency="db") == 0


async def test_server_dies_then_comes_back(private_pg, make_config, exporter_for):
    exporter = exporter_for(
        make_config(
            [_dep(private_pg, "pg-sentinel-Secret-1")],
            defaults={"circuit_breaker": {"failure_threshold": 5}},
        )
    )
    assert sample(await exporter.metrics(), "dependency_up", dependency="db") == 1
    private_pg.stop("immediate")
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="db") == 0
    assert sample(text, "dependency_probe_failures_total", dependency="db", reason="refused") == 1
    assert sample(text, "dependency_probe_retries_total", dependency="db") == 1  # attempts: 2
    private_pg.start()
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="db") == 1


async def test_hung_server_times_out_and_the_socket_is_closed(
    private_pg, make_config, exporter_for
):
    """SIGSTOP freezes the postmaster: connections are accepted by the kernel, never answered."""
    exporter = exporter_for(make_config([_dep(private_pg, "pg-sentinel-Secret-1", timeout="1s")]))
    postmaster = int((private_pg.datadir / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGSTOP)
    try:
        text = await exporter.metrics()
    finally:
        os.kill(postmaster, signal.SIGCONT)
    assert sample(text, "dependency_up", dependency="db") == 0
    assert sample(text, "dependency_probe_failures_total", dependency="db", reason="timeout") == 1
    assert sample(text, "dependency_probe_timeout_seconds", dependency="db") == 1.0
    # Once the server runs again the probe works: the abandoned attempt left nothing stuck.
    assert sample(await exporter.metrics(), "dependency_up", dependency="db") == 1


async def test_blocked_query_is_cancelled_on_the_server(make_config, exporter_for):
    """A probe query stuck behind a lock is ended by statement_timeout on the server itself."""
    admin = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
    table = f"obsstack_probe_lock_{os.getpid()}"
    try:
        await admin.execute(f"CREATE TABLE IF NOT EXISTS {table} (id int)")
        holder = admin.transaction()
        await holder.start()
        await admin.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        exporter = exporter_for(
            make_config(
                [
                    {
                        "name": "locked",
                        **PG,
                        "timeout": "1s",
                        "query": f"SELECT count(*) FROM {table}",
                    }
                ]
            )
        )
        text = await exporter.metrics()
        assert sample(text, "dependency_up", dependency="locked") == 0
        assert (
            sample(text, "dependency_probe_failures_total", dependency="locked", reason="timeout")
            == 1
        )
        await asyncio.sleep(0.2)
        waiting = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = 'obsstack-probe' AND query LIKE $1",
            f"%{table}%",
        )
        assert waiting == 0, "the probe's backend outlived the probe"
        await holder.rollback()
    finally:
        await admin.execute(f"DROP TABLE IF EXISTS {table}")
        await admin.close()


# A kept session: one backend serves the probes, and never hides a failing server.


def probe_backends(server: PrivatePostgres) -> list[str]:
    return server.psql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'obsstack-probe'"
    ).split()


def freeze(server: PrivatePostgres, sig: signal.Signals) -> None:
    """SIGSTOP or SIGCONT the whole cluster: the postmaster and every backend."""
    postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True
    ).stdout.split()
    for pid in [postmaster, *map(int, children)]:
        os.kill(pid, sig)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_one_session_serves_every_scrape(private_pg, make_config, exporter_for):
    exporter = exporter_for(make_config([_dep(private_pg, "pg-sentinel-Secret-1")]))
    seen = []
    for _ in range(3):
        assert sample(await exporter.metrics(), "dependency_up", dependency="db") == 1
        seen.append(probe_backends(private_pg))
    assert len(seen[0]) == 1 and seen == [seen[0]] * 3
    await exporter.prober.aclose()
    await asyncio.sleep(0.2)
    assert probe_backends(private_pg) == []  # closed on shutdown


async def test_keep_connection_false_opens_a_session_per_probe(
    private_pg, make_config, exporter_for
):
    exporter = exporter_for(
        make_config([_dep(private_pg, "pg-sentinel-Secret-1", keep_connection=False)])
    )
    for _ in range(2):
        assert sample(await exporter.metrics(), "dependency_up", dependency="db") == 1
        await asyncio.sleep(0.1)
        assert probe_backends(private_pg) == []


async def test_a_terminated_session_is_replaced_within_the_scrape(
    private_pg, make_config, exporter_for
):
    """pg_terminate_backend (or an idle timeout, a pooler's recycling) ends the kept session:
    the next scrape connects afresh and reports what that connect finds, up here."""
    exporter = exporter_for(make_config([_dep(private_pg, "pg-sentinel-Secret-1")]))
    await exporter.metrics()
    [before] = probe_backends(private_pg)
    assert private_pg.psql(f"SELECT pg_terminate_backend({before})") == "t"
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="db") == 1
    assert sample(text, "dependency_probe_retries_total", dependency="db") == 0
    for reason in ("refused", "protocol", "timeout"):
        assert sample(text, "dependency_probe_failures_total", dependency="db", reason=reason) == 0
    [after] = probe_backends(private_pg)
    assert after != before


async def test_a_fresh_connect_proves_the_login_path_within_the_lifetime(private_pg, make_config):
    """A rotated password (like a full server, a broken pg_hba or TLS) only fails new
    sessions: the kept one goes on, so after connection_lifetime a fresh connect is made."""
    clock = FakeClock()
    config = make_config(
        [_dep(private_pg, "pg-sentinel-Secret-1", connection_lifetime="1m")],
        defaults={"circuit_breaker": {"failure_threshold": 5}},
    )
    prober = Prober(config, clock=clock)
    try:
        assert (await prober.probe("db", 5.0)).up
        private_pg.psql("ALTER ROLE postgres PASSWORD 'rotated-Secret-3'")
        clock.now += 59
        assert (await prober.probe("db", 5.0)).up  # the kept session still works
        clock.now += 1
        outcome = await prober.probe("db", 5.0)
        assert not outcome.up and outcome.reason == "auth"
    finally:
        await prober.aclose()


async def test_restart_with_the_circuit_open_is_seen_by_the_first_scrape(
    private_pg, make_config, exporter_for
):
    exporter = exporter_for(
        make_config(
            [_dep(private_pg, "pg-sentinel-Secret-1")],
            defaults={"circuit_breaker": {"failure_threshold": 1}},
        )
    )
    assert sample(await exporter.metrics(), "dependency_up", dependency="db") == 1
    private_pg.stop("immediate")
    for _ in range(3):
        text = await exporter.metrics()
        assert sample(text, "dependency_up", dependency="db") == 0
        assert sample(text, "dependency_circuit_state", dependency="db") == 2
    private_pg.start()
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="db") == 1
    assert sample(text, "dependency_circuit_state", dependency="db") == 0


async def test_a_frozen_cluster_fails_the_kept_session_within_the_budget(
    private_pg, make_config, exporter_for
):
    exporter = exporter_for(
        make_config(
            [
                _dep(
                    private_pg,
                    "pg-sentinel-Secret-1",
                    timeout="1s",
                    circuit_breaker={"failure_threshold": 1},
                )
            ]
        )
    )
    assert sample(await exporter.metrics(), "dependency_up", dependency="db") == 1
    freeze(private_pg, signal.SIGSTOP)
    try:
        started = time.monotonic()
        text = await exporter.metrics()
        assert time.monotonic() - started < 1.5
        assert sample(text, "dependency_up", dependency="db") == 0
        assert (
            sample(text, "dependency_probe_failures_total", dependency="db", reason="timeout") == 1
        )
        for _ in range(3):  # the circuit is open: scrapes do not wait out the timeout
            started = time.monotonic()
            text = await exporter.metrics()
            assert time.monotonic() - started < 0.8
            assert sample(text, "dependency_up", dependency="db") == 0
    finally:
        freeze(private_pg, signal.SIGCONT)
    await asyncio.sleep(1.1)  # the trial in flight runs to its timeout
    assert sample(await exporter.metrics(), "dependency_up", dependency="db") == 1
