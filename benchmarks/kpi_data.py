"""A demo platform database with about a million rows, for the KPI exporter benchmark.

The demo's own schema and seed (:func:`obsstack.demo.schema.ensure_schema`), then a month of
history spread as the demo's traffic spreads it: tenants and agents by their weights, failure
rates per agent, review results and login outcomes in the demo's proportions, users seen over
the last hour. Rows are generated with a fixed seed and loaded with COPY.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import asyncpg

from obsstack.demo.catalogue import AGENTS, REVIEW_RESULTS, TENANTS
from obsstack.demo.schema import DEFAULT_SCHEMA, ensure_schema

# Rows per table; about one million in all.
SIZES = {
    "users": 20_000,
    "ai_queries": 600_000,
    "code_reviews": 100_000,
    "login_events": 200_000,
    "rate_limit_rejections": 80_000,
}
HISTORY = dt.timedelta(days=30)
LOGIN_OUTCOMES = (("success", 96.0), ("failure", 3.8), ("lockout", 0.2))


def _times(rng: random.Random, now: dt.datetime, count: int, span: dt.timedelta) -> list[Any]:
    seconds = span.total_seconds()
    return [now - dt.timedelta(seconds=rng.random() * seconds) for _ in range(count)]


def _pick(rng: random.Random, pairs: Any, count: int) -> list[Any]:
    values = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(values, weights, k=count)


def _rows(*columns: list[Any]) -> Iterator[tuple[Any, ...]]:
    return zip(*columns, strict=True)


async def fill(connection: asyncpg.Connection, seed: int = 12) -> dict[str, int]:
    """Create the demo schema and load the history; the row count of every table."""
    await ensure_schema(connection, DEFAULT_SCHEMA)
    await connection.execute(f"SET search_path = {DEFAULT_SCHEMA}")
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    tenant_ids = {
        row["slug"]: row["id"] for row in await connection.fetch("SELECT id, slug FROM tenants")
    }
    by_weight = [(tenant_ids[t.slug], t.weight) for t in TENANTS]

    count = SIZES["users"]
    tenants = _pick(rng, by_weight, count)
    await connection.copy_records_to_table(
        "users",
        records=_rows(
            tenants,
            [f"bench{n}@{t}.example" for n, t in enumerate(tenants)],
            ["-"] * count,
            _times(rng, now, count, dt.timedelta(hours=1)),
        ),
        columns=["tenant_id", "email", "password_hash", "last_seen_at"],
    )
    user_ids = [row["id"] for row in await connection.fetch("SELECT id FROM users")]

    count = SIZES["ai_queries"]
    agents = rng.choices(AGENTS, [a.weight for a in AGENTS], k=count)
    await connection.copy_records_to_table(
        "ai_queries",
        records=_rows(
            _pick(rng, by_weight, count),
            rng.choices(user_ids, k=count),
            [a.name for a in agents],
            ["failed" if rng.random() < a.failure_rate else "succeeded" for a in agents],
            [int(rng.expovariate(1 / a.median) * 1000) for a in agents],
            _times(rng, now, count, HISTORY),
        ),
        columns=["tenant_id", "user_id", "agent_type", "status", "duration_ms", "created_at"],
    )

    count = SIZES["code_reviews"]
    await connection.copy_records_to_table(
        "code_reviews",
        records=_rows(
            _pick(rng, by_weight, count),
            [f"repo-{rng.randrange(400)}" for _ in range(count)],
            _pick(rng, REVIEW_RESULTS, count),
            _times(rng, now, count, HISTORY),
        ),
        columns=["tenant_id", "repository", "result", "created_at"],
    )

    count = SIZES["login_events"]
    await connection.copy_records_to_table(
        "login_events",
        records=_rows(
            rng.choices(user_ids, k=count),
            _pick(rng, LOGIN_OUTCOMES, count),
            _times(rng, now, count, HISTORY),
        ),
        columns=["user_id", "outcome", "created_at"],
    )

    # Rejections fall mostly on the free plan's tenants (the lowest limits).
    count = SIZES["rate_limit_rejections"]
    rejected = [(tenant_ids[t.slug], t.weight * (4 if t.plan == "free" else 1)) for t in TENANTS]
    await connection.copy_records_to_table(
        "rate_limit_rejections",
        records=_rows(_pick(rng, rejected, count), _times(rng, now, count, HISTORY)),
        columns=["tenant_id", "created_at"],
    )

    hours = int(HISTORY.total_seconds() // 3600)
    finished = [now - dt.timedelta(hours=h) for h in range(hours)]
    await connection.copy_records_to_table(
        "backups",
        records=_rows(
            ["postgres"] * hours,
            ["failed" if rng.random() < 0.01 else "succeeded" for _ in range(hours)],
            [f - dt.timedelta(minutes=4) for f in finished],
            finished,
        ),
        columns=["kind", "status", "started_at", "finished_at"],
    )
    await connection.execute(
        "INSERT INTO graph_sync (entity, graph_nodes, synced_at) "
        "SELECT 'tenants', count(*), now() FROM tenants UNION ALL "
        "SELECT 'users', count(*) - 3, now() FROM users UNION ALL "
        "SELECT 'code_reviews', count(*) - 40, now() FROM code_reviews "
        "ON CONFLICT (entity) DO NOTHING"
    )
    await connection.execute("VACUUM ANALYZE")
    tables = ("tenants", "users", *SIZES, "backups", "graph_sync")
    return {
        table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
        for table in dict.fromkeys(tables)
    }
