"""A throw-away schema in the shared PostgreSQL (database test) for each KPI test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

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
