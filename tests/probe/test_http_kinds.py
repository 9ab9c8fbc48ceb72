"""HTTP-based kinds against protocol doubles (no Neo4j, Qdrant, Elasticsearch, OpenAI or
Supabase server exists on this machine). Each double answers as the documented API does:

- Neo4j transactional HTTP API: ``POST /db/{db}/tx/commit`` -> ``{"results", "errors"}``,
  errors carry codes such as ``Neo.ClientError.Security.Unauthorized``.
- Qdrant: ``/healthz`` 200 "healthz check passed", ``/readyz`` 200 or 503 while shards load,
  ``GET /collections`` (``api-key`` header) -> ``{"result": {"collections": [...]}}``.
- Elasticsearch: ``GET /_cluster/health`` -> ``status``, ``number_of_nodes``,
  ``unassigned_shards`` ...
- OpenAI: ``GET /v1/models`` with ``Authorization: Bearer``, ``x-ratelimit-*`` headers.
- Supabase: ``GET /auth/v1/health`` with the ``apikey`` header.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.probe.conftest import sample
from tests.support.doubles import HttpDouble, Reply, Request, self_signed_certificate


@pytest.fixture
def doubles() -> Iterator[list[HttpDouble]]:
    made: list[HttpDouble] = []
    yield made
    for double in made:
        double.close()


def serve(doubles: list[HttpDouble], routes, **kwargs) -> HttpDouble:
    doubles.append(HttpDouble(routes, **kwargs))
    return doubles[-1]


def neo4j_commit(request: Request) -> Reply:
    if request.headers.get("authorization") != "Basic bmVvNGo6bmVvLXB3":  # neo4j:neo-pw
        return Reply(
            401,
            {
                "errors": [
                    {
                        "code": "Neo.ClientError.Security.Unauthorized",
                        "message": "Invalid username or password.",
                    }
                ]
            },
        )
    return Reply(
        200,
        {"results": [{"columns": ["ok"], "data": [{"row": [1], "meta": [None]}]}], "errors": []},
    )


async def test_neo4j_round_trip(doubles, make_config, exporter_for):
    double = serve(doubles, {("POST", "/db/neo4j/tx/commit"): neo4j_commit})
    deps = [
        {
            "name": "graph",
            "kind": "neo4j",
            "url": double.url,
            "username": "neo4j",
            "password": "neo-pw",
        },
        {
            "name": "graph-badauth",
            "kind": "neo4j",
            "url": double.url,
            "username": "neo4j",
            "password": "nope",
        },
    ]
    text = await exporter_for(make_config(deps)).metrics()
    assert sample(text, "dependency_up", dependency="graph") == 1
    assert (sample(text, "dependency_neo4j_query_duration_seconds", dependency="graph") or 0) > 0
    assert sample(text, "dependency_up", dependency="graph-badauth") == 0
    assert (
        sample(text, "dependency_probe_failures_total", dependency="graph-badauth", reason="auth")
        == 1
    )
    assert json.loads(double.requests[0].body) == {"statements": [{"statement": "RETURN 1 AS ok"}]}


async def test_neo4j_query_error_is_unhealthy(doubles, make_config, exporter_for):
    double = serve(
        doubles,
        {
            ("POST", "/db/neo4j/tx/commit"): Reply(
                200,
                {
                    "results": [],
                    "errors": [
                        {
                            "code": "Neo.TransientError.General.DatabaseUnavailable",
                            "message": "Database 'neo4j' is unavailable.",
                        }
                    ],
                },
            )
        },
    )
    text = await exporter_for(
        make_config([{"name": "graph", "kind": "neo4j", "url": double.url}])
    ).metrics()
    assert (
        sample(text, "dependency_probe_failures_total", dependency="graph", reason="unhealthy") == 1
    )


async def test_qdrant_ready_not_ready_and_collections(doubles, make_config, exporter_for):
    ready = serve(
        doubles,
        {
            ("GET", "/healthz"): Reply(200, "healthz check passed"),
            ("GET", "/readyz"): Reply(200, "all shards are ready"),
            ("GET", "/collections"): lambda r: (
                Reply(
                    200,
                    {
                        "result": {"collections": [{"name": "docs"}, {"name": "code"}]},
                        "status": "ok",
                        "time": 0.0001,
                    },
                )
                if r.headers.get("api-key") == "qd-key"
                else Reply(403, "forbidden")
            ),
        },
    )
    loading = serve(
        doubles,
        {
            ("GET", "/healthz"): Reply(200, "healthz check passed"),
            ("GET", "/readyz"): Reply(503, "some shards are not ready"),
        },
    )
    deps = [
        {"name": "vectors", "kind": "qdrant", "url": ready.url, "api_key": "qd-key"},
        {"name": "vectors-nokey", "kind": "qdrant", "url": ready.url},
        {"name": "vectors-loading", "kind": "qdrant", "url": loading.url},
    ]
    text = await exporter_for(make_config(deps)).metrics()
    assert sample(text, "dependency_up", dependency="vectors") == 1
    assert sample(text, "dependency_qdrant_collections", dependency="vectors") == 2
    assert sample(text, "dependency_up", dependency="vectors-nokey") == 1
    assert sample(text, "dependency_qdrant_collections", dependency="vectors-nokey") is None
    assert sample(text, "dependency_up", dependency="vectors-loading") == 0
    assert sample(text, "dependency_qdrant_ready", dependency="vectors-loading") == 0
    assert (
        sample(
            text,
            "dependency_probe_failures_total",
            dependency="vectors-loading",
            reason="unhealthy",
        )
        == 1
    )
    # The collection count is asked for only with a key; the health checks need none.
    assert [r.path for r in ready.requests].count("/collections") == 1


def es_health(status: str, unassigned: int = 0, nodes: int = 3) -> Reply:
    return Reply(
        200,
        {
            "cluster_name": "search",
            "status": status,
            "timed_out": False,
            "number_of_nodes": nodes,
            "number_of_data_nodes": nodes,
            "active_primary_shards": 10,
            "active_shards": 20,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": unassigned,
        },
    )


@pytest.mark.parametrize(
    ("status", "down_at", "up", "code"),
    [
        ("green", "red", 1, 0),
        ("yellow", "red", 1, 1),
        ("yellow", "yellow", 0, 1),
        ("red", "red", 0, 2),
    ],
)
async def test_elasticsearch_cluster_health(
    doubles, make_config, exporter_for, status, down_at, up, code
):
    double = serve(doubles, {("GET", "/_cluster/health"): es_health(status, unassigned=4, nodes=2)})
    text = await exporter_for(
        make_config(
            [{"name": "search", "kind": "elasticsearch", "url": double.url, "down_at": down_at}]
        )
    ).metrics()
    assert sample(text, "dependency_up", dependency="search") == up
    assert sample(text, "dependency_elasticsearch_cluster_status", dependency="search") == code
    assert sample(text, "dependency_elasticsearch_unassigned_shards", dependency="search") == 4
    assert sample(text, "dependency_elasticsearch_nodes", dependency="search") == 2


async def test_elasticsearch_malformed_answer_is_a_protocol_failure(
    doubles, make_config, exporter_for
):
    double = serve(doubles, {("GET", "/_cluster/health"): Reply(200, "<html>proxy error</html>")})
    text = await exporter_for(
        make_config([{"name": "search", "kind": "elasticsearch", "url": double.url}])
    ).metrics()
    assert (
        sample(text, "dependency_probe_failures_total", dependency="search", reason="protocol") == 1
    )


async def test_openai_preset_exports_rate_limit_headroom(doubles, make_config, exporter_for):
    def models(request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer sk-test-key":
            return Reply(401, {"error": {"message": "Incorrect API key provided"}})
        return Reply(
            200,
            {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]},
            headers={
                "x-ratelimit-remaining-requests": "4999",
                "x-ratelimit-remaining-tokens": "159000",
                "x-ratelimit-limit-requests": "5000",
                "x-ratelimit-limit-tokens": "160000",
            },
        )

    double = serve(doubles, {("GET", "/v1/models"): models})
    deps = [
        {
            "name": "openai",
            "kind": "http",
            "preset": "openai",
            "url": double.url,
            "api_key": "sk-test-key",
        },
        {
            "name": "openai-badkey",
            "kind": "http",
            "preset": "openai",
            "url": double.url,
            "api_key": "sk-wrong",
        },
    ]
    text = await exporter_for(make_config(deps)).metrics()
    assert sample(text, "dependency_up", dependency="openai") == 1
    assert sample(text, "dependency_http_ratelimit_remaining_requests", dependency="openai") == 4999
    assert sample(text, "dependency_http_ratelimit_remaining_tokens", dependency="openai") == 159000
    assert sample(text, "dependency_http_ratelimit_limit_tokens", dependency="openai") == 160000
    assert (
        sample(text, "dependency_probe_failures_total", dependency="openai-badkey", reason="auth")
        == 1
    )


async def test_supabase_preset_sends_the_apikey_header(doubles, make_config, exporter_for):
    double = serve(
        doubles,
        {
            ("GET", "/auth/v1/health"): lambda r: (
                Reply(200, {"version": "v2.150.0", "name": "GoTrue"})
                if r.headers.get("apikey") == "anon-key"
                else Reply(401, {"message": "No API key found in request"})
            )
        },
    )
    text = await exporter_for(
        make_config(
            [
                {
                    "name": "supabase",
                    "kind": "http",
                    "preset": "supabase",
                    "url": double.url,
                    "api_key": "anon-key",
                }
            ]
        )
    ).metrics()
    assert sample(text, "dependency_up", dependency="supabase") == 1
    assert sample(text, "dependency_http_status_code", dependency="supabase") == 200


async def test_generic_http_status_body_and_method(doubles, make_config, exporter_for):
    double = serve(
        doubles,
        {
            ("HEAD", "/status"): Reply(204),
            ("GET", "/status"): Reply(200, '{"db": "ok", "queue": "degraded"}'),
        },
    )
    deps = [
        {
            "name": "head-ok",
            "kind": "http",
            "url": double.url,
            "path": "/status",
            "method": "HEAD",
            "expected_status": [204],
        },
        {
            "name": "body-ok",
            "kind": "http",
            "url": double.url,
            "path": "/status",
            "body_match": '"db": "ok"',
        },
        {
            "name": "body-bad",
            "kind": "http",
            "url": double.url,
            "path": "/status",
            "body_match": '"queue": "ok"',
        },
        {"name": "status-bad", "kind": "http", "url": double.url, "path": "/missing"},
    ]
    text = await exporter_for(make_config(deps)).metrics()
    assert sample(text, "dependency_up", dependency="head-ok") == 1
    assert sample(text, "dependency_up", dependency="body-ok") == 1
    assert (
        sample(text, "dependency_probe_failures_total", dependency="body-bad", reason="unhealthy")
        == 1
    )
    assert sample(text, "dependency_http_status_code", dependency="status-bad") == 404
    assert (
        sample(text, "dependency_probe_failures_total", dependency="status-bad", reason="unhealthy")
        == 1
    )


async def test_a_rotated_ca_file_is_read_again(tmp_path: Path, doubles, make_config, exporter_for):
    """The CA bundle is loaded once per version of the file: replaced by one that vouches for
    the dependency's certificate, the next probe trusts it without a restart."""
    (tmp_path / "served").mkdir()
    (tmp_path / "other").mkdir()
    served = self_signed_certificate(tmp_path / "served", days=30)
    other = self_signed_certificate(tmp_path / "other", days=30)
    double = serve(doubles, {("GET", "/"): Reply(200, "ok")}, tls=served)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(Path(other.cert).read_bytes())
    deps = [
        {"name": "rotated", "kind": "http", "url": double.url, "tls": {"ca_file": str(ca_file)}}
    ]
    config = make_config(deps)
    before = await exporter_for(config).metrics()
    assert sample(before, "dependency_up", dependency="rotated") == 0
    ca_file.write_bytes(Path(served.cert).read_bytes())  # the rotation
    after = await exporter_for(config).metrics()
    assert sample(after, "dependency_up", dependency="rotated") == 1


async def test_tls_certificate_expiry_is_exported(
    tmp_path: Path, doubles, make_config, exporter_for
):
    tls = self_signed_certificate(tmp_path, days=30)
    double = serve(doubles, {("GET", "/"): Reply(200, "ok")}, tls=tls)
    deps = [
        {"name": "tls-trusted", "kind": "http", "url": double.url, "tls": {"ca_file": tls.cert}},
        {"name": "tls-untrusted", "kind": "http", "url": double.url},
    ]
    text = await exporter_for(make_config(deps)).metrics()
    expiry = sample(
        text, "dependency_http_tls_cert_expiry_timestamp_seconds", dependency="tls-trusted"
    )
    assert expiry is not None
    assert abs(expiry - (time.time() + 30 * 86400)) < 2 * 86400
    # A certificate nobody vouches for is a failed check, not a silent success.
    assert (
        sample(
            text, "dependency_probe_failures_total", dependency="tls-untrusted", reason="protocol"
        )
        == 1
    )
