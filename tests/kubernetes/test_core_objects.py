"""The core objects of the base (Deployments, Services, ConfigMaps) are valid Kubernetes API
objects, run as the compose bundle runs them, and reference only the documented Secrets.

Validated with kubernetes-validate (the upstream OpenAPI schemas per Kubernetes version,
bundled in the package, so offline), strict: an unknown field is an error.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from obsstack.kubernetes import objects as k8s
from tests.kubernetes.generated import named, objects
from tests.support.paths import ROOT

CORE = objects("Deployment", "Service", "ConfigMap")
# The oldest Kubernetes kube-prometheus-stack 88 installs on (kubeVersion >=1.25) and the newest
# the validator bundles.
VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
# Every Secret the base reads, with its keys: what kubernetes/README.md tells the user to create.
SECRETS = {
    "obsstack-tokens": {"scrape_token", "oncall_token", "kpi_db_password"},
    "obsstack-oncall": {"pagerduty_routing_key", "opsgenie_api_key"},
    "obsstack-platform": {"postgres_password", "redis_password"},
}
DEPLOYMENTS = objects("Deployment")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("obj", CORE, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in CORE])
def test_core_object_validates_against_the_kubernetes_api(obj, version):
    kubernetes_validate.validate(obj, version, strict=True)


def test_a_misplaced_field_is_refused():
    deployment = named("Deployment", "obsstack-exporter")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_there_is_a_deployment_and_a_service_per_process():
    names = {"obsstack-exporter", "obsstack-kpis", "obsstack-oncall-sink"}
    assert {d["metadata"]["name"] for d in DEPLOYMENTS} == names
    assert {s["metadata"]["name"] for s in objects("Service")} == names


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["metadata"]["name"])
def test_each_process_runs_as_the_bundle_runs_it_hardened(deployment):
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["image"] == k8s.IMAGE == "obsstack:local"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(container["resources"]) == {"requests", "limits"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["ports"][0]["name"] == "http"


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["metadata"]["name"])
def test_each_service_reaches_its_pods(deployment):
    service = named("Service", deployment["metadata"]["name"])
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    container_ports = {
        p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports


def test_the_exporter_reads_its_config_from_the_config_map():
    deployment = named("Deployment", "obsstack-exporter")
    pod = deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    config = named("ConfigMap", volume["configMap"]["name"])
    assert config["data"] == {"exporter.yaml": (ROOT / "kubernetes/exporter.yaml").read_text()}
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    assert pod["containers"][0]["args"] == [
        "serve",
        "--config",
        f"{mount['mountPath']}/exporter.yaml",
    ]
    # the passwords its ${VARS} name come from the platform Secret, never the ConfigMap
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in pod["containers"][0]["env"]}
    assert env == {
        "POSTGRES_PASSWORD": {"name": "obsstack-platform", "key": "postgres_password"},
        "REDIS_PASSWORD": {"name": "obsstack-platform", "key": "redis_password"},
    }


def _secret_refs(node: Any, found: set[tuple[str, str]]) -> None:
    """(Secret, key) of every secretKeyRef, Secret volume item and SecretKeySelector."""
    if isinstance(node, list):
        for item in node:
            _secret_refs(item, found)
        return
    if not isinstance(node, dict):
        return
    if "secretName" in node:
        found.update((node["secretName"], item["key"]) for item in node["items"])
    for key in ("secretKeyRef", "credentials", "routingKey", "apiKey"):
        if isinstance(node.get(key), dict):
            found.add((node[key]["name"], node[key]["key"]))
    for value in node.values():
        _secret_refs(value, found)


def test_secrets_are_referenced_never_shipped():
    found: set[tuple[str, str]] = set()
    _secret_refs(objects(), found)
    assert found == {(name, key) for name, keys in SECRETS.items() for key in keys}
    assert objects("Secret") == []


def test_the_readme_tells_how_to_create_every_secret_and_key():
    readme = (ROOT / "kubernetes" / "README.md").read_text()
    for name, keys in SECRETS.items():
        assert name in readme
        for key in keys:
            assert key in readme, key
