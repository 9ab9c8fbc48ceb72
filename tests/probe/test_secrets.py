"""No secret reaches /metrics, /probe, /ready, /, the logs or an error message.

The HTTP dependencies are doubles of the Neo4j, Qdrant, Elasticsearch, OpenAI and Supabase APIs
that misbehave on purpose: they echo every credential they receive back in error bodies and
headers, as careless proxies do, so that any code path that copies a response into a message
would leak it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from obsstack.cli import main
from tests.support.doubles import HttpDouble, Reply, Request
from tests.support.processes import OBSSTACK, Process, free_port, http_ok, wait_until
from tests.support.servers import PrivatePostgres, PrivateRedis

SENTINELS = {
    "PG_PASSWORD": "S3ntinel-pg-password",
    "PG_DSN_PASSWORD": "S3ntinel-dsn-password",
    "REDIS_PASSWORD": "S3ntinel-redis-password",
    "NEO4J_PASSWORD": "S3ntinel-neo4j-password",
    "QDRANT_KEY": "S3ntinel-qdrant-key",
    "ES_KEY": "S3ntinel-es-key",
    "OPENAI_KEY": "S3ntinel-openai-key",
    "SUPABASE_KEY": "S3ntinel-supabase-key",
    "HEADER_TOKEN": "S3ntinel-header-token",
    "BEARER": "S3ntinel-bearer-token",
    "SCRAPE_TOKEN": "S3ntinel-scrape-token",
}


def echo_credentials(request: Request) -> Reply:
    echoed = " ".join(f"{k}={v}" for k, v in request.headers.items())
    return Reply(500, f"upstream failed for {echoed}", headers={"x-debug-auth": echoed[:500]})


@pytest.fixture
def leaky_double() -> Iterator[HttpDouble]:
    routes = {
        (m, p): echo_credentials
        for m in ("GET", "POST")
        for p in (
            "/db/neo4j/tx/commit",
            "/healthz",
            "/readyz",
            "/collections",
            "/_cluster/health",
            "/v1/models",
            "/auth/v1/health",
            "/status",
        )
    }
    double = HttpDouble(routes)
    yield double
    double.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path, password="the-real-password").start()
    yield server
    server.stop()


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(password="the-real-password").start()
    yield server
    server.destroy()


def leaks(text: str) -> list[str]:
    return [name for name, value in SENTINELS.items() if value in text]


def test_no_secret_reaches_any_output(tmp_path: Path, leaky_double, private_pg, private_redis):
    url = leaky_double.url
    (tmp_path / "scrape_token").write_text(SENTINELS["SCRAPE_TOKEN"])
    (tmp_path / "redis_password").write_text(SENTINELS["REDIS_PASSWORD"])
    port = free_port()
    config: dict[str, Any] = {
        "server": {
            "listen": f"127.0.0.1:{port}",
            "log_level": "debug",
            "auth": {"bearer_token_file": "scrape_token"},
        },
        "defaults": {"timeout": "2s", "circuit_breaker": {"failure_threshold": 100}},
        "dependencies": [
            {
                "name": "pg",
                "kind": "postgres",
                "port": private_pg.port,
                "password": "${PG_PASSWORD}",
            },
            {
                "name": "pg-dsn",
                "kind": "postgres",
                "dsn": "postgresql://postgres:${PG_DSN_PASSWORD}@127.0.0.1:1/app",
            },
            {
                "name": "pg-dsn-host",
                "kind": "postgres",
                "dsn": "postgresql://postgres:${PG_DSN_PASSWORD}@no-such-host.invalid/app",
            },
            {
                "name": "redis",
                "kind": "redis",
                "port": private_redis.port,
                "password_file": "redis_password",
            },
            {
                "name": "neo4j",
                "kind": "neo4j",
                "url": url,
                "username": "neo4j",
                "password": "${NEO4J_PASSWORD}",
            },
            {"name": "qdrant", "kind": "qdrant", "url": url, "api_key": "${QDRANT_KEY}"},
            {"name": "es", "kind": "elasticsearch", "url": url, "api_key": "${ES_KEY}"},
            {
                "name": "openai",
                "kind": "http",
                "preset": "openai",
                "url": url,
                "api_key": "${OPENAI_KEY}",
            },
            {
                "name": "supabase",
                "kind": "http",
                "preset": "supabase",
                "url": url,
                "api_key": "${SUPABASE_KEY}",
            },
            {
                "name": "generic",
                "kind": "http",
                "url": url,
                "path": "/status",
                "bearer_token": "${BEARER}",
                "headers": {"X-Token": "${HEADER_TOKEN}"},
            },
        ],
    }
    path = tmp_path / "exporter.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in SENTINELS.items() if k not in ("SCRAPE_TOKEN", "REDIS_PASSWORD")}
    server = Process([*OBSSTACK, "serve", "--config", str(path)], tmp_path / "serve.log", env=env)
    try:
        wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 20, "obsstack serve")
        headers = {"Authorization": f"Bearer {SENTINELS['SCRAPE_TOKEN']}"}
        bodies = {}
        for endpoint in [
            "/metrics",
            "/ready",
            "/",
            *(f"/probe?target={d['name']}" for d in config["dependencies"]),
        ]:
            for accept in ("text/plain", "application/openmetrics-text; version=1.0.0"):
                response = httpx.get(
                    f"http://127.0.0.1:{port}{endpoint}",
                    headers={**headers, "Accept": accept},
                    timeout=30,
                )
                assert response.status_code in (200, 503), endpoint
                bodies[f"{endpoint} {accept}"] = response.text + str(response.headers)
        unauthorised = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        bodies["401"] = unauthorised.text + str(unauthorised.headers)
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", headers=headers, timeout=30).json()
    finally:
        server.stop()
    # Every dependency failed, so every error path ran: auth, refused, DNS, unhealthy.
    assert all(not d["up"] for d in ready["dependencies"].values()), ready
    assert ready["dependencies"]["pg"]["error"] == "auth"
    assert ready["dependencies"]["redis"]["error"] == "auth"
    assert ready["dependencies"]["pg-dsn"]["error"] == "refused"
    assert ready["dependencies"]["neo4j"]["error"] == "unhealthy"
    for where, text in bodies.items():
        assert leaks(text) == [], where
    log = server.output()
    assert "dependency down" in log
    assert leaks(log) == [], log


def test_config_errors_never_echo_expanded_secrets(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("PG_PASSWORD", SENTINELS["PG_PASSWORD"])
    cases = {
        "choice": {"name": "db", "kind": "postgres", "sslmode": "${PG_PASSWORD}"},
        "url": {"name": "api", "kind": "http", "url": "ftp://${PG_PASSWORD}@host/"},
    }
    for case, dependency in cases.items():
        path = tmp_path / f"{case}.yaml"
        path.write_text(yaml.safe_dump({"dependencies": [dependency]}))
        assert main(["check-config", str(path)]) == 2
        err = capsys.readouterr().err
        assert "${PG_PASSWORD}" in err and leaks(err) == [], err


def test_check_config_output_names_no_secret(tmp_path: Path):
    path = tmp_path / "exporter.yaml"
    path.write_text(
        yaml.safe_dump(
            {"dependencies": [{"name": "db", "kind": "postgres", "password": "${PG_PASSWORD}"}]}
        )
    )
    result = subprocess.run(
        [*OBSSTACK, "check-config", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PG_PASSWORD": SENTINELS["PG_PASSWORD"]},
    )
    assert result.returncode == 0
    assert leaks(result.stdout + result.stderr) == []
