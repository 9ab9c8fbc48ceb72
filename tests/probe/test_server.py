"""The exporter's HTTP surface: formats, /probe safety, readiness, auth and the landing page."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.probe.conftest import PG, REDIS, sample, write_config
from tests.support.doubles import Blackhole
from tests.support.processes import free_port, modules_loaded, require_binary

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


async def test_metrics_negotiates_openmetrics(make_config, exporter_for):
    exporter = exporter_for(make_config([{"name": "main-db", **PG}]))
    plain = await exporter.get("/metrics")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    openmetrics = await exporter.get("/metrics", headers={"Accept": OPENMETRICS})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
    assert 'dependency_up{dependency="main-db",kind="postgres"} 1.0' in openmetrics.text


async def test_metrics_pass_promtool_check_metrics(make_config, exporter_for):
    exporter = exporter_for(
        make_config(
            [
                {"name": "main-db", **PG},
                {"name": "cache", **REDIS},
                {"name": "gone", "kind": "http", "url": f"http://127.0.0.1:{free_port()}"},
            ]
        )
    )
    text = await exporter.metrics()
    for path in ("/metrics", "/probe?target=main-db", "/probe?target=gone"):
        body = (await exporter.get(path)).text
        result = subprocess.run(
            [require_binary("promtool"), "check", "metrics"],
            input=body,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and result.stdout + result.stderr == "", (path, result)
    assert sample(text, "obsstack_build_info") == 1


async def test_probe_is_blackbox_style(make_config, exporter_for):
    closed = free_port()
    exporter = exporter_for(
        make_config(
            [
                {"name": "cache", **REDIS},
                {"name": "gone", "kind": "redis", "port": closed, "retries": {"attempts": 1}},
            ]
        )
    )
    ok = await exporter.get("/probe", params={"target": "cache"})
    assert ok.status_code == 200
    assert sample(ok.text, "probe_success") == 1
    assert sample(ok.text, "probe_timeout_seconds") == 3.0
    assert (sample(ok.text, "probe_duration_seconds") or 0) > 0
    assert sample(ok.text, "dependency_redis_max_clients", dependency="cache") is not None
    # A fresh registry per request: nothing of the other dependency leaks in.
    assert "gone" not in ok.text and "dependency_up" not in ok.text
    failed = await exporter.get("/probe", params={"target": "gone"})
    assert failed.status_code == 200  # a failed probe is a result, not an HTTP error
    assert sample(failed.text, "probe_success") == 0
    assert sample(failed.text, "probe_failure_info", reason="refused") == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "target: exactly one target=NAME is required"),
        ({"target": ""}, "target: exactly one target=NAME is required"),
        ({"target": "127.0.0.1:6379"}, "target: '127.0.0.1:6379' is not a configured dependency"),
        (
            {"target": "http://169.254.169.254/latest/meta-data/"},
            "target: 'http://169.254.169.254/latest/meta-data/' is not a configured dependency",
        ),
        (
            {"target": "hole", "module": "http_2xx"},
            "unknown query parameter 'module': only target is accepted",
        ),
    ],
)
async def test_probe_rejects_anything_but_a_configured_name(
    make_config, exporter_for, query, message
):
    hole = Blackhole()
    try:
        exporter = exporter_for(make_config([{"name": "hole", "kind": "redis", "port": hole.port}]))
        response = await exporter.get("/probe", params=query)
        assert response.status_code == 400
        assert response.text.startswith(message)
        assert hole.accepted == 0  # no network I/O at all
    finally:
        hole.close()


async def test_probe_rejects_two_targets(make_config, exporter_for):
    exporter = exporter_for(make_config([{"name": "cache", **REDIS}]))
    response = await exporter.get("/probe?target=cache&target=cache")
    assert response.status_code == 400


async def test_ready_is_503_only_when_a_critical_dependency_is_down(make_config, exporter_for):
    closed = free_port()
    gone = {"kind": "redis", "port": closed, "retries": {"attempts": 1}}
    optional_down = exporter_for(
        make_config(
            [
                {"name": "main-db", **PG, "critical": True},
                {"name": "gone", **gone},
            ]
        )
    )
    response = await optional_down.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["dependencies"]["gone"]["up"] is False
    assert body["dependencies"]["gone"]["error"] == "refused"
    assert body["dependencies"]["main-db"]["up"] is True
    assert body["dependencies"]["main-db"]["latency_seconds"] > 0

    critical_down = exporter_for(
        make_config(
            [
                {"name": "main-db", **PG},
                {"name": "gone", **gone, "critical": True},
            ]
        )
    )
    response = await critical_down.get("/ready")
    assert response.status_code == 503
    assert response.json()["critical_down"] == ["gone"]


async def test_ready_reuses_fresh_results(make_config, exporter_for):
    hole = Blackhole()
    try:
        exporter = exporter_for(
            make_config(
                [{"name": "hole", "kind": "redis", "port": hole.port, "timeout": "200ms"}],
                server={"stale_after": "1h"},
            )
        )
        await exporter.metrics()
        for _ in range(3):
            assert (await exporter.get("/ready")).status_code == 200
        assert hole.accepted == 1
    finally:
        hole.close()


async def test_health_is_liveness_only(make_config, exporter_for):
    exporter = exporter_for(
        make_config([{"name": "gone", "kind": "redis", "port": free_port(), "critical": True}])
    )
    response = await exporter.get("/health")
    assert response.status_code == 200 and response.text == "ok\n"


async def test_landing_page_lists_dependencies_with_links(make_config, exporter_for):
    exporter = exporter_for(
        make_config(
            [
                {"name": "main-db", **PG, "critical": True},
                {"name": "gone", "kind": "redis", "port": free_port(), "retries": {"attempts": 1}},
            ]
        )
    )
    page = await exporter.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<a href="probe?target=main-db">main-db</a>' in page.text
    assert 'class="up">up</td>' in page.text
    assert "down (refused)" in page.text
    for link in ('href="metrics"', 'href="ready"', 'href="health"'):
        assert link in page.text


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
async def test_auth_guards_every_endpoint_but_health(
    tmp_path: Path, make_config, exporter_for, scheme
):
    (tmp_path / "token").write_text("scrape-Token-Sentinel\n")
    (tmp_path / "password").write_text("basic-Password-Sentinel\n")
    auth: dict[str, Any]
    if scheme == "bearer":
        auth = {"bearer_token_file": "token"}
        good = "Bearer scrape-Token-Sentinel"
    else:
        auth = {"basic": {"username": "prometheus", "password_file": "password"}}
        good = "Basic " + base64.b64encode(b"prometheus:basic-Password-Sentinel").decode()
    exporter = exporter_for(make_config([{"name": "main-db", **PG}], server={"auth": auth}))
    for path in ("/metrics", "/probe?target=main-db", "/ready", "/"):
        denied = await exporter.get(path)
        assert denied.status_code == 401, path
        assert "www-authenticate" in denied.headers
        wrong = await exporter.get(path, headers={"Authorization": good[:-1] + "x"})
        assert wrong.status_code == 401, path
        allowed = await exporter.get(path, headers={"Authorization": good})
        assert allowed.status_code == 200, path
    assert (await exporter.get("/health")).status_code == 200


@pytest.mark.parametrize("path", ["/metrics/", "/ready/", "/probe/?target=main-db", "/health/"])
async def test_no_redirect_reflects_the_host_header(make_config, exporter_for, path):
    exporter = exporter_for(make_config([{"name": "main-db", **PG}]))
    response = await exporter.get(path, headers={"Host": "attacker.example"})
    assert response.status_code == 404
    assert "location" not in response.headers
    assert "attacker" not in response.text


def test_only_the_configured_kinds_are_loaded(tmp_path):
    """An exporter of PostgreSQL and Redis loads neither an HTTP client, nor redis-py, nor
    FastAPI: what it does not use costs it no memory."""
    path = write_config(tmp_path, [{"name": "db", **PG}, {"name": "cache", **REDIS}])
    setup = (
        "from obsstack.probe.config import load_config\n"
        "from obsstack.probe.server import create_app\n"
        f"create_app(load_config({str(path)!r}))"
    )
    loaded = modules_loaded(setup, ("asyncpg", "httpx", "redis", "fastapi", "pydantic"))
    assert loaded == ["asyncpg"]
