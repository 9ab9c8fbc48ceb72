"""``kubernetes/generated/``: a kustomize base of the stack for the Prometheus Operator.

From the same inputs as the compose bundle: the SLO spec (rules, dashboards),
compose/alerting.yaml (routing) and kubernetes/exporter.yaml (the probe exporter's
dependencies in the cluster).
"""

from __future__ import annotations

from typing import Any

from obsstack.alerts.render import to_yaml_documents
from obsstack.core.artifacts import HEADER, Artifact, GenerateContext
from obsstack.kubernetes.alertmanager import alertmanager_config, templates_config_map
from obsstack.kubernetes.dashboards import dashboard_config_maps
from obsstack.kubernetes.monitors import monitors
from obsstack.kubernetes.objects import NAMESPACE
from obsstack.kubernetes.platform import platform_monitors
from obsstack.kubernetes.rules import prometheus_rules
from obsstack.kubernetes.workloads import workload_objects
from obsstack.stack import generate as bundle
from obsstack.stack.alerting import load_alerting
from obsstack.stack.generate import dependency_names

OUTPUT = "kubernetes/generated"
EXPORTER_CONFIG = "kubernetes/exporter.yaml"
CODE = "kubernetes/obsstack/kubernetes"
KUSTOMIZATION = "kustomization.yaml"


def kustomization(resources: list[str]) -> dict[str, Any]:
    """The base: every generated file, into kube-prometheus-stack's namespace."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": sorted(resources),
    }


def generate(context: GenerateContext) -> list[Artifact]:
    from obsstack.alerts import load_spec

    root = context.source_root
    spec = load_spec(context.spec)
    # The bundle's routing file, as the bundle's generator names it when it runs.
    routing = bundle.ALERTING
    alerting = load_alerting(root / routing)
    dependencies = dependency_names(root / EXPORTER_CONFIG)  # a ConfigError if unreadable
    exporter_config = (root / EXPORTER_CONFIG).read_text()
    template_header = f"{HEADER}: edit {routing} and run `obsstack generate`"
    files: dict[str, tuple[list[Any], str]] = {
        "rules.yaml": (prometheus_rules(spec), spec.source),
        "monitors.yaml": (monitors(dependencies), f"{EXPORTER_CONFIG} or {CODE}"),
        "platform-monitors.yaml": (platform_monitors(), CODE),
        "alertmanager.yaml": (
            [alertmanager_config(alerting, spec), templates_config_map(alerting, template_header)],
            f"{routing} or {CODE}",
        ),
        "dashboards.yaml": (dashboard_config_maps(context), "the code in dashboards/obsstack"),
        "exporters.yaml": (workload_objects(exporter_config), f"{EXPORTER_CONFIG} or {CODE}"),
    }
    artifacts = [
        Artifact(f"{OUTPUT}/{name}", to_yaml_documents(documents, source))
        for name, (documents, source) in files.items()
    ]
    base = kustomization(list(files))
    artifacts.append(
        Artifact(f"{OUTPUT}/{KUSTOMIZATION}", to_yaml_documents([base], CODE, explicit_start=False))
    )
    return artifacts
