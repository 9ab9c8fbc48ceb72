"""The bundle's demo gets its database passwords apart from the URLs (compose/.env values as
written) and escapes them: "/", "@", ":" and "%" in a password connect, against a private
PostgreSQL and Redis with those passwords."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import redis

from obsstack.demo.settings import DemoSettings
from tests.bundle.test_compose import services
from tests.support.servers import PrivatePostgres, PrivateRedis

NASTY = "p/a@s:s%w#rd"


def test_the_compose_demo_passes_the_passwords_apart_from_its_urls():
    env = services()["demo"]["environment"]
    assert "PASSWORD" not in env["OBSSTACK_DEMO_POSTGRES_DSN"]
    assert "PASSWORD" not in env["OBSSTACK_DEMO_REDIS_URL"]
    assert env["OBSSTACK_DEMO_POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert env["OBSSTACK_DEMO_REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")


def test_passwords_with_url_characters_connect(tmp_path: Path):
    postgres = PrivatePostgres(password=NASTY).start()
    cache = PrivateRedis(tmp_path, password=NASTY).start()
    try:
        settings = DemoSettings.from_environment(
            {
                "OBSSTACK_DEMO_POSTGRES_DSN": f"postgresql://postgres@127.0.0.1:{postgres.port}"
                "/postgres",
                "OBSSTACK_DEMO_POSTGRES_PASSWORD": NASTY,
                "OBSSTACK_DEMO_REDIS_URL": f"redis://127.0.0.1:{cache.port}/0",
                "OBSSTACK_DEMO_REDIS_PASSWORD": NASTY,
            }
        )

        async def query() -> int:
            connection = await asyncpg.connect(settings.postgres_dsn)
            try:
                return int(await connection.fetchval("SELECT 1"))
            finally:
                await connection.close()

        assert asyncio.run(query()) == 1
        assert redis.Redis.from_url(settings.redis_url).ping() is True
    finally:
        cache.stop()
        postgres.destroy()
