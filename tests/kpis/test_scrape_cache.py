"""What a scraper of the KPI exporter gets: the KPIs as their last runs left them, rendered when
a run ends, in the format it negotiated, and at once while a query hangs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from obsstack.core.exposition import render
from obsstack.core.server_app import exporter_registry
from obsstack.kpis.engine import KpiEngine
from obsstack.kpis.exposition import KpiCollector
from obsstack.kpis.server import create_app
from tests.instrumentation.helpers import samples
from tests.kpis.conftest import EngineFactory
from tests.kpis.helpers import Clock, eventually, kpi

# What Prometheus 2.42 sends (read from the Debian binary).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
ACCEPTS = [
    "*/*",
    "text/plain;version=0.0.4",
    PROMETHEUS_ACCEPT,
    "application/openmetrics-text",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    "text/plain;version=1.0.0;escaping=dots",
]
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
TEXT = "text/plain; version=0.0.4; charset=utf-8"
# The process's own CPU, memory and descriptors: the only samples that change at every scrape.
_PROCESS_SAMPLE = re.compile(r"^(process_[a-z_]+) \S+$", re.M)


def without_process_values(body: str) -> str:
    return _PROCESS_SAMPLE.sub(r"\1 <value>", body)


ClientFactory = Callable[[KpiEngine], httpx.AsyncClient]


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFactory]:
    """HTTP clients of the exporter's application over an engine (its schedule not started)."""
    clients: list[httpx.AsyncClient] = []

    def make(engine: KpiEngine) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=create_app(engine))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://kpis"))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


async def scrape(client: httpx.AsyncClient, accept: str = PROMETHEUS_ACCEPT) -> httpx.Response:
    response = await client.get("/metrics", headers={"Accept": accept})
    assert response.status_code == 200
    return response


async def test_every_format_is_what_the_registry_renders_with_labels_caps_and_errors(
    engine_for: EngineFactory, client_for, db
):
    await db.execute("CREATE TABLE queries (agent text, n int)")
    await db.execute("INSERT INTO queries VALUES ('planner', 3), ('doc_search', 5), ('x', 1)")
    engine = await engine_for([
        kpi("agents", "SELECT agent, n AS value FROM queries", labels=["agent"], label_cap=2),
        kpi("reviews", "SELECT 7 AS value", metric="test_reviews_total", type="counter"),
        kpi("broken", "SELECT 'text' AS value"),
        kpi("never_run", "SELECT 1 AS value"),
    ])  # fmt: skip
    for name in ("agents", "reviews", "broken"):
        await engine.run(engine.states[name])
    client = client_for(engine)
    registry = exporter_registry(KpiCollector(engine))
    for accept in ACCEPTS:
        response = await scrape(client, accept)
        body, content_type = render(registry, accept)
        assert response.headers["content-type"] == content_type, accept
        assert without_process_values(response.text) == without_process_values(body.decode())
    response = await scrape(client)
    assert response.headers["content-type"] == OPENMETRICS
    openmetrics = response.text
    assert openmetrics.endswith("\n# EOF\n") and openmetrics.count("# EOF") == 1
    assert samples(openmetrics, "test_agents") == {
        (("agent", "doc_search"),): 5,
        (("agent", "planner"),): 3,
        (("agent", "other"),): 1,
    }
    assert samples(openmetrics, "kpi_query_success") == {
        (("query", "agents"),): 1,
        (("query", "reviews"),): 1,
        (("query", "broken"),): 0,
    }
    text = await scrape(client, "text/plain;version=0.0.4")
    assert text.headers["content-type"] == TEXT
    assert "# EOF" not in text.text
    assert samples(text.text, "test_reviews_total") == {(): 7}


async def test_scrapes_between_runs_are_identical_and_a_run_changes_every_format(
    engine_for: EngineFactory, client_for, db
):
    await db.execute("CREATE TABLE signups (n int)")
    await db.execute("INSERT INTO signups VALUES (3)")
    clock = Clock()
    engine = await engine_for([kpi("signups", "SELECT sum(n) AS value FROM signups")], clock)
    state = engine.states["signups"]
    await engine.run(state)
    client = client_for(engine)
    before = {accept: (await scrape(client, accept)).text for accept in (PROMETHEUS_ACCEPT, "*/*")}
    for _ in range(3):
        for accept, body in before.items():
            again = (await scrape(client, accept)).text
            assert without_process_values(again) == without_process_values(body)
    assert samples(before["*/*"], "test_signups") == {(): 3}

    await db.execute("UPDATE signups SET n = 5")
    clock.now += 30
    await engine.run(state)
    for accept in (PROMETHEUS_ACCEPT, "*/*"):
        after = (await scrape(client, accept)).text
        assert samples(after, "test_signups") == {(): 5}, accept
        assert samples(after, "kpi_last_success_timestamp_seconds") == {
            (("query", "signups"),): clock.now
        }
    await asyncio.sleep(0.01)  # the formats asked for are rendered again meanwhile
    assert samples((await scrape(client)).text, "test_signups") == {(): 5}


async def test_a_scrape_while_a_query_waits_answers_at_once_with_the_previous_values(
    engine_for: EngineFactory, client_for, db, schema
):
    """The next run's query waits for a lock another session holds: scrapes still answer,
    from the last run, while it waits; the values change once it has finished."""
    await db.execute("CREATE TABLE signups (n int)")
    await db.execute("INSERT INTO signups VALUES (3)")
    sql = f"SELECT sum(n) AS value FROM {schema}.signups"
    engine = await engine_for([kpi("signups", sql, interval="1m", timeout="30s")])
    state = engine.states["signups"]
    await engine.run(state)
    client = client_for(engine)

    async def waiting_queries() -> int:
        # Asked inside the locking transaction: PostgreSQL keeps the first activity snapshot
        # of a transaction unless it is cleared, and the query may not wait yet at first.
        await db.execute("SELECT pg_stat_clear_snapshot()")
        return int(
            await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'obsstack-kpis' "
                "AND wait_event_type = 'Lock' AND query LIKE $1",
                f"%{schema}.signups%",
            )
        )

    async def query_waits() -> bool:
        return await waiting_queries() == 1

    locked = db.transaction()
    await locked.start()
    await db.execute("LOCK TABLE signups IN ACCESS EXCLUSIVE MODE")
    await db.execute("UPDATE signups SET n = 5")
    run = asyncio.create_task(engine.run(state))
    try:
        await eventually(query_waits, 10, "the KPI query to wait for the lock")
        for accept in (PROMETHEUS_ACCEPT, "*/*"):
            response = await scrape(client, accept)
            assert samples(response.text, "test_signups") == {(): 3}
            assert samples(response.text, "kpi_query_success") == {(("query", "signups"),): 1}
        # Answered while the query was still waiting in PostgreSQL.
        assert await waiting_queries() == 1
        assert not run.done()
    finally:
        await locked.commit()
        await run
    assert samples((await scrape(client)).text, "test_signups") == {(): 5}
