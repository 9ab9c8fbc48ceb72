"""Regenerated configuration applies after a reload: the real Prometheus and Alertmanager read
their configuration from a directory, as the compose bundle mounts compose/generated, and
``obsstack generate``'s rename-replace (a new inode) followed by POST /-/reload shows the change.
(A single-file bind mount would keep the old inode: the reason the bundle mounts directories.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

from obsstack.core.artifacts import write_atomic
from tests.support.processes import Process, free_port, http_ok, require_binary, wait_until


def reload(url: str) -> None:
    response = httpx.post(f"{url}/-/reload", timeout=10)
    assert response.status_code == 200, response.text


def test_prometheus_applies_a_regenerated_config_from_its_directory(tmp_path: Path):
    config_dir = tmp_path / "generated"
    config: dict[str, Any] = {"global": {"scrape_interval": "1m"}, "scrape_configs": []}
    write_atomic(config_dir / "prometheus.yml", yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process(
        [
            require_binary("prometheus"),
            f"--config.file={config_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        wait_until(http_ok(f"{url}/-/ready"), 30, "prometheus")
        before = (config_dir / "prometheus.yml").stat().st_ino
        config["scrape_configs"] = [
            {"job_name": "node", "static_configs": [{"targets": ["127.0.0.1:9"]}]}
        ]
        write_atomic(config_dir / "prometheus.yml", yaml.safe_dump(config))
        assert (config_dir / "prometheus.yml").stat().st_ino != before  # replaced, not rewritten
        reload(url)
        loaded = httpx.get(f"{url}/api/v1/status/config", timeout=10).json()["data"]["yaml"]
        assert "job_name: node" in loaded
    finally:
        process.stop()


def test_alertmanager_applies_a_regenerated_config_from_its_directory(tmp_path: Path):
    config_dir = tmp_path / "generated"
    config: dict[str, Any] = {"route": {"receiver": "default"}, "receivers": [{"name": "default"}]}
    write_atomic(config_dir / "alertmanager.yml", yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process(
        [
            require_binary("prometheus-alertmanager"),
            f"--config.file={config_dir / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        tmp_path / "alertmanager.log",
    )
    try:
        wait_until(http_ok(f"{url}/-/ready"), 30, "alertmanager")
        config["receivers"].append({"name": "page"})
        config["route"]["routes"] = [{"receiver": "page", "matchers": ['obsstack_tier="page"']}]
        write_atomic(config_dir / "alertmanager.yml", yaml.safe_dump(config))
        reload(url)
        status = httpx.get(f"{url}/api/v2/status", timeout=10).json()
        assert 'obsstack_tier="page"' in status["config"]["original"]
    finally:
        process.stop()
