"""A small live stack for running every dashboard query: real processes where this machine has
them, protocol doubles for the dependencies it does not run.

- ``obsstack demo serve`` (the platform stand-in, in its own PostgreSQL schema and Redis key
  prefix, tracing on so exemplars carry trace ids), driven by ``obsstack demo traffic``, and
  ``obsstack kpis`` reading that schema;
- ``obsstack serve`` probes the shared PostgreSQL and Redis, a private Redis with a maxmemory
  limit, and HTTP doubles answering as Neo4j's transactional API, Qdrant, Elasticsearch's
  cluster health and OpenAI's ``/v1/models`` (over TLS, with rate-limit headers) do;
- real Alertmanager (Debian ``prometheus-alertmanager``) with a webhook receiver;
- real node-exporter (Debian ``prometheus-node-exporter``), as ``obsstack up`` runs it;
- real Prometheus (Debian ``prometheus``, exemplar storage on) scraping all of them and
  itself every second, evaluating the generated rule files.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
import yaml

from obsstack.core import naming
from obsstack.kpis.config import SHIPPED as KPI_CONFIG
from tests.support.doubles import HttpDouble, Reply, Request, TlsFiles, self_signed_certificate
from tests.support.processes import (
    OBSSTACK,
    Process,
    free_port,
    http_ok,
    port_open,
    require_binary,
    wait_until,
)
from tests.support.servers import PrivatePrometheus

SCRAPE = "1s"


@dataclass
class LiveStack:
    """Everything started, in start order, so it can be stopped in reverse."""

    workdir: Path
    processes: list[Process] = field(default_factory=list)
    doubles: list[HttpDouble] = field(default_factory=list)
    scrape: list[dict[str, Any]] = field(default_factory=list)
    prometheus: PrivatePrometheus | None = None
    name: str = field(default_factory=lambda: f"obsstack_dash_{uuid.uuid4().hex[:10]}")

    def start(self, name: str, argv: list[str], ready: Callable[[], bool], **kw: Any) -> Process:
        process = Process(argv, self.workdir / f"{name}.log", **kw)
        self.processes.append(process)
        try:
            wait_until(ready, 30, name)
        except AssertionError:
            raise AssertionError(f"{name} did not start:\n{process.output()[-2000:]}") from None
        return process

    def job(self, name: str, target: str, **extra: Any) -> None:
        self.scrape.append({"job_name": name, "static_configs": [{"targets": [target]}], **extra})

    def stop(self) -> None:
        if self.prometheus is not None:
            self.prometheus.stop()
        for process in reversed(self.processes):
            process.stop()
        for double in self.doubles:
            double.close()
        drop_demo_data(self.name)


# -- the demo platform, its traffic and the KPI exporter -----------------------------------------
DSN = "postgresql://postgres@127.0.0.1:5432/test"


def drop_demo_data(name: str) -> None:
    """Remove the demo's schema and Redis keys (shared servers: only what this test made)."""
    import asyncio

    async def drop() -> None:
        connection = await asyncpg.connect(DSN)
        try:
            await connection.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        finally:
            await connection.close()

    asyncio.run(drop())
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def start_platform(stack: LiveStack) -> None:
    """The demo platform with traffic, and the KPI exporter over its schema."""
    port, sink = free_port(), free_port()
    env = {
        "OBSSTACK_DEMO_BACKUP_INTERVAL": "3",
        "OBSSTACK_DEMO_SYNC_INTERVAL": "3",
        # Traces go to a collector that is not there: spans are still sampled, so exemplars
        # carry their trace ids, and the export fails quietly in the background.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    stack.start(
        "demo",
        [
            *OBSSTACK, "demo", "serve", "--listen", f"127.0.0.1:{port}",
            "--schema", stack.name, "--redis-prefix", f"{stack.name}:", "--time-scale", "0.2",
        ],
        http_ok(f"http://127.0.0.1:{port}/ready"),
        env=env,
    )  # fmt: skip
    stack.job(naming.JOB_API, f"127.0.0.1:{port}")
    traffic = [
        *OBSSTACK, "demo", "traffic", "--target", f"http://127.0.0.1:{port}",
        "--rate", "25", "--seed", "7",
        # A burst that trips the rate limiter every few seconds, not every 45 s on average:
        # the rejections panels have data by the time the queries run, however busy the host.
        "--burst-every", "5s",
    ]  # fmt: skip
    stack.processes.append(Process(traffic, stack.workdir / "traffic.log"))
    kpi_port = free_port()
    config = yaml.safe_load(KPI_CONFIG.read_text())
    config["server"]["listen"] = f"127.0.0.1:{kpi_port}"
    config["database"]["search_path"] = stack.name
    # A throw-away schema, read as the shared database's superuser (the shipped reader role is
    # tested in tests/kpis/test_platform_kpis.py).
    config["database"].update(user="postgres", allow_privileged_role=True)
    config["defaults"].update(interval="2s", timeout="1s")
    for kpi in config["kpis"]:
        kpi.pop("interval", None)
    path = stack.workdir / "kpis.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    stack.start("kpis", [*OBSSTACK, "kpis", "--config", str(path)], port_open(kpi_port))
    stack.job(naming.JOB_KPIS, f"127.0.0.1:{kpi_port}")


