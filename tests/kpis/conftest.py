"""A throw-away schema in the shared PostgreSQL (database test) for each KPI test, and a
private PostgreSQL with the demo schema and the KPI reader role for the tests of roles."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from obsstack.demo.schema import ensure_schema
from obsstack.kpis import reader_role
from obsstack.kpis.engine import KpiEngine
from tests.kpis.helpers import Clock, config
from tests.support.servers import PrivatePostgres

DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"obsstack_kpi_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(DSN)
    await connection.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        await connection.execute(f"DROP SCHEMA {name} CASCADE")
        await connection.close()


@pytest.fixture
async def db(schema: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose search_path is the test's schema."""
    connection = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    yield connection
    await connection.close()


EngineFactory = Callable[..., Awaitable[KpiEngine]]


@pytest.fixture
async def engine_for(tmp_path: Path, schema: str) -> AsyncIterator[EngineFactory]:
    """Engines over the test's schema, started without their schedules (a test runs each KPI
    when it wants), stopped at the end."""
    engines: list[KpiEngine] = []

    async def make(kpis: list[dict[str, Any]], clock: Clock | None = None) -> KpiEngine:
        engine = KpiEngine(config(tmp_path, schema, kpis), clock=clock or Clock())
        await engine.start(schedule=False)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.stop()


@dataclass(frozen=True)
class ReaderCluster:
    """A private PostgreSQL with the demo schema, seeded, and the KPI reader role applied."""

    postgres: PrivatePostgres
    password: str  # the superuser's
    reader_password: str

    def dsn(self, user: str = "postgres", password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.postgres.port}/postgres"

    def database(self, user: str, password: str) -> dict[str, Any]:
        """The ``database`` section of a KPI configuration for this cluster."""
        return {
            "host": "127.0.0.1",
            "port": self.postgres.port,
            "database": "postgres",
            "user": user,
            "password": password,
            "search_path": reader_role.SCHEMA,
        }


SEED = """
INSERT INTO ai_queries (tenant_id, agent_type, status, duration_ms)
SELECT t.id, a, s, 100 FROM tenants t,
       (VALUES ('planner', 'succeeded'), ('planner', 'failed'),
               ('doc_search', 'succeeded')) AS q(a, s)
WHERE t.slug = 'acme';
INSERT INTO code_reviews (tenant_id, repository, result)
SELECT id, 'acme/api', 'approved' FROM tenants WHERE slug = 'acme';
UPDATE users SET last_seen_at = now() WHERE email LIKE '%@acme.example';
INSERT INTO backups (kind, status, started_at, finished_at) VALUES
    ('full', 'succeeded', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z'),
    ('full', 'failed', '2026-01-02T00:00:00Z', '2026-01-02T00:01:00Z');
INSERT INTO graph_sync (entity, graph_nodes, synced_at) VALUES
    ('tenants', 12, now()), ('users', 58, now()), ('code_reviews', 1, now());
INSERT INTO login_events (user_id, outcome)
SELECT id, o FROM users, (VALUES ('failure'), ('failure'), ('lockout')) AS e(o)
WHERE email = 'user1@wonka.example';
INSERT INTO rate_limit_rejections (tenant_id)
SELECT id FROM tenants WHERE slug IN ('wonka', 'wonka', 'tyrell');
"""


@pytest.fixture(scope="session")
def reader_cluster() -> Iterator[ReaderCluster]:
    """Roles are global to a cluster: the role tests never touch the shared one."""
    password = f"super-{uuid.uuid4().hex}"
    cluster = ReaderCluster(
        PrivatePostgres(password=password), password, f"reader-{uuid.uuid4().hex}"
    )
    cluster.postgres.start()
    try:

        async def prepare() -> None:
            connection = await asyncpg.connect(cluster.dsn())
            try:
                await ensure_schema(connection, reader_role.SCHEMA)
                await connection.execute(f"SET search_path = {reader_role.SCHEMA}; {SEED}")
            finally:
                await connection.close()
            await reader_role.apply(cluster.dsn(), cluster.reader_password)

        asyncio.run(prepare())
        yield cluster
    finally:
        cluster.postgres.destroy()
