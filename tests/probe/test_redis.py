"""The redis kind against the machine's Redis and private redis-server instances."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.probe.conftest import REDIS, sample
from tests.support.servers import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path, password="redis-sentinel-Secret-2").start()
    yield server
    server.stop()


async def test_healthy_server_reports_info_fields(make_config, exporter_for):
    exporter = exporter_for(make_config([{"name": "cache", **REDIS}]))
    shared = redis.Redis(host="127.0.0.1", port=6379)
    info = shared.info()
    text = await exporter.metrics()
    labels = {"dependency": "cache", "kind": "redis"}
    assert sample(text, "dependency_up", **labels) == 1
    assert sample(text, "dependency_redis_is_replica", **labels) == (info["role"] == "slave")
    assert sample(text, "dependency_redis_loading", **labels) == 0
    assert sample(text, "dependency_redis_max_clients", **labels) == info["maxclients"]
    assert sample(text, "dependency_redis_memory_max_bytes", **labels) == info["maxmemory"]
    assert (sample(text, "dependency_redis_memory_used_bytes", **labels) or 0) > 0
    assert (sample(text, "dependency_redis_connected_clients", **labels) or 0) >= 1
    hits = sample(text, "dependency_redis_keyspace_hits_total", **labels)
    assert hits is not None and hits >= info["keyspace_hits"]
    shared.close()


async def test_hit_and_miss_counters_follow_the_server(private_redis, make_config, exporter_for):
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "cache",
                    **REDIS,
                    "port": private_redis.port,
                    "password": "redis-sentinel-Secret-2",
                }
            ]
        )
    )
    client = redis.Redis(port=private_redis.port, password="redis-sentinel-Secret-2")
    client.set("k", "v")
    for _ in range(3):
        client.get("k")
    client.get("absent")
    text = await exporter.metrics()
    assert sample(text, "dependency_redis_keyspace_hits_total", dependency="cache") == 3
    assert sample(text, "dependency_redis_keyspace_misses_total", dependency="cache") == 1
    client.close()


async def test_wrong_password_is_an_auth_failure(private_redis, make_config, exporter_for):
    exporter = exporter_for(
        make_config([{"name": "cache", **REDIS, "port": private_redis.port, "password": "wrong"}])
    )
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="cache") == 0
    assert sample(text, "dependency_probe_failures_total", dependency="cache", reason="auth") == 1


async def test_server_killed_then_restarted(private_redis, make_config, exporter_for):
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "cache",
                    **REDIS,
                    "port": private_redis.port,
                    "password": "redis-sentinel-Secret-2",
                }
            ]
        )
    )
    assert sample(await exporter.metrics(), "dependency_up", dependency="cache") == 1
    private_redis.stop()
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="cache") == 0
    assert (
        sample(text, "dependency_probe_failures_total", dependency="cache", reason="refused") == 1
    )
    private_redis.start()
    assert sample(await exporter.metrics(), "dependency_up", dependency="cache") == 1


async def test_hung_server_times_out(private_redis, make_config, exporter_for):
    exporter = exporter_for(
        make_config(
            [
                {
                    "name": "cache",
                    **REDIS,
                    "port": private_redis.port,
                    "timeout": "500ms",
                    "password": "redis-sentinel-Secret-2",
                }
            ]
        )
    )
    assert private_redis.process is not None
    os.kill(private_redis.process.pid, signal.SIGSTOP)
    try:
        text = await exporter.metrics()
    finally:
        os.kill(private_redis.process.pid, signal.SIGCONT)
    assert sample(text, "dependency_up", dependency="cache") == 0
    assert (
        sample(text, "dependency_probe_failures_total", dependency="cache", reason="timeout") == 1
    )
    assert sample(await exporter.metrics(), "dependency_up", dependency="cache") == 1
