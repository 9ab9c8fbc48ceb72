"""``obsstack kpis`` as a process: slow queries cancelled by the server, scrapes never stalled,
secrets never shown."""

from __future__ import annotations

import base64
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from obsstack.kpis.config import load_config
from obsstack.kpis.engine import KpiEngine
from obsstack.kpis.server import create_app
from tests.instrumentation.helpers import samples
from tests.kpis.conftest import DSN
from tests.kpis.helpers import document, eventually, write
from tests.support.processes import (
    Process,
    free_port,
    http_ok,
    modules_loaded,
    running,
    wait_until,
)
from tests.support.servers import PrivatePostgres

ROOT = Path(__file__).resolve().parents[2]


def start_exporter(directory: Path, data: dict[str, Any]) -> tuple[Process, str]:
    port = free_port()
    path = write(directory, data)
    process = Process(
        [sys.executable, "-m", "obsstack.cli", "kpis", "--config", str(path),
         "--listen", f"127.0.0.1:{port}"],
        directory / "kpis.log",
        cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ok(f"{url}/health"), 30, "the KPI exporter to serve")
    return process, url


async def test_a_query_over_its_timeout_is_cancelled_by_the_server_without_stalling_scrapes(
    tmp_path, schema
):
    marker = f"slow_{uuid.uuid4().hex[:8]}"
    data = document(schema, [
        {"name": "slow", "metric": "test_slow", "type": "gauge", "help": "Sleeps.",
         "sql": f"SELECT pg_sleep(60) IS NULL AS value, '{marker}' AS marker",
         "interval": "1h", "timeout": "2s"},
        {"name": "fast", "metric": "test_fast", "type": "gauge", "help": "Answers.",
         "sql": "SELECT 42 AS value", "interval": "1s", "timeout": "500ms"},
    ])  # fmt: skip
    watcher = await asyncpg.connect(DSN)

    async def sleeping_backends() -> int:
        return int(
            await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND application_name = 'obsstack-kpis' AND query LIKE $1",
                f"%{marker}%",
            )
        )

    process, url = start_exporter(tmp_path, data)
    try:
        with running(process):
            async with httpx.AsyncClient(base_url=url) as client:

                async def slow_running() -> bool:
                    return await sleeping_backends() == 1

                await eventually(slow_running, 10, "the slow query to run")
                scrape = await client.get("/metrics")
                # The slow query was still running when the scrape was answered.
                assert await sleeping_backends() == 1
                assert scrape.status_code == 200
                assert samples(scrape.text, "test_fast") == {(): 42}
                assert samples(scrape.text, "kpi_query_success") == {(("query", "fast"),): 1}

                async def slow_failed() -> bool:
                    text = (await client.get("/metrics")).text
                    return samples(text, "kpi_query_success").get((("query", "slow"),)) == 0

                await eventually(slow_failed, 10, "the slow query to be reported failed")
                assert await sleeping_backends() == 0
                ready = (await client.get("/ready")).json()
                assert ready["kpis"]["slow"]["error"] == (
                    "cancelled by the server after statement_timeout (2s)"
                )
                assert samples((await client.get("/metrics")).text, "test_slow") == {}
    finally:
        await watcher.close()


def test_database_passwords_never_appear_in_metrics_pages_or_logs(tmp_path):
    password = f"pw-{uuid.uuid4().hex}"
    postgres = PrivatePostgres(password=password).start()
    try:
        (tmp_path / "db_password").write_text(password + "\n")
        data = document("public", [
            {"name": "one", "metric": "test_one", "type": "gauge", "help": "One.",
             "sql": "SELECT 1 AS value", "interval": "1s", "timeout": "500ms"},
        ])  # fmt: skip
        data["database"].update(port=postgres.port, database="postgres",
                                password_file="db_password")  # fmt: skip
        process, url = start_exporter(tmp_path, data)
        with running(process):
            wait_until(lambda: httpx.get(f"{url}/ready").status_code == 200, 10, "a good run")
            pages = [httpx.get(f"{url}{path}").text for path in ("/metrics", "/ready", "/")]
        wrong = f"wrong-{uuid.uuid4().hex}"
        (tmp_path / "db_password").write_text(wrong)
        process, url = start_exporter(tmp_path, data)
        with running(process):
            wait_until(
                lambda: httpx.get(f"{url}/ready").json()["kpis"]["one"]["success"] is False,
                10,
                "a failed run",
            )
            pages += [httpx.get(f"{url}{path}").text for path in ("/metrics", "/ready", "/")]
            error = httpx.get(f"{url}/ready").json()["kpis"]["one"]["error"]
        assert "InvalidPasswordError" in error
        logs = (tmp_path / "kpis.log").read_text()
        assert "KPI query failed" in logs
        for text in [*pages, logs]:
            assert password not in text
            assert wrong not in text
    finally:
        postgres.destroy()


