"""Deployments and Services of the obsstack processes: probe exporter, KPI exporter, inbox.

The same image and commands as the compose bundle, with its file paths: tokens under
/run/obsstack, the PagerDuty and Opsgenie keys under /run/secrets, each from a Secret the
user creates (kubernetes/README.md). Non-root (the image's user 10001), read-only root file
system, no service account token, health checks on each process's /health.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from obsstack.core import naming
from obsstack.kubernetes.monitors import PORT_NAME
from obsstack.kubernetes.objects import (
    IMAGE,
    ONCALL_DIR,
    ONCALL_SECRET,
    ONCALL_SINK,
    PLATFORM_SECRET,
    TOKENS_DIR,
    TOKENS_SECRET,
    config_map,
    labels,
    resource,
)
from obsstack.stack.configs import OPSGENIE_KEY_FILE, PAGERDUTY_KEY_FILE
from obsstack.stack.tokens import KPI_DB_PASSWORD, ONCALL_TOKEN, SCRAPE_TOKEN
from obsstack.stack.topology import COMPONENTS

USER = 10001  # the obsstack image's user (compose/Dockerfile)
EXPORTER_CONFIG = "obsstack-exporter-config"
EXPORTER_CONFIG_DIR = "/etc/obsstack"
EXPORTER_CONFIG_FILE = "exporter.yaml"
KPIS_DATABASE = "obsstack-kpis-database"
# Where the KPI exporter finds the platform's database, as in the compose bundle.
KPIS_DATABASE_ENV = {"KPI_DB_HOST": "postgres", "KPI_DB_NAME": "platform"}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Workload:
    """One process of the stack: its component (ports, health path), name and arguments."""

    component: str
    name: str
    args: list[str]
    tokens: tuple[str, ...]  # keys of the tokens Secret it reads
    oncall_keys: bool = False  # reads the PagerDuty and Opsgenie keys
    env: list[dict[str, Any]] = field(default_factory=list)
    env_from: list[dict[str, Any]] = field(default_factory=list)
    config_map: str = ""  # mounted at /etc/obsstack


def string_values(node: Any) -> list[str]:
    """Every string in a parsed YAML or JSON document, depth first."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in string_values(value)]
    if isinstance(node, list):
        return [s for item in node for s in string_values(item)]
    return [node] if isinstance(node, str) else []


def secret_env(exporter_config: str) -> list[dict[str, Any]]:
    """Each ``${VAR}`` a value of the exporter configuration names, from the platform
    Secret's key ``var`` (lower case): the passwords stay out of the ConfigMap."""
    values = string_values(yaml.safe_load(exporter_config))
    names = sorted({name for value in values for name in _VARIABLE.findall(value)})
    return [
        {
            "name": name,
            "valueFrom": {"secretKeyRef": {"name": PLATFORM_SECRET, "key": name.lower()}},
        }
        for name in names
    ]


def workloads(exporter_config: str) -> list[Workload]:
    """The probe exporter, the KPI exporter and the on-call inbox."""
    kpis, sink = COMPONENTS["kpis"], COMPONENTS["oncall-sink"]
    return [
        Workload(
            "exporter",
            naming.JOB_EXPORTER,
            ["serve", "--config", f"{EXPORTER_CONFIG_DIR}/{EXPORTER_CONFIG_FILE}"],
            (SCRAPE_TOKEN,),
            env=secret_env(exporter_config),
            config_map=EXPORTER_CONFIG,
        ),
        Workload(
            "kpis",
            naming.JOB_KPIS,
            [
                "kpis",
                f"--listen=0.0.0.0:{kpis.port}",
                f"--bearer-token-file={TOKENS_DIR}/{SCRAPE_TOKEN}",
                f"--database-password-file={TOKENS_DIR}/{KPI_DB_PASSWORD}",
            ],
            (SCRAPE_TOKEN, KPI_DB_PASSWORD),
            env_from=[{"configMapRef": {"name": KPIS_DATABASE}}],
        ),
        Workload(
            "oncall-sink",
            ONCALL_SINK,
            [
                "oncall-sink",
                f"--listen=0.0.0.0:{sink.port}",
                f"--pagerduty-routing-key-file={ONCALL_DIR}/{PAGERDUTY_KEY_FILE}",
                f"--opsgenie-api-key-file={ONCALL_DIR}/{OPSGENIE_KEY_FILE}",
                f"--token-file={TOKENS_DIR}/{ONCALL_TOKEN}",
            ],
            (ONCALL_TOKEN,),
            oncall_keys=True,
        ),
    ]


def _secret_volume(name: str, secret: str, keys: tuple[str, ...]) -> dict[str, Any]:
    items = [{"key": key, "path": key} for key in keys]
    return {"name": name, "secret": {"secretName": secret, "defaultMode": 0o440, "items": items}}


def _volumes(workload: Workload) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes.append(_secret_volume("tokens", TOKENS_SECRET, workload.tokens))
    mounts.append({"name": "tokens", "mountPath": TOKENS_DIR, "readOnly": True})
    if workload.oncall_keys:
        keys = (PAGERDUTY_KEY_FILE, OPSGENIE_KEY_FILE)
        volumes.append(_secret_volume("oncall-keys", ONCALL_SECRET, keys))
        mounts.append({"name": "oncall-keys", "mountPath": ONCALL_DIR, "readOnly": True})
    if workload.config_map:
        volumes.append({"name": "config", "configMap": {"name": workload.config_map}})
        mounts.append({"name": "config", "mountPath": EXPORTER_CONFIG_DIR, "readOnly": True})
    return volumes, mounts


def _health(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def deployment(workload: Workload) -> Any:
    """One replica of the obsstack image running ``workload``."""
    component = COMPONENTS[workload.component]
    volumes, mounts = _volumes(workload)
    container: dict[str, Any] = {
        "name": workload.component,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": workload.args,
        "ports": [{"name": PORT_NAME, "containerPort": component.port, "protocol": "TCP"}],
        "env": workload.env,
        "envFrom": workload.env_from,
        "readinessProbe": _health(component.health_path, 10, 3),
        "livenessProbe": _health(component.health_path, 20, 3),
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    for key in ("env", "envFrom"):
        if not container[key]:
            del container[key]
    selector = {"app.kubernetes.io/name": workload.name}
    template = {
        "metadata": {"labels": labels(workload.name)},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": USER,
                "runAsGroup": USER,
                "fsGroup": USER,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": volumes,
        },
    }
    spec = {"replicas": 1, "selector": {"matchLabels": selector}, "template": template}
    return resource("apps/v1", "Deployment", workload.name, spec)


def service(workload: Workload) -> Any:
    """The ClusterIP Service in front of ``workload``: what the monitors and Probe scrape."""
    port = COMPONENTS[workload.component].port
    spec = {
        "selector": {"app.kubernetes.io/name": workload.name},
        "ports": [{"name": PORT_NAME, "port": port, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }
    return resource("v1", "Service", workload.name, spec)


def workload_objects(exporter_config: str) -> list[Any]:
    """The exporter's configuration, the KPI exporter's database address, then a Deployment
    and a Service per process."""
    objects = [
        config_map(EXPORTER_CONFIG, {EXPORTER_CONFIG_FILE: exporter_config}),
        config_map(KPIS_DATABASE, dict(KPIS_DATABASE_ENV)),
    ]
    for workload in workloads(exporter_config):
        objects += [deployment(workload), service(workload)]
    return objects
