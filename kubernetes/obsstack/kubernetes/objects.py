"""What every generated Kubernetes object shares: API versions, names, labels, Secrets.

The base is applied into the namespace of kube-prometheus-stack (``kubectl apply -k``; the
kustomization sets it), so the objects name each other by short Service names and carry the
chart's ``release`` label, which its Prometheus selects rules, monitors and probes by.
"""

from __future__ import annotations

from typing import Any

from obsstack.stack.topology import Topology

MONITORING = "monitoring.coreos.com/v1"
MONITORING_ALPHA = "monitoring.coreos.com/v1alpha1"
NAMESPACE = "monitoring"  # kube-prometheus-stack's usual namespace; an overlay may change it
RELEASE = "kube-prometheus-stack"  # the chart's release name: its selectors match `release`
PART_OF = "obsstack"
IMAGE = "obsstack:local"  # what compose/Dockerfile builds; `images:` in an overlay renames it
SCRAPE_INTERVAL = "15s"  # as the compose bundle's Prometheus
SCRAPE_TIMEOUT = "10s"

# The Secrets the user creates (kubernetes/README.md), and where the workloads mount them: the
# paths the compose bundle uses, so the stack's configuration generators serve both.
TOKENS_SECRET = "obsstack-tokens"  # obsstack tokens: scrape_token, oncall_token, kpi_db_password
ONCALL_SECRET = "obsstack-oncall"  # pagerduty_routing_key, opsgenie_api_key
PLATFORM_SECRET = "obsstack-platform"  # the passwords the exporter config's ${VARS} name
TOKENS_DIR = "/run/obsstack"
ONCALL_DIR = "/run/secrets"
SECRET_DIRS = {TOKENS_DIR: TOKENS_SECRET, ONCALL_DIR: ONCALL_SECRET}

# The oncall-sink Service (the `local` destination of compose/alerting.yaml), named by the
# short name Alertmanager resolves in its own namespace.
ONCALL_SINK = "obsstack-oncall-sink"
TOPOLOGY = Topology(
    name="kubernetes",
    hosts={"oncall-sink": ONCALL_SINK},
    secrets_dir=ONCALL_DIR,
    tokens_dir=TOKENS_DIR,
)


def labels(name: str, **extra: str) -> dict[str, str]:
    """The labels of an object of obsstack: its name, the stack, and the chart's release."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": PART_OF,
        "release": RELEASE,
        **extra,
    }


def resource(api_version: str, kind: str, name: str, spec: dict[str, Any], **extra: str) -> Any:
    """An object with metadata (no namespace: the kustomization sets it) and a spec."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "labels": labels(name, **extra)},
        "spec": spec,
    }


def config_map(name: str, data: dict[str, str], **extra: str) -> Any:
    """A ConfigMap of text files."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels(name, **extra)},
        "data": data,
    }


def secret_key(path: str) -> dict[str, str]:
    """The SecretKeySelector of a file the compose bundle reads from a secret directory."""
    directory, _, key = path.rpartition("/")
    return {"name": SECRET_DIRS[directory], "key": key}


def bearer(secret_file: str) -> dict[str, Any]:
    """An ``authorization`` block sending the token of ``secret_file`` (a path as mounted)."""
    return {"type": "Bearer", "credentials": secret_key(secret_file)}
