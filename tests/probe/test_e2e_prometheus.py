"""Real Prometheus (Debian package) scrapes ``obsstack serve``: both /metrics and the
multi-target /probe pattern, read back through the Prometheus HTTP API."""

from __future__ import annotations

from pathlib import Path

import yaml

from obsstack.core import naming
from tests.support.processes import OBSSTACK, Process, free_port, http_ok, wait_until
from tests.support.servers import PrivatePrometheus, PrivateRedis


def test_prometheus_reads_dependency_up(tmp_path: Path):
    redis = PrivateRedis(tmp_path).start()
    port = free_port()
    (tmp_path / "token").write_text("e2e-scrape-token")
    config = {
        "server": {"listen": f"127.0.0.1:{port}", "auth": {"bearer_token_file": "token"}},
        "dependencies": [
            {"name": "postgres", "kind": "postgres", "database": "test", "critical": True},
            {"name": "redis", "kind": "redis", "port": redis.port, "retries": {"attempts": 1}},
        ],
    }
    (tmp_path / "exporter.yaml").write_text(yaml.safe_dump(config))
    exporter = Process(
        [*OBSSTACK, "serve", "--config", str(tmp_path / "exporter.yaml")], tmp_path / "exporter.log"
    )
    auth = {"credentials_file": str(tmp_path / "token")}
    prometheus = PrivatePrometheus(
        tmp_path,
        {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {
                    "job_name": naming.JOB_EXPORTER,
                    "authorization": auth,
                    "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                },
                {
                    "job_name": naming.JOB_PROBE,
                    "metrics_path": "/probe",
                    "authorization": auth,
                    "static_configs": [{"targets": ["postgres", "redis"]}],
                    "relabel_configs": [
                        {"source_labels": ["__address__"], "target_label": "__param_target"},
                        {"source_labels": ["__param_target"], "target_label": "dependency"},
                        {"target_label": "__address__", "replacement": f"127.0.0.1:{port}"},
                    ],
                },
            ],
        },
    )
    try:
        wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 20, "obsstack serve")
        prometheus.start()

        def up(query: str) -> dict[str, float]:
            return {
                r["metric"].get("dependency", ""): float(r["value"][1])
                for r in prometheus.query(query)
            }

        wait_until(
            lambda: up("dependency_up") == {"postgres": 1.0, "redis": 1.0},
            30,
            "dependency_up 1 for both dependencies",
        )
        wait_until(
            lambda: (
                up(f'probe_success{{job="{naming.JOB_PROBE}"}}') == {"postgres": 1.0, "redis": 1.0}
            ),
            30,
            "probe_success via /probe",
        )
        targets = prometheus.targets()
        assert {t["health"] for t in targets} == {"up"}, targets
        redis.stop()
        wait_until(lambda: up("dependency_up")["redis"] == 0.0, 30, "redis reported down")
        wait_until(
            lambda: up('dependency_probe_failures_total{reason="refused"}')["redis"] >= 1,
            30,
            "a refused failure counted",
        )
        assert up("dependency_up")["postgres"] == 1.0
        # The scrape itself stays healthy while a dependency is down.
        assert {t["health"] for t in prometheus.targets()} == {"up"}
    finally:
        prometheus.stop()
        exporter.stop()
        redis.stop()
