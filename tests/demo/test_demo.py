"""The demo platform end to end: real PostgreSQL and Redis, its traffic, its KPIs and traces.

Each test run uses its own PostgreSQL schema and Redis key prefix, removed afterwards.
Spans are received by ``OtlpReceiver``, an OTLP/HTTP protocol double of the Collector.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis
import yaml

from obsstack.core import naming
from obsstack.demo.schema import ensure_schema
from obsstack.kpis.config import SHIPPED, load_config
from obsstack.kpis.engine import KpiEngine
from tests.instrumentation.helpers import request_counts, samples
from tests.instrumentation.otlp import OtlpReceiver
from tests.kpis.helpers import exposition, write
from tests.support.processes import Process, free_port, http_ok, running, wait_until

ROOT = Path(__file__).resolve().parents[2]
DSN = "postgresql://postgres@127.0.0.1:5432/test"
QUERY_ROUTE = "/v1/agents/{agent_type}/query"


@dataclass
class Demo:
    url: str
    schema: str
    prefix: str
    process: Process
    receiver: OtlpReceiver

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics").text


def drop(schema: str, prefix: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
         f"DROP SCHEMA IF EXISTS {schema} CASCADE"],
        check=True, capture_output=True,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tag = uuid.uuid4().hex[:10]
    schema, prefix = f"obsstack_demo_t{tag}", f"obsstack_demo_t{tag}:"
    port = free_port()
    receiver = OtlpReceiver()
    process = Process(
        [sys.executable, "-m", "obsstack.cli", "demo", "serve", "--listen",
         f"127.0.0.1:{port}", "--schema", schema, "--redis-prefix", prefix,
         "--time-scale", "0.02"],
        tmp_path_factory.mktemp("demo") / "demo.log",
        env={
            "OBSSTACK_DEMO_BACKUP_INTERVAL": "1s",
            "OBSSTACK_DEMO_SYNC_INTERVAL": "1s",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
        cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with running(process):
            wait_until(http_ok(f"{url}/ready"), 30, "the demo platform to be ready")
            yield Demo(url, schema, prefix, process, receiver)
    finally:
        receiver.close()
        drop(schema, prefix)


@pytest.fixture(scope="module")
def traffic(demo: Demo) -> dict[str, int]:
    """One bounded run of the traffic generator against the demo."""
    result = subprocess.run(
        [sys.executable, "-m", "obsstack.cli", "demo", "traffic", "--target", demo.url,
         "--requests", "400", "--rate", "200", "--seed", "7", "--burst-every", "500ms"],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    statuses: dict[str, int] = json.loads(result.stdout)["statuses"]
    return statuses


def test_the_traffic_mix_exercises_every_kind_of_answer(traffic):
    assert sum(traffic.values()) == 400
    for status in ("200", "401", "404", "429"):
        assert traffic.get(status, 0) > 0, f"no {status} in {traffic}"
    assert not [s for s in traffic if not s.isdigit()], "transport errors"


def test_service_metrics_cover_routes_agents_reviews_users_and_tenants(demo, traffic):
    text = demo.metrics()
    counts = request_counts(text)
    assert counts[("POST", QUERY_ROUTE, "200")] > 0
    assert counts[("POST", QUERY_ROUTE, "429")] > 0
    assert counts[("POST", "/v1/reviews", "200")] > 0
    assert counts[("POST", "/v1/auth/login", "401")] > 0
    assert counts[("GET", naming.UNMATCHED_ROUTE, "404")] > 0
    # The model API stand-in is a dependency: it shows in traces, not in the RED metrics.
    assert not [route for _, route, _ in counts if route.startswith("/internal")]
    agents = {dict(k)[naming.AGENT_TYPE] for k in samples(text, naming.AI_QUERIES.name)}
    assert len(agents) == 10
    assert samples(text, naming.CODE_REVIEWS.name)
    wait_until(
        lambda: samples(demo.metrics(), naming.ACTIVE_USERS.name)[()] > 0, 15, "active users"
    )
    tenants = {dict(k)[naming.TENANT] for k in samples(text, naming.TENANT_REQUESTS.name)}
    assert naming.OTHER_TENANT in tenants
    assert len(tenants) == 9  # the demo's cap of 8, plus other
    assert samples(text, naming.TENANT_LABEL_CAP.name) == {(): 8}


def test_lockouts_and_incidents(demo, traffic):
    good = {"email": "user3@soylent.example", "password": "demo-soylent-3"}
    # The traffic's typos may have left failures on this account: a good login clears them.
    assert httpx.post(f"{demo.url}/v1/auth/login", json=good).status_code == 200
    login = {"email": "user3@soylent.example", "password": "not-the-password"}
    codes = [httpx.post(f"{demo.url}/v1/auth/login", json=login).status_code for _ in range(6)]
    assert codes == [401] * 5 + [423]
    assert httpx.post(f"{demo.url}/v1/auth/login", json=good).status_code == 423

    incident = {"agent_type": "translator", "failure_rate": 1.0, "minutes": 1}
    assert httpx.put(f"{demo.url}/internal/incident", json=incident).status_code == 200
    query = httpx.post(
        f"{demo.url}/v1/agents/translator/query",
        json={"prompt": "hello"},
        headers={"x-tenant-id": "acme", "x-user": "user1@acme.example"},
    )
    assert query.status_code == 502
    assert httpx.delete(f"{demo.url}/internal/incident").json() == {"ended": 1}
    failures = samples(demo.metrics(), naming.AI_QUERY_FAILURES.name)
    assert failures[((naming.AGENT_TYPE, "translator"),)] >= 1


def test_the_shipped_kpis_read_what_the_demo_recorded(demo, traffic, tmp_path):
    wait_until(lambda: "backup succeeded" in demo.process.output(), 15, "a backup")
    data = yaml.safe_load(SHIPPED.read_text())
    data["database"]["search_path"] = demo.schema
    # The demo's throw-away schema, read as the shared database's superuser (the shipped reader
    # role is tested in tests/kpis/test_platform_kpis.py).
    data["database"].update(user="postgres", allow_privileged_role=True)

    async def run_all() -> str:
        engine = KpiEngine(load_config(write(tmp_path, data)))
        await engine.start(schedule=False)
        try:
            for state in engine.states.values():
                await engine.run(state)
        finally:
            await engine.stop()
        assert {n: s.last_error for n, s in engine.states.items() if not s.success} == {}
        return exposition(engine)

    kpis = asyncio.run(run_all())
    service = demo.metrics()
    # Every query the service counted, the database recorded.
    assert sum(samples(kpis, "platform_ai_queries_total").values()) == sum(
        samples(service, naming.AI_QUERIES.name).values()
    )
    assert sum(samples(kpis, "platform_rate_limit_rejections_total").values()) > 0
    assert samples(kpis, "platform_login_failures_total")[()] > 0
    assert samples(kpis, "platform_active_users")[()] > 0
    assert samples(kpis, "platform_backup_last_success_timestamp_seconds")[()] > 0
    assert {dict(k)["entity"] for k in samples(kpis, "platform_graph_sync_drift")} == {
        "tenants", "users", "code_reviews",
    }  # fmt: skip


def test_redis_keys_stay_under_the_demo_prefix(demo, traffic):
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys = [key.decode() for key in client.scan_iter(f"{demo.prefix}*")]
    assert f"{demo.prefix}active_users" in keys
    assert any(key.startswith(f"{demo.prefix}ratelimit:") for key in keys)


def test_an_ai_query_is_one_trace_with_a_client_span_to_the_model_api(demo, traffic):
    response = httpx.post(
        f"{demo.url}/v1/agents/doc_search/query",
        json={"prompt": "where is the runbook?"},
        headers={"x-tenant-id": "globex", "x-request-id": "trace-me-1"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-me-1"
    line = next(
        json.loads(entry)
        for entry in demo.process.output().splitlines()
        if '"trace-me-1"' in entry and "ai query answered" in entry
    )
    trace_id = line["trace_id"]

    def both_spans() -> bool:
        spans = [s for s in demo.receiver.spans if s.trace_id == trace_id]
        return any(s.is_client for s in spans) and any(s.is_server for s in spans)

    # The client span ends first and may be exported in an earlier batch than the server span.
    wait_until(both_spans, 10, "the server and client spans")
    trace = [s for s in demo.receiver.spans if s.trace_id == trace_id]
    [server] = [s for s in trace if s.is_server]
    [client] = [s for s in trace if s.is_client]
    assert server.service == "saas-api"
    assert server.attributes["http.route"] == QUERY_ROUTE
    assert client.parent_span_id in {s.span_id for s in trace}  # under the server span
    assert client.attributes["url.full"].endswith("/internal/model/doc_search")
    assert client.attributes["http.request.method"] == "POST"
    assert line["tenant_id"] == "globex"


async def test_the_schema_can_be_created_by_two_instances_at_once():
    schema = f"obsstack_demo_t{uuid.uuid4().hex[:10]}"
    first, second = await asyncpg.connect(DSN), await asyncpg.connect(DSN)
    try:
        await asyncio.gather(ensure_schema(first, schema), ensure_schema(second, schema))
        assert await first.fetchval(f"SELECT count(*) FROM {schema}.tenants") == 12
        assert await first.fetchval(f"SELECT count(*) FROM {schema}.users") == 60
    finally:
        await first.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await first.close()
        await second.close()


def test_no_redirect_reflects_the_host_header(demo):
    for path in ("/metrics/", "/ready/", "/v1/agents/"):
        answer = httpx.get(demo.url + path, headers={"Host": "attacker.example"}, timeout=10)
        assert answer.status_code in (404, 405), path
        assert "location" not in answer.headers
