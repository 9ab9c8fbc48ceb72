"""KPI queries against the real PostgreSQL: values, labels, caps, failures and read-only runs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from obsstack.kpis.engine import KpiEngine
from tests.instrumentation.helpers import samples
from tests.kpis.helpers import Clock, eventually, exposition, kpi


async def run(engine: KpiEngine, name: str) -> None:
    await engine.run(engine.states[name])


async def test_rows_become_labelled_samples_and_vanished_label_sets_are_dropped(engine_for, db):
    await db.execute("CREATE TABLE queries (agent text, n int)")
    await db.execute("INSERT INTO queries VALUES ('planner', 3), ('doc_search', 5)")
    engine = await engine_for([
        kpi("agents", "SELECT agent, n AS value FROM queries", labels=["agent"]),
    ])  # fmt: skip
    await run(engine, "agents")
    assert samples(exposition(engine), "test_agents") == {
        (("agent", "doc_search"),): 5,
        (("agent", "planner"),): 3,
    }
    await db.execute("DELETE FROM queries WHERE agent = 'planner'")
    await run(engine, "agents")
    text = exposition(engine)
    assert samples(text, "test_agents") == {(("agent", "doc_search"),): 5}
    assert samples(text, "kpi_query_success") == {(("query", "agents"),): 1}
    assert samples(text, "kpi_last_success_timestamp_seconds") == {(("query", "agents"),): 1e6}


async def test_counters_timestamps_and_null_values(engine_for, db):
    await db.execute("CREATE TABLE backups (finished_at timestamptz)")
    await db.execute("INSERT INTO backups VALUES ('2026-01-02T03:04:05Z')")
    engine = await engine_for([
        kpi("reviews", "SELECT 7 AS reviews", metric="test_reviews_total", type="counter",
            value="reviews"),
        kpi("backup", "SELECT max(finished_at) AS value FROM backups"),
        kpi("nothing", "SELECT NULL::int AS value"),
    ])  # fmt: skip
    for name in ("reviews", "backup", "nothing"):
        await run(engine, name)
    text = exposition(engine)
    assert "# TYPE test_reviews_total counter" in text
    assert samples(text, "test_reviews_total") == {(): 7}
    assert samples(text, "test_backup") == {(): 1767323045.0}
    assert samples(text, "test_nothing") == {}
    assert samples(text, "kpi_query_success")[(("query", "nothing"),)] == 1


async def test_label_values_beyond_the_cap_are_summed_into_other(engine_for, db):
    await db.execute("CREATE TABLE usage (tenant text, requests int)")
    await db.execute("INSERT INTO usage SELECT 'tenant-' || n, n FROM generate_series(1, 100) AS n")
    engine = await engine_for([
        kpi("usage", "SELECT tenant, requests AS value FROM usage", labels=["tenant"],
            label_cap=3),
    ])  # fmt: skip
    await run(engine, "usage")
    text = exposition(engine)
    assert samples(text, "test_usage") == {
        (("tenant", "tenant-100"),): 100,
        (("tenant", "tenant-99"),): 99,
        (("tenant", "tenant-98"),): 98,
        (("tenant", "other"),): sum(range(1, 98)),
    }
    assert samples(text, "kpi_label_cap") == {(("query", "usage"),): 3}


async def test_a_failed_run_keeps_the_last_samples_until_they_are_stale(engine_for, db):
    await db.execute("CREATE TABLE things (n int)")
    await db.execute("INSERT INTO things VALUES (4)")
    clock = Clock()
    engine = await engine_for(
        [kpi("things", "SELECT n AS value FROM things", interval="10s", stale_after="30s")],
        clock,
    )
    await run(engine, "things")
    await db.execute("ALTER TABLE things RENAME COLUMN n TO m")
    clock.now += 20
    await run(engine, "things")
    text = exposition(engine)
    assert samples(text, "kpi_query_success") == {(("query", "things"),): 0}
    assert samples(text, "test_things") == {(): 4}
    assert "UndefinedColumnError" in engine.states["things"].last_error
    clock.now += 20
    await run(engine, "things")
    assert samples(exposition(engine), "test_things") == {}


async def test_results_that_are_not_samples_fail_the_run(engine_for, db):
    engine = await engine_for([
        kpi("text", "SELECT 'many' AS value"),
        kpi("missing", "SELECT 1 AS total"),
        kpi("twice", "SELECT 'a' AS plan, 1 AS value UNION ALL SELECT 'a', 2",
            labels=["plan"]),
    ])  # fmt: skip
    for name in ("text", "missing", "twice"):
        await run(engine, name)
    errors = {name: state.last_error for name, state in engine.states.items()}
    assert errors == {
        "text": "KpiError: column 'value' holds str, not a number",
        "missing": "KpiError: column 'value' is not in the result (columns: total)",
        "twice": "KpiError: label values ('a',) appear in more than one row",
    }


async def test_queries_run_read_only(engine_for, db):
    await db.execute("CREATE TABLE precious (n int)")
    await db.execute("INSERT INTO precious VALUES (1)")
    engine = await engine_for([
        kpi("sneaky", "WITH gone AS (DELETE FROM precious RETURNING n) "
                      "SELECT count(*) AS value FROM gone"),
    ])  # fmt: skip
    await run(engine, "sneaky")
    assert engine.states["sneaky"].success is False
    assert "ReadOnlySQLTransactionError" in engine.states["sneaky"].last_error
    assert await db.fetchval("SELECT count(*) FROM precious") == 1


async def test_an_unreachable_database_is_a_failed_run(tmp_path, schema):
    from obsstack.kpis.config import load_config
    from tests.kpis.helpers import document, write
    from tests.support.processes import free_port

    data = document(schema, [kpi("a", "SELECT 1 AS value")])
    data["database"]["port"] = free_port()
    engine = KpiEngine(load_config(write(tmp_path, data)))
    await engine.start(schedule=False)
    try:
        await run(engine, "a")
    finally:
        await engine.stop()
    assert engine.states["a"].success is False
    assert engine.states["a"].last_error.startswith("cannot connect")


async def test_the_connection_uses_the_configured_search_path(engine_for, db, schema):
    engine = await engine_for([kpi("path", "SELECT 1 AS value")])
    assert engine.pool is not None
    async with engine.pool.acquire() as connection:
        assert await connection.fetchval("SHOW search_path") == schema
        assert await connection.fetchval("SHOW application_name") == "obsstack-kpis"
    assert isinstance(db, asyncpg.Connection)


async def test_a_database_that_never_answers_fails_the_run_and_frees_the_socket(tmp_path, schema):
    from obsstack.kpis.config import load_config
    from tests.kpis.helpers import document, write
    from tests.support.doubles import Blackhole

    hole = Blackhole()
    try:
        data = document(schema, [kpi("a", "SELECT 1 AS value", timeout="500ms")])
        data["database"]["port"] = hole.port
        engine = KpiEngine(load_config(write(tmp_path, data)))
        await engine.start(schedule=False)
        try:
            await run(engine, "a")
        finally:
            await engine.stop()
        assert engine.states["a"].success is False
        assert engine.states["a"].last_error == (
            "KpiError: no connection within 0.5s (database not answering, or every "
            "connection busy, pool size 1)"
        )
        assert hole.accepted == 1

        async def closed() -> bool:
            return hole.open_connections() == 0

        await eventually(closed, 5, "the socket to be closed")
    finally:
        hole.close()


async def test_a_server_that_stops_answering_mid_query_gets_its_session_terminated(tmp_path):
    """A private PostgreSQL whose backend is frozen (SIGSTOP): statement_timeout cannot fire."""
    import os
    import signal

    from obsstack.kpis.config import load_config
    from tests.kpis.helpers import document, write
    from tests.support.servers import PrivatePostgres

    postgres = PrivatePostgres().start()
    frozen: list[int] = []
    try:
        data = document("public", [kpi("a", "SELECT 1 AS value", timeout="500ms")])
        data["database"].update(port=postgres.port, database="postgres", max_connections=1)
        engine = KpiEngine(load_config(write(tmp_path, data)))
        await engine.start(schedule=False)
        try:
            await run(engine, "a")
            assert engine.states["a"].success is True
            assert engine.pool is not None
            async with engine.pool.acquire() as connection:
                frozen.append(await connection.fetchval("SELECT pg_backend_pid()"))
            os.kill(frozen[0], signal.SIGSTOP)
            await run(engine, "a")
            assert engine.states["a"].success is False
            assert engine.states["a"].last_error == (
                "no answer within 0.5s (+ grace): session terminated"
            )
            os.kill(frozen.pop(), signal.SIGCONT)
            await run(engine, "a")  # a new session replaces the terminated one
            assert engine.states["a"].success is True
        finally:
            await engine.stop()
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        postgres.destroy()


async def test_a_result_over_max_rows_fails_the_run_without_holding_the_rows(engine_for):
    """At most max_rows + 1 rows are read, whatever the query returns (3M rows took 508 MB)."""
    import tracemalloc

    engine = await engine_for([
        kpi("huge", "SELECT g::text AS n, g AS value FROM generate_series(1, 3000000) AS g",
            labels=["n"]),
        kpi("small", "SELECT g::text AS n, g AS value FROM generate_series(1, 10) AS g",
            labels=["n"], max_rows=10),
        kpi("eleven", "SELECT g::text AS n, g AS value FROM generate_series(1, 11) AS g",
            labels=["n"], max_rows=10),
    ])  # fmt: skip
    tracemalloc.start()
    try:
        await run(engine, "huge")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert engine.states["huge"].last_error == (
        "KpiError: more than max_rows (10000) rows: aggregate in SQL, or raise max_rows"
    )
    await run(engine, "small")
    await run(engine, "eleven")
    text = exposition(engine)
    assert samples(text, "kpi_query_success") == {
        (("query", "huge"),): 0,
        (("query", "small"),): 1,
        (("query", "eleven"),): 0,
    }
    assert len(samples(text, "test_small")) == 10


SLOW = "SELECT pg_sleep(1.5) IS NULL AS value"


@pytest.mark.parametrize("max_connections", [None, 4, 2])
async def test_slow_queries_do_not_starve_the_others(tmp_path, schema, max_connections):
    """Three KPIs that take 1.5 s of their 2 s timeout beside three fast ones (before: 53 of 60
    fast runs failed in 20 s, with the old default pool of two). A pool of a connection per KPI
    (the default) never keeps a KPI waiting; a smaller one keeps a connection for the KPIs that
    are not slow, so fast runs fail at most while the first slow runs show themselves slow."""
    from obsstack.kpis.config import load_config
    from tests.kpis.helpers import document, write

    kpis = [kpi(f"slow{i}", SLOW, interval="2500ms", timeout="2s") for i in range(3)]
    kpis += [
        kpi(f"fast{i}", "SELECT 1 AS value", interval="500ms", timeout="400ms") for i in range(3)
    ]
    data = document(schema, kpis)
    if max_connections:
        data["database"]["max_connections"] = max_connections
    engine = KpiEngine(load_config(write(tmp_path, data)))
    failures: list[tuple[str, float]] = []
    record = engine._failed

    def failed(state: Any, duration: float, reason: str) -> None:
        failures.append((state.kpi.name, time.monotonic()))
        record(state, duration, reason)

    engine._failed = failed  # type: ignore[method-assign]
    started = time.monotonic()
    await engine.start()
    try:
        await asyncio.sleep(7)
    finally:
        await engine.stop()
    assert engine.pool_size == (max_connections or 6)
    assert all(engine.states[f"slow{i}"].slow for i in range(3))
    assert sum(engine.states[f"fast{i}"].runs for i in range(3)) > 25
    fast_failures = [round(at - started, 1) for name, at in failures if name.startswith("fast")]
    slow_failures = [name for name, _ in failures if name.startswith("slow")]
    if max_connections == 2:
        # The slow KPIs share one connection (three 1.5 s queries every 2.5 s do not fit).
        assert all(at < 3.5 for at in fast_failures), fast_failures
    else:
        assert fast_failures == []
        assert slow_failures == []
