"""The monitors and the Probe of the base, converted as the operator converts them
(operator_conversion), make a real Prometheus (Debian 2.42) scrape a real ``obsstack serve``:
with the scrape token, ``/probe?target=NAME`` for each dependency of kubernetes/exporter.yaml,
as the jobs the rules and dashboards query, the target kept as the ``dependency`` label.

What needs a cluster is stood in for: the Service name resolves to the local exporter, the
Secret's token is a file, and the configured dependencies are this host's PostgreSQL and a
private Redis (the names, kinds and auth of kubernetes/exporter.yaml are kept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from obsstack.core import naming
from tests.kubernetes.generated import named
from tests.kubernetes.operator_conversion import (
    probe_scrape_config,
    service_monitor_scrape_config,
)
from tests.support.paths import ROOT
from tests.support.processes import OBSSTACK, Process, free_port, http_ok, running, wait_until
from tests.support.servers import PrivatePrometheus, PrivateRedis

LOCAL = {
    "postgres": {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres"},
}


def local_exporter_config(port: int, token: Path, redis_port: int) -> Any:
    """kubernetes/exporter.yaml with this host's addresses and no passwords (trust auth)."""
    config = yaml.safe_load((ROOT / "kubernetes" / "exporter.yaml").read_text())
    config["server"]["listen"] = f"127.0.0.1:{port}"
    config["server"]["auth"]["bearer_token_file"] = str(token)
    for dependency in config["dependencies"]:
        dependency.pop("password", None)
        dependency.update(LOCAL.get(dependency["name"], {}))
        if dependency["kind"] == "redis":
            dependency.update({"host": "127.0.0.1", "port": redis_port})
    return config


def test_prometheus_scrapes_the_exporter_and_probes_each_dependency_as_the_base_says(
    tmp_path: Path,
):
    redis = PrivateRedis(tmp_path).start()
    port = free_port()
    token = tmp_path / "scrape_token"
    token.write_text("kubernetes-scrape-token")
    config = local_exporter_config(port, token, redis.port)
    (tmp_path / "exporter.yaml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{port}"
    scrape_configs = [
        service_monitor_scrape_config(
            named("ServiceMonitor", naming.JOB_EXPORTER), naming.JOB_EXPORTER, address, str(token)
        ),
        probe_scrape_config(named("Probe", naming.JOB_PROBE), address, str(token)),
    ]
    prometheus = PrivatePrometheus(
        tmp_path,
        {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": scrape_configs,
        },
    )
    exporter = Process(
        [*OBSSTACK, "serve", "--config", str(tmp_path / "exporter.yaml")], tmp_path / "exporter.log"
    )
    try:
        with running(exporter):
            wait_until(http_ok(f"http://{address}/health"), 20, "obsstack serve")
            prometheus.start()

            def values(query: str, label: str) -> dict[str, float]:
                return {
                    r["metric"].get(label, ""): float(r["value"][1])
                    for r in prometheus.query(query)
                }

            names = {d["name"]: 1.0 for d in config["dependencies"]}
            wait_until(
                lambda: values(f'probe_success{{job="{naming.JOB_PROBE}"}}', "dependency") == names,
                30,
                "probe_success 1 for every dependency, by the Probe",
            )
            wait_until(
                lambda: (
                    values(f'up{{job="{naming.JOB_EXPORTER}"}}', "job")
                    == {naming.JOB_EXPORTER: 1.0}
                ),
                30,
                "the exporter's /metrics scraped as its job",
            )
            # what the dashboards and the stack rules read from the exporter's own job
            assert values(f'dependency_up{{job="{naming.JOB_EXPORTER}"}}', "dependency") == names
            # the Probe keeps only probe_* series: the rest comes once, from /metrics
            assert prometheus.query(f'dependency_up{{job="{naming.JOB_PROBE}"}}') == []
            assert {t["health"] for t in prometheus.targets()} == {"up"}
    finally:
        prometheus.stop()
        redis.stop()
