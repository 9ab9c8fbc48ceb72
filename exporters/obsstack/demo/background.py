"""Periodic jobs of the demo platform: backups, the Neo4j graph sync, the active-user gauge.

No Neo4j runs here: the sync job stands in for the platform's, recording the node counts it
"read from the graph" (the row counts, lagging a little) in ``graph_sync``, as the real sync
ledger would. Several instances may run these jobs: an advisory lock lets one do each run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import asyncpg

from obsstack.demo.platform import Platform
from obsstack.instrumentation import BusinessMetrics

log = logging.getLogger("obsstack.demo.jobs")
_SYNCED_ENTITIES = ("tenants", "users", "code_reviews")
_rng = random.Random()


async def backup(pool: asyncpg.Pool, interval: float) -> None:
    """Record a backup when the last one is older than ``interval``; one in 20 fails."""
    async with pool.acquire() as connection, connection.transaction():
        if not await connection.fetchval("SELECT pg_try_advisory_xact_lock(hashtext('backup'))"):
            return
        due = await connection.fetchval(
            "SELECT coalesce(max(started_at) < now() - make_interval(secs => $1), true) "
            "FROM backups",
            interval * 0.9,
        )
        if not due:
            return
        status = "failed" if _rng.random() < 0.05 else "succeeded"
        seconds = _rng.uniform(20, 90)
        await connection.execute(
            "INSERT INTO backups (kind, status, started_at, finished_at) "
            "VALUES ('full', $1, now() - make_interval(secs => $2), now())",
            status,
            seconds,
        )
    (log.warning if status == "failed" else log.info)("backup " + status)


async def graph_sync(pool: asyncpg.Pool) -> None:
    """Record the graph's node counts: equal to the rows, or a few behind for code reviews."""
    async with pool.acquire() as connection, connection.transaction():
        if not await connection.fetchval("SELECT pg_try_advisory_xact_lock(hashtext('sync'))"):
            return
        for entity in _SYNCED_ENTITIES:
            rows = await connection.fetchval(f"SELECT count(*) FROM {entity}")
            lag = _rng.choice((0, 0, 0, 1, 2, 5)) if entity == "code_reviews" else 0
            await connection.execute(
                "INSERT INTO graph_sync (entity, graph_nodes, synced_at) VALUES ($1, $2, now()) "
                "ON CONFLICT (entity) DO UPDATE SET graph_nodes = EXCLUDED.graph_nodes, "
                "synced_at = EXCLUDED.synced_at",
                entity,
                max(0, rows - lag),
            )


async def run_jobs(
    platform: Platform, business: BusinessMetrics, backup_interval: float, sync_interval: float
) -> None:
    """Run every periodic job until cancelled."""

    async def forever(seconds: float, name: str, make: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await make()
            except Exception as exc:  # a dependency outage must not end the job
                log.warning("job failed", extra={"job": name, "error": str(exc)})
            await asyncio.sleep(seconds)

    async def active_users() -> None:
        business.set_active_users(await platform.active_users())

    jobs = [
        forever(
            min(backup_interval / 4, 30.0), "backup", lambda: backup(platform.pool, backup_interval)
        ),
        forever(sync_interval, "graph_sync", lambda: graph_sync(platform.pool)),
        forever(5.0, "active_users", active_users),
    ]
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