# -- dependencies the machine does not run: doubles of their documented APIs ------------------
def _neo4j(request: Request) -> Reply:
    return Reply(200, {"results": [{"columns": ["1"], "data": [{"row": [1]}]}], "errors": []})


def _openai(request: Request) -> Reply:
    if request.headers.get("authorization") != "Bearer sk-live-test":
        return Reply(401, {"error": {"message": "Incorrect API key provided"}})
    return Reply(
        200,
        {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]},
        headers={
            "x-ratelimit-limit-requests": "5000",
            "x-ratelimit-remaining-requests": "4870",
            "x-ratelimit-limit-tokens": "160000",
            "x-ratelimit-remaining-tokens": "151000",
        },
    )


def _es_health() -> Reply:
    return Reply(
        200,
        {
            "cluster_name": "search",
            "status": "yellow",
            "number_of_nodes": 2,
            "number_of_data_nodes": 2,
            "active_primary_shards": 5,
            "active_shards": 9,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 1,
        },
    )


def dependency_doubles(stack: LiveStack) -> list[dict[str, Any]]:
    """Start the doubles; the exporter's dependency entries for them."""
    tls: TlsFiles = self_signed_certificate(stack.workdir, days=45)
    neo4j = HttpDouble({("POST", "/db/neo4j/tx/commit"): _neo4j})
    qdrant = HttpDouble(
        {
            ("GET", "/healthz"): Reply(200, "healthz check passed"),
            ("GET", "/readyz"): Reply(200, "all shards are ready"),
            ("GET", "/collections"): Reply(
                200, {"result": {"collections": [{"name": "docs"}, {"name": "code"}]}}
            ),
        }
    )
    search = HttpDouble({("GET", "/_cluster/health"): _es_health()})
    openai = HttpDouble({("GET", "/v1/models"): _openai}, tls=tls)
    stack.doubles += [neo4j, qdrant, search, openai]
    return [
        {"name": "graph", "kind": "neo4j", "url": neo4j.url, "username": "neo4j", "password": "pw"},
        {"name": "vectors", "kind": "qdrant", "url": qdrant.url, "api_key": "qd-key"},
        {"name": "search", "kind": "elasticsearch", "url": search.url},
        {
            "name": "openai",
            "kind": "http",
            "preset": "openai",
            "url": openai.url,
            "api_key": "sk-live-test",
            "tls": {"ca_file": tls.cert},
        },
    ]


def start_redis_with_limit(stack: LiveStack) -> int:
    """A private redis-server with maxmemory set (the shared one has no limit)."""
    port = free_port()
    argv = [
        require_binary("redis-server"),
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--maxmemory", "64mb", "--dir", str(stack.workdir),
    ]  # fmt: skip
    stack.start("redis-limited", argv, port_open(port))
    return port


