"""What the demo platform does with its PostgreSQL and Redis: tenants, rate limits, records."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from obsstack.demo.catalogue import (
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    RATE_LIMIT_WINDOW_SECONDS,
    RATE_LIMITS,
)
from obsstack.demo.schema import check_password

log = logging.getLogger("obsstack.demo")
ACTIVE_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class TenantRow:
    id: int
    slug: str
    plan: str


class Platform:
    """The platform's data access: one asyncpg pool, one Redis client, one key prefix."""

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, prefix: str) -> None:
        self.pool = pool
        self.redis = redis
        self.prefix = prefix
        self.tenants: dict[str, TenantRow] = {}

    async def load_tenants(self) -> None:
        rows = await self.pool.fetch("SELECT id, slug, plan FROM tenants")
        self.tenants = {row["slug"]: TenantRow(row["id"], row["slug"], row["plan"]) for row in rows}

    async def allow(self, tenant: TenantRow) -> bool:
        """Fixed-window rate limit per tenant in Redis; a Redis outage lets requests through."""
        window = int(time.time()) // RATE_LIMIT_WINDOW_SECONDS
        key = f"{self.prefix}ratelimit:{tenant.slug}:{window}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, RATE_LIMIT_WINDOW_SECONDS * 2)
                count, _ = await pipe.execute()
        except redis_errors.RedisError as exc:
            log.warning("rate limiter unavailable, request let through", extra={"error": str(exc)})
            return True
        if int(count) <= RATE_LIMITS[tenant.plan]:
            return True
        await self.pool.execute(
            "INSERT INTO rate_limit_rejections (tenant_id) VALUES ($1)", tenant.id
        )
        return False

    async def seen(self, email: str | None) -> int | None:
        """Mark a user active now (Redis for the service's gauge, PostgreSQL for the KPI)."""
        if not email:
            return None
        user_id: int | None = await self.pool.fetchval(
            "UPDATE users SET last_seen_at = now() WHERE email = $1 RETURNING id", email
        )
        if user_id is None:
            return None
        try:
            await self.redis.zadd(f"{self.prefix}active_users", {str(user_id): time.time()})
        except redis_errors.RedisError as exc:
            log.warning("cannot record activity in Redis", extra={"error": str(exc)})
        return user_id

    async def incident(self, agent: str) -> tuple[float, float] | None:
        """(failure rate, latency factor) of an incident declared for ``agent``, if any."""
        try:
            value = await self.redis.get(f"{self.prefix}incident:{agent}")
        except redis_errors.RedisError:
            return None
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        failure_rate, _, latency_factor = text.partition(",")
        return float(failure_rate), float(latency_factor)

    async def declare_incident(
        self, agent: str, failure_rate: float, latency_factor: float, seconds: int
    ) -> None:
        key = f"{self.prefix}incident:{agent}"
        await self.redis.set(key, f"{failure_rate},{latency_factor}", ex=seconds)

    async def end_incidents(self) -> int:
        keys = [key async for key in self.redis.scan_iter(f"{self.prefix}incident:*")]
        return int(await self.redis.delete(*keys)) if keys else 0

    async def active_users(self) -> int:
        key = f"{self.prefix}active_users"
        await self.redis.zremrangebyscore(key, 0, time.time() - ACTIVE_WINDOW_SECONDS)
        return int(await self.redis.zcard(key))

    async def record_query(
        self, tenant: TenantRow, user_id: int | None, agent: str, failed: bool, seconds: float
    ) -> None:
        await self.pool.execute(
            "INSERT INTO ai_queries (tenant_id, user_id, agent_type, status, duration_ms) "
            "VALUES ($1, $2, $3, $4, $5)",
            tenant.id,
            user_id,
            agent,
            "failed" if failed else "succeeded",
            round(seconds * 1000),
        )

    async def record_review(self, tenant: TenantRow, repository: str, result: str) -> None:
        await self.pool.execute(
            "INSERT INTO code_reviews (tenant_id, repository, result) VALUES ($1, $2, $3)",
            tenant.id,
            repository,
            result,
        )

    async def login(self, email: str, password: str) -> tuple[str, int | None, str | None]:
        """("success" | "failure" | "locked", user id, tenant slug) of one login attempt."""
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "SELECT u.id, u.password_hash, u.locked_until > now() AS locked, t.slug "
                "FROM users AS u JOIN tenants AS t ON t.id = u.tenant_id "
                "WHERE u.email = $1 FOR UPDATE OF u",
                email,
            )
            if row is None:
                await connection.execute(
                    "INSERT INTO login_events (user_id, outcome) VALUES (NULL, 'failure')"
                )
                return "failure", None, None
            user_id, slug = row["id"], row["slug"]
            if row["locked"]:
                return "locked", user_id, slug
            if check_password(password, row["password_hash"]):
                await connection.execute(
                    "UPDATE users SET failed_logins = 0, last_seen_at = now() WHERE id = $1",
                    user_id,
                )
                await connection.execute(
                    "INSERT INTO login_events (user_id, outcome) VALUES ($1, 'success')", user_id
                )
                return "success", user_id, slug
            failures = await connection.fetchval(
                "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 "
                "RETURNING failed_logins",
                user_id,
            )
            await connection.execute(
                "INSERT INTO login_events (user_id, outcome) VALUES ($1, 'failure')", user_id
            )
            if failures >= MAX_FAILED_LOGINS:
                await connection.execute(
                    "UPDATE users SET failed_logins = 0, "
                    "locked_until = now() + make_interval(secs => $2) WHERE id = $1",
                    user_id,
                    LOCKOUT_SECONDS,
                )
                await connection.execute(
                    "INSERT INTO login_events (user_id, outcome) VALUES ($1, 'lockout')", user_id
                )
                log.warning("account locked after repeated failed logins", extra={"user": user_id})
            return "failure", user_id, slug

    async def usage(self, tenant: TenantRow) -> dict[str, int]:
        row = await self.pool.fetchrow(
            "SELECT count(*) AS queries, "
            "count(*) FILTER (WHERE status = 'failed') AS failed "
            "FROM ai_queries WHERE tenant_id = $1 AND created_at > now() - interval '1 hour'",
            tenant.id,
        )
        return {"queries_last_hour": row["queries"], "failed_last_hour": row["failed"]}
