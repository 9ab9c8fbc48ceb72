"""The demo platform's HTTP API: AI agents, code reviews, logins and tenant usage.

Built by :func:`create_app` (a uvicorn factory, so every worker builds its own), instrumented
with ``instrument_app``, JSON logs and OTLP tracing, backed by PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis import exceptions as redis_errors

from obsstack.core.logs import configure_logging
from obsstack.demo import background
from obsstack.demo.catalogue import AGENTS_BY_NAME, REVIEW_RESULTS, TENANT_CAP
from obsstack.demo.platform import Platform, TenantRow
from obsstack.demo.schema import ensure_schema
from obsstack.demo.settings import IDLE_CONNECTION_SECONDS, DemoSettings
from obsstack.instrumentation import (
    DEFAULT_EXCLUDED_PATHS,
    BusinessMetrics,
    instrument_app,
    set_tenant,
)

log = logging.getLogger("obsstack.demo")
_rng = random.Random()
MODEL_TIMEOUT_SECONDS = 8.0


class QueryBody(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000)


class ReviewBody(BaseModel):
    repository: str = Field(min_length=1, max_length=200)
    files: int = Field(ge=1, le=500)


class IncidentBody(BaseModel):
    agent_type: str
    failure_rate: float = Field(default=1.0, ge=0, le=1)
    latency_factor: float = Field(default=1.0, ge=0.1, le=100)
    minutes: int = Field(default=15, ge=1, le=24 * 60)


class LoginBody(BaseModel):
    email: str = Field(min_length=3, max_length=200)
    password: str = Field(min_length=1, max_length=200)


def _latency(median: float, scale: float) -> float:
    """Log-normal around ``median``, with a heavy tail: one call in 50 is four times slower."""
    seconds = _rng.lognormvariate(math.log(median), 0.45)
    if _rng.random() < 0.02:
        seconds *= 4
    return seconds * scale


def create_app(settings: DemoSettings | None = None) -> FastAPI:
    """The platform API; settings come from ``OBSSTACK_DEMO_*`` when not given."""
    settings = settings or DemoSettings.from_environment()
    configure_logging(settings.log_level, levels={"httpx": "warning"})
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            settings.postgres_dsn,
            min_size=1,
            max_size=10,
            server_settings={"search_path": settings.schema, "application_name": "saas-api"},
        )
        async with pool.acquire() as connection:
            await ensure_schema(connection, settings.schema)
        redis = aioredis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        platform = Platform(pool, redis, settings.redis_prefix)
        await platform.load_tenants()
        client = httpx.AsyncClient(
            timeout=MODEL_TIMEOUT_SECONDS * settings.time_scale + 1,
            limits=httpx.Limits(keepalive_expiry=IDLE_CONNECTION_SECONDS),
        )
        state.update(platform=platform, client=client)
        jobs = asyncio.create_task(
            background.run_jobs(
                platform, business, settings.backup_interval, settings.sync_interval
            )
        )
        log.info("demo platform ready", extra={"schema": settings.schema})
        try:
            yield
        finally:
            jobs.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await jobs
            await client.aclose()
            await redis.aclose()
            await pool.close()

    # No trailing-slash redirect: its Location would carry whatever Host the client sent.
    app = FastAPI(
        title="AI SaaS platform (obsstack demo)", lifespan=lifespan, redirect_slashes=False
    )
    # The model API stand-in is an external dependency of the platform: its calls appear as
    # client spans, and not in the service's own RED metrics.
    model_paths = {f"/internal/model/{name}" for name in AGENTS_BY_NAME} | {"/internal/incident"}
    instrumentation = instrument_app(
        app,
        settings.service_name,
        excluded_paths=DEFAULT_EXCLUDED_PATHS | model_paths,
        created_series=False,  # its business counters too: a process of its own
    )
    business = BusinessMetrics(instrumentation.registry, tenant_cap=TENANT_CAP)
    business.declare(AGENTS_BY_NAME, [name for name, _ in REVIEW_RESULTS])

    def platform() -> Platform:
        return state["platform"]  # type: ignore[return-value]

    def model_url(request: Request) -> str:
        if settings.model_url:
            return settings.model_url.rstrip("/")
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = "127.0.0.1" if server[0] in ("0.0.0.0", "::") else server[0]
        return f"http://{host}:{server[1]}"

    async def tenant_of(slug: str) -> TenantRow:
        tenant = platform().tenants.get(slug)
        if tenant is None:
            raise HTTPException(401, "unknown tenant")
        set_tenant(tenant.slug)
        business.record_tenant_request(tenant.slug)
        if not await platform().allow(tenant):
            log.info("rate limited", extra={"plan": tenant.plan})
            raise HTTPException(429, "rate limit exceeded", headers={"retry-after": "10"})
        return tenant

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(redis_errors.RedisError)
    @app.exception_handler(OSError)
    async def dependency_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("dependency unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
        return JSONResponse({"error": "a dependency is unavailable"}, status_code=503)

    @app.post("/v1/agents/{agent_type}/query")
    async def query(
        agent_type: str,
        body: QueryBody,
        request: Request,
        x_tenant_id: str = Header(),
        x_user: str | None = Header(default=None),
    ) -> JSONResponse:
        agent = AGENTS_BY_NAME.get(agent_type)
        if agent is None:
            raise HTTPException(404, "no such agent")
        tenant = await tenant_of(x_tenant_id)
        user_id = await platform().seen(x_user)
        client: httpx.AsyncClient = state["client"]  # type: ignore[assignment]
        started = time.perf_counter()
        status, answer = 200, ""
        try:
            response = await client.post(
                f"{model_url(request)}/internal/model/{agent.name}", json={"prompt": body.prompt}
            )
            if response.status_code == 200:
                answer = response.json()["answer"]
            else:
                status = 502
        except httpx.TimeoutException:
            status = 504
        except httpx.HTTPError:
            status = 502
        seconds = time.perf_counter() - started
        failed = status != 200
        business.record_ai_query(agent.name, seconds, failed=failed)
        await platform().record_query(tenant, user_id, agent.name, failed, seconds)
        (log.warning if failed else log.info)(
            "ai query failed" if failed else "ai query answered",
            extra={"agent_type": agent.name, "duration_ms": round(seconds * 1000)},
        )
        if failed:
            return JSONResponse({"error": "the model API failed"}, status_code=status)
        return JSONResponse({"agent_type": agent.name, "answer": answer})

    @app.post("/internal/model/{agent_type}")
    async def model(agent_type: str, body: QueryBody) -> JSONResponse:
        """Stand-in for the external AI API (OpenAI): latency and failures per agent."""
        agent = AGENTS_BY_NAME.get(agent_type)
        if agent is None:
            raise HTTPException(404, "no such model")
        failure_rate, latency_factor = await platform().incident(agent.name) or (
            agent.failure_rate,
            1.0,
        )
        await asyncio.sleep(_latency(agent.median, settings.time_scale) * latency_factor)
        if _rng.random() < failure_rate:
            return JSONResponse({"error": "model overloaded"}, status_code=503)
        return JSONResponse({"answer": f"{agent.name} answered {len(body.prompt)} characters"})

    @app.put("/internal/incident")
    async def declare_incident(body: IncidentBody) -> dict[str, object]:
        """Make one agent's model API fail or slow down for a while, to see the alerts fire."""
        if body.agent_type not in AGENTS_BY_NAME:
            raise HTTPException(404, "no such agent")
        await platform().declare_incident(
            body.agent_type, body.failure_rate, body.latency_factor, body.minutes * 60
        )
        log.warning("incident declared", extra=body.model_dump())
        return body.model_dump()

    @app.delete("/internal/incident")
    async def end_incidents() -> dict[str, int]:
        ended = await platform().end_incidents()
        log.warning("incidents ended", extra={"count": ended})
        return {"ended": ended}

    @app.post("/v1/reviews")
    async def review(
        body: ReviewBody, x_tenant_id: str = Header(), x_user: str | None = Header(default=None)
    ) -> JSONResponse:
        tenant = await tenant_of(x_tenant_id)
        await platform().seen(x_user)
        await asyncio.sleep(_latency(0.3 + 0.01 * body.files, settings.time_scale))
        result = _rng.choices(
            [name for name, _ in REVIEW_RESULTS], [weight for _, weight in REVIEW_RESULTS]
        )[0]
        await platform().record_review(tenant, body.repository, result)
        business.record_code_review(result)
        if result == "failed":
            log.error("code review failed", extra={"repository": body.repository})
            return JSONResponse({"error": "review automation failed"}, status_code=500)
        log.info("code review done", extra={"result": result, "files": body.files})
        return JSONResponse({"result": result})

    @app.post("/v1/auth/login")
    async def login(body: LoginBody) -> JSONResponse:
        outcome, user_id, slug = await platform().login(body.email, body.password)
        set_tenant(slug)
        if outcome == "locked":
            log.warning("login refused: account locked", extra={"user": user_id})
            return JSONResponse({"error": "account locked"}, status_code=423)
        if outcome == "failure":
            log.warning("login failed", extra={"user": user_id})
            return JSONResponse({"error": "invalid credentials"}, status_code=401)
        log.info("login", extra={"user": user_id})
        return JSONResponse({"token": f"demo-session-{_rng.getrandbits(64):016x}"})

    @app.get("/v1/tenants/{slug}/usage")
    async def usage(slug: str) -> dict[str, int]:
        tenant = await tenant_of(slug)
        return await platform().usage(tenant)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        checks = {}
        try:
            await platform().pool.fetchval("SELECT 1", timeout=2)
            checks["postgres"] = "up"
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            checks["postgres"] = "down"
        try:
            await platform().redis.ping()
            checks["redis"] = "up"
        except (OSError, redis_errors.RedisError):
            checks["redis"] = "down"
        up = all(value == "up" for value in checks.values())
        return JSONResponse(checks, status_code=200 if up else 503)

    return app