def start_exporter(stack: LiveStack) -> None:
    """``obsstack serve`` over the shared PostgreSQL and Redis, the private Redis and doubles."""
    limited = start_redis_with_limit(stack)
    port = free_port()
    dependencies = [
        {"name": "postgres", "kind": "postgres", "database": "test", "critical": True},
        {"name": "redis", "kind": "redis", "critical": True},
        {"name": "redis-limited", "kind": "redis", "port": limited},
        *dependency_doubles(stack),
    ]
    config = stack.workdir / "exporter.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": "obsstack/v1",
                "server": {"listen": f"127.0.0.1:{port}"},
                "defaults": {"timeout": "2s"},
                "dependencies": dependencies,
            },
            sort_keys=False,
        )
    )
    stack.start(
        "exporter",
        [*OBSSTACK, "serve", "--config", str(config)],
        http_ok(f"http://127.0.0.1:{port}/health"),
    )
    stack.job(naming.JOB_EXPORTER, f"127.0.0.1:{port}")


def start_alertmanager(stack: LiveStack) -> str:
    """Real Alertmanager routing everything to a webhook nobody listens on."""
    port = free_port()
    config = stack.workdir / "alertmanager.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "route": {"receiver": "webhook", "group_wait": "1s", "group_interval": "5s"},
                "receivers": [
                    {
                        "name": "webhook",
                        "webhook_configs": [{"url": f"http://127.0.0.1:{free_port()}/hook"}],
                    }
                ],
            }
        )
    )
    argv = [
        require_binary("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={stack.workdir / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    stack.start("alertmanager", argv, http_ok(f"http://127.0.0.1:{port}/-/ready"))
    stack.job("alertmanager", f"127.0.0.1:{port}")
    return f"127.0.0.1:{port}"


def start_node_exporter(stack: LiveStack) -> None:
    """node-exporter on a free port, scraped as the bundle's job node."""
    from obsstack.stack.runner import node_exporter_argv

    address = f"127.0.0.1:{free_port()}"
    argv = node_exporter_argv(require_binary("prometheus-node-exporter"), address)
    stack.start("node-exporter", argv, http_ok(f"http://{address}/"))
    stack.job(naming.JOB_NODE, address)


def start_prometheus(stack: LiveStack, alertmanager: str, rule_files: list[Path]) -> None:
    prometheus = PrivatePrometheus(
        stack.workdir, {}, extra_args=["--enable-feature=exemplar-storage"]
    )
    stack.job("prometheus", f"127.0.0.1:{prometheus.port}")
    config = {
        "global": {
            "scrape_interval": SCRAPE,
            "scrape_timeout": SCRAPE,
            "evaluation_interval": SCRAPE,
        },
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": stack.scrape,
    }
    prometheus.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    stack.prometheus = prometheus.start()


# -- reading back ---------------------------------------------------------------------------------
def query_range(prometheus: PrivatePrometheus, expr: str, seconds: int) -> list[dict[str, Any]]:
    now = time.time()
    response = httpx.get(
        f"{prometheus.url}/api/v1/query_range",
        params={"query": expr, "start": now - seconds, "end": now, "step": "2s"},
        timeout=20,
    )
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


def exemplars(prometheus: PrivatePrometheus, expr: str, seconds: int) -> list[dict[str, Any]]:
    """Exemplars of the series ``expr`` reads (what Grafana overlays when exemplars are on)."""
    now = time.time()
    response = httpx.get(
        f"{prometheus.url}/api/v1/query_exemplars",
        params={"query": expr, "start": now - seconds, "end": now},
        timeout=20,
    )
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    return [e for series in body["data"] for e in series["exemplars"]]


def label_values(prometheus: PrivatePrometheus, label: str, selector: str | None) -> list[str]:
    params = {"match[]": selector} if selector else {}
    response = httpx.get(f"{prometheus.url}/api/v1/label/{label}/values", params=params, timeout=10)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (selector, body)
    return sorted(body["data"])


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one sample that is a number (NaN shows as "NaN" in Grafana: not data)."""
    for series in result:
        values = series.get("values") or ([series["value"]] if "value" in series else [])
        if any(value != "NaN" for _, value in values):
            return True
    return False
