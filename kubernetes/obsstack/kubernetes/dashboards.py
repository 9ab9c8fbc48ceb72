"""The dashboards as ConfigMaps for the Grafana sidecar of kube-prometheus-stack.

The chart's sidecar (``grafana.sidecar.dashboards``) loads every ConfigMap labelled
``grafana_dashboard: "1"`` (its default ``label`` and ``labelValue``) in any namespace
(``searchNamespace: ALL``). Each ConfigMap holds one file of dashboards/generated, unchanged.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from obsstack.core.artifacts import GenerateContext
from obsstack.dashboards import generate as dashboards
from obsstack.kubernetes.objects import config_map

SIDECAR_LABEL = "grafana_dashboard"
SIDECAR_LABEL_VALUE = "1"


def dashboard_config_maps(context: GenerateContext) -> list[Any]:
    """One ConfigMap per generated dashboard, its JSON under its file name."""
    maps = []
    for artifact in dashboards.generate(context):
        file_name = PurePosixPath(artifact.path).name
        name = f"obsstack-dashboard-{PurePosixPath(file_name).stem}"
        maps.append(
            config_map(name, {file_name: artifact.content}, **{SIDECAR_LABEL: SIDECAR_LABEL_VALUE})
        )
    return maps
