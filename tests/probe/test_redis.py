"""The redis kind against the machine's Redis and private redis-server instances."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from obsstack.probe.kinds import redis as redis_kind
from tests.probe.conftest import REDIS, sample
from tests.support.doubles import self_signed_certificate
from tests.support.processes import Process, free_port, port_open, require_binary, wait_until
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


def _cache(server: PrivateRedis, **extra: object) -> dict[str, object]:
    return {
        "name": "cache",
        **REDIS,
        "port": server.port,
        "password": "redis-sentinel-Secret-2",
        **extra,
    }


def probe_clients(server: PrivateRedis) -> list[str]:
    client = redis.Redis(port=server.port, password="redis-sentinel-Secret-2")
    try:
        return [str(c["id"]) for c in client.client_list() if c["name"] == "obsstack-probe"]
    finally:
        client.close()


async def test_one_connection_serves_every_scrape(private_redis, make_config, exporter_for):
    exporter = exporter_for(make_config([_cache(private_redis)]))
    seen = []
    for _ in range(3):
        assert sample(await exporter.metrics(), "dependency_up", dependency="cache") == 1
        seen.append(probe_clients(private_redis))
    assert len(seen[0]) == 1 and seen == [seen[0]] * 3


async def test_a_killed_connection_is_replaced_within_the_scrape(
    private_redis, make_config, exporter_for
):
    exporter = exporter_for(make_config([_cache(private_redis)]))
    await exporter.metrics()
    [before] = probe_clients(private_redis)
    killer = redis.Redis(port=private_redis.port, password="redis-sentinel-Secret-2")
    killer.client_kill_filter(_id=before)
    killer.close()
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="cache") == 1
    assert sample(text, "dependency_probe_retries_total", dependency="cache") == 0
    [after] = probe_clients(private_redis)
    assert after != before


async def test_restart_with_the_circuit_open_is_seen_by_the_first_scrape(
    private_redis, make_config, exporter_for
):
    exporter = exporter_for(
        make_config([_cache(private_redis)], defaults={"circuit_breaker": {"failure_threshold": 1}})
    )
    assert sample(await exporter.metrics(), "dependency_up", dependency="cache") == 1
    private_redis.stop()
    for _ in range(3):
        text = await exporter.metrics()
        assert sample(text, "dependency_up", dependency="cache") == 0
        assert sample(text, "dependency_circuit_state", dependency="cache") == 2
    private_redis.start()
    assert sample(await exporter.metrics(), "dependency_up", dependency="cache") == 1


async def test_db_and_acl_user(private_redis, make_config, exporter_for):
    admin = redis.Redis(port=private_redis.port, password="redis-sentinel-Secret-2")
    admin.execute_command(
        "ACL SETUSER prober on >prober-Secret-4 +ping +info +select +hello +client ~*"
    )
    admin.close()
    exporter = exporter_for(
        make_config(
            [
                _cache(private_redis, db=3, username="prober", password="prober-Secret-4"),
                _cache(private_redis, name="wrong", username="prober", password="nope"),
            ]
        )
    )
    text = await exporter.metrics()
    assert sample(text, "dependency_up", dependency="cache") == 1
    assert sample(text, "dependency_up", dependency="wrong") == 0
    assert sample(text, "dependency_probe_failures_total", dependency="wrong", reason="auth") == 1


async def test_a_hung_server_fails_the_kept_connection_within_the_budget(
    private_redis, make_config, exporter_for
):
    exporter = exporter_for(make_config([_cache(private_redis, timeout="500ms")]))
    assert sample(await exporter.metrics(), "dependency_up", dependency="cache") == 1
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


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """redis-server speaking only TLS, with a self-signed certificate for 127.0.0.1."""
    tls = self_signed_certificate(tmp_path)
    port = free_port()
    argv = [
        require_binary("redis-server"),
        "--port",
        "0",
        "--tls-port",
        str(port),
        "--tls-cert-file",
        tls.cert,
        "--tls-key-file",
        tls.key,
        "--tls-auth-clients",
        "no",
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(tmp_path),
    ]
    process = Process(argv, tmp_path / "redis-tls.log")
    wait_until(port_open(port), 10, f"redis over TLS on port {port}")
    yield port, tls.cert
    process.stop()


async def test_tls_is_verified(tls_redis, make_config, exporter_for, monkeypatch):
    port, cert = tls_redis
    dependency = {"name": "cache", **REDIS, "port": port, "tls": True}
    text = await exporter_for(make_config([dependency])).metrics()
    assert sample(text, "dependency_up", dependency="cache") == 0
    assert (
        sample(text, "dependency_probe_failures_total", dependency="cache", reason="protocol") == 1
    )

    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the system's CAs now trust it
    redis_kind._tls_context.cache_clear()
    try:
        text = await exporter_for(make_config([dependency])).metrics()
    finally:
        redis_kind._tls_context.cache_clear()
    assert sample(text, "dependency_up", dependency="cache") == 1