@pytest.mark.parametrize(
    ("auth", "good", "challenge"),
    [
        ({"bearer_token_file": "token"}, "Bearer s3cret-token", "Bearer"),
        (
            {"basic": {"username": "prometheus", "password_file": "token"}},
            "Basic " + base64.b64encode(b"prometheus:s3cret-token").decode(),
            "Basic",
        ),
    ],
    ids=["bearer", "basic"],
)
async def test_server_auth_guards_every_endpoint_but_health(
    tmp_path, schema, auth, good, challenge
):
    (tmp_path / "token").write_text("s3cret-token\n")
    data = document(schema, [{"name": "one", "metric": "test_one", "type": "gauge",
                              "help": "One.", "sql": "SELECT 1 AS value"}])  # fmt: skip
    data["server"] = {"auth": auth}
    app = create_app(KpiEngine(load_config(write(tmp_path, data))))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kpis") as client:
        for path in ("/metrics", "/ready", "/"):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
                refused = await client.get(path, headers=headers)
                assert refused.status_code == 401, (path, headers)
                assert refused.headers["www-authenticate"].startswith(challenge)
                assert "s3cret" not in refused.text
        assert (await client.get("/metrics", headers={"Authorization": good})).status_code == 200
        assert (await client.get("/health")).status_code == 200


def test_bearer_token_file_option_turns_auth_on(tmp_path, schema):
    (tmp_path / "scrape_token").write_text("from-the-option")
    data = document(schema, [
        {"name": "one", "metric": "test_one", "type": "gauge", "help": "One.",
         "sql": "SELECT 1 AS value", "interval": "1s", "timeout": "500ms"},
    ])  # fmt: skip
    port = free_port()
    process = Process(
        [sys.executable, "-m", "obsstack.cli", "kpis", "--config", str(write(tmp_path, data)),
         "--listen", f"127.0.0.1:{port}", "--bearer-token-file", str(tmp_path / "scrape_token")],
        tmp_path / "kpis.log",
        cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running(process):
        wait_until(http_ok(f"{url}/health"), 30, "the KPI exporter to serve")
        assert httpx.get(f"{url}/metrics").status_code == 401
        scrape = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer from-the-option"})
        assert scrape.status_code == 200
    assert "from-the-option" not in process.output()


async def test_no_redirect_reflects_the_host_header(tmp_path, schema):
    data = document(schema, [{"name": "one", "metric": "test_one", "type": "gauge",
                              "help": "One.", "sql": "SELECT 1 AS value"}])  # fmt: skip
    app = create_app(KpiEngine(load_config(write(tmp_path, data))))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kpis") as client:
        for path in ("/metrics/", "/ready/", "/health/"):
            answer = await client.get(path, headers={"Host": "attacker.example"})
            assert answer.status_code == 404
            assert "location" not in answer.headers


def test_the_exporter_loads_neither_fastapi_nor_pydantic(tmp_path):
    """What the exporter does not use costs it no memory: its four routes are served by
    Starlette alone."""
    path = write(tmp_path, document("public", [{"name": "one", "metric": "test_one",
                                              "type": "gauge", "help": "One.",
                                              "sql": "SELECT 1 AS value"}]))  # fmt: skip
    setup = (
        "from obsstack.kpis.commands import run\n"
        "from obsstack.kpis.config import load_config\n"
        "from obsstack.kpis.engine import KpiEngine\n"
        "from obsstack.kpis.server import create_app\n"
        f"create_app(KpiEngine(load_config({str(path)!r})))"
    )
    loaded = modules_loaded(setup, ("asyncpg", "fastapi", "pydantic", "starlette"))
    assert loaded == ["asyncpg", "starlette"]
