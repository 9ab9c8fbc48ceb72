"""Each Deployment's container, run as the pod would run it: its arguments, its volumes
populated from the base's ConfigMaps and (test values for) the Secret keys, its environment.
The real ``obsstack`` command accepts them, answers the readiness and liveness path without
credentials, and wants the scrape token from the Secret on /metrics.

Stood in for: the container's paths are directories under a temporary directory, and the
port it listens on is a free one on 127.0.0.1 (in the arguments and the mounted config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kubernetes.generated import named, objects
from tests.support.processes import OBSSTACK, Process, free_port, running, wait_until

DEPLOYMENTS = objects("Deployment")
SECRET_VALUE = "secret-{}"  # the test value of each Secret key
SCRAPED_WITH_TOKEN = {"obsstack-exporter", "obsstack-kpis"}


def _populate(pod: dict[str, Any], root: Path) -> dict[str, str]:
    """Fill each volume's directory; mount path -> directory."""
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    paths = {}
    for mount in container["volumeMounts"]:
        directory = root / mount["name"]
        directory.mkdir()
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            for name, text in named("ConfigMap", volume["configMap"]["name"])["data"].items():
                (directory / name).write_text(text)
        if "secret" in volume:
            for item in volume["secret"]["items"]:
                (directory / item["path"]).write_text(SECRET_VALUE.format(item["key"]))
        paths[mount["mountPath"]] = str(directory)
    return paths


def _environment(container: dict[str, Any]) -> dict[str, str]:
    env = {}
    for source in container.get("envFrom", []):
        env.update(named("ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in container.get("env", []):
        env[variable["name"]] = SECRET_VALUE.format(variable["valueFrom"]["secretKeyRef"]["key"])
    return env


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["metadata"]["name"])
def test_the_container_starts_as_the_pod_runs_it_and_answers_its_probes(deployment, tmp_path):
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    paths = _populate(pod, tmp_path)
    (port_spec,) = container["ports"]
    port = free_port()
    replacements = {**paths, f"0.0.0.0:{port_spec['containerPort']}": f"127.0.0.1:{port}"}

    def local(text: str) -> str:
        for old, new in replacements.items():
            text = text.replace(old, new)
        return text

    for directory in paths.values():
        for file in Path(directory).iterdir():
            file.write_text(local(file.read_text()))
    argv = [*OBSSTACK, *(local(arg) for arg in container["args"])]
    process = Process(argv, tmp_path / "container.log", env=_environment(container))
    probe = container["readinessProbe"]["httpGet"]
    assert probe == container["livenessProbe"]["httpGet"]
    base = f"http://127.0.0.1:{port}"
    with running(process):

        def healthy() -> bool:
            assert process.alive(), process.output()
            try:
                return httpx.get(f"{base}{probe['path']}", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, 30, f"{deployment['metadata']['name']} answering {probe['path']}")
        keys = {i["key"] for v in pod["volumes"] if "secret" in v for i in v["secret"]["items"]}
        if deployment["metadata"]["name"] in SCRAPED_WITH_TOKEN:
            assert "scrape_token" in keys
            assert httpx.get(f"{base}/metrics", timeout=5).status_code == 401
            token = SECRET_VALUE.format("scrape_token")
            headers = {"Authorization": f"Bearer {token}"}
            assert httpx.get(f"{base}/metrics", headers=headers, timeout=5).status_code == 200
