"""The dashboards ship as ConfigMaps the Grafana sidecar of kube-prometheus-stack loads: the
label it watches (the chart's default ``grafana_dashboard: "1"``) and each generated
dashboard's JSON, unchanged."""

from __future__ import annotations

import json

from tests.kubernetes.generated import objects
from tests.support.paths import ROOT

DASHBOARDS = sorted((ROOT / "dashboards" / "generated").glob("*.json"))
MAPS = [m for m in objects("ConfigMap") if "grafana_dashboard" in m["metadata"]["labels"]]


def test_one_config_map_per_dashboard_with_its_json_unchanged():
    held = {name: text for m in MAPS for name, text in m["data"].items()}
    assert sorted(held) == [path.name for path in DASHBOARDS]
    for path in DASHBOARDS:
        assert held[path.name] == path.read_text()
        json.loads(held[path.name])


def test_every_dashboard_config_map_carries_the_sidecar_label():
    assert len(MAPS) == len(DASHBOARDS)
    for config_map in MAPS:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert len(config_map["data"]) == 1


def test_no_config_map_reaches_the_size_limit():
    """A ConfigMap holds at most 1 MiB."""
    for config_map in MAPS:
        assert sum(len(text.encode()) for text in config_map["data"].values()) < 1 << 20
