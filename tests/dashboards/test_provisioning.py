"""Grafana provisioning beside the compose bundle: data sources with the uids the dashboards
use, the signal links between them, and a provider that loads the generated dashboards."""

from __future__ import annotations

import re
from typing import Any

import yaml

from obsstack.dashboards import conventions
from obsstack.dashboards.lint import panels
from tests.support.paths import ROOT as REPO_ROOT

PROVISIONING = REPO_ROOT / "compose" / "grafana" / "provisioning"
GRAFANA_ENV = yaml.safe_load((REPO_ROOT / "compose" / "docker-compose.yml").read_text())[
    "services"
]["grafana"]["environment"]


def expand(text: str) -> str:
    """What Grafana reads in the compose bundle: ${NAME} from the service's environment."""
    return re.sub(r"(?<!\$)\$\{(\w+)\}", lambda m: str(GRAFANA_ENV[m[1]]), text)


def provisioned(*path: str) -> Any:
    return yaml.safe_load(expand((PROVISIONING.joinpath(*path)).read_text()))


def datasources() -> dict[str, dict[str, Any]]:
    document = provisioned("datasources", "datasources.yaml")
    assert document["apiVersion"] == 1
    return {ds["uid"]: ds for ds in document["datasources"]}


def test_data_sources_have_the_fixed_uids_and_compose_hostnames():
    found = {uid: (ds["type"], ds["url"]) for uid, ds in datasources().items()}
    assert found == {
        conventions.PROMETHEUS_UID: ("prometheus", "http://prometheus:9090"),
        conventions.LOKI_UID: ("loki", "http://loki:3100"),
        conventions.JAEGER_UID: ("jaeger", "http://jaeger:16686"),
        conventions.ALERTMANAGER_UID: ("alertmanager", "http://alertmanager:9093"),
    }
    assert [uid for uid, ds in datasources().items() if ds.get("isDefault")] == ["prometheus"]


def test_exemplars_open_the_trace_in_jaeger_by_the_label_the_instrumentation_writes():
    destinations = datasources()["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert destinations[0]["name"] == conventions.EXEMPLAR_TRACE_ID_LABEL == "trace_id"
    assert destinations[0]["datasourceUid"] == conventions.JAEGER_UID


def test_logs_link_to_traces_and_traces_to_logs():
    loki = datasources()["loki"]["jsonData"]["derivedFields"]
    assert {f["datasourceUid"] for f in loki} == {"jaeger"}
    assert {f["matcherType"] for f in loki} == {"label", "regex"}
    regex = next(f["matcherRegex"] for f in loki if f["matcherType"] == "regex")
    line = '{"message": "served", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "x"}'
    match = re.search(regex, line)
    assert match is not None and match[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    to_logs = datasources()["jaeger"]["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == "loki"
    # Jaeger keeps service.name out of the span tags Grafana reads; the Collector's copy is
    # service_name (tests/bundle/test_pipelines.py follows it from the Collector).
    assert to_logs["tags"] == [{"key": "service_name"}]


def test_grafana_link_variables_are_escaped_from_provisioning_expansion():
    text = (PROVISIONING / "datasources" / "datasources.yaml").read_text()
    # Grafana expands $NAME and ${NAME} in provisioning files; $$ is a literal $.
    assert "${__value.raw}" in text
    # The only variables Grafana expands are the addresses compose (and obsstack up) set.
    expanded = set(re.findall(r"(?<!\$)\$\{(\w+)\}", text))
    assert expanded and all(name.startswith("OBSSTACK_") for name in expanded)
    assert expanded <= set(GRAFANA_ENV)


def test_every_dashboard_defaults_to_the_provisioned_prometheus(dashboards):
    uids = datasources()
    for d in dashboards:
        variable = next(v for v in d["templating"]["list"] if v["name"] == "datasource")
        assert uids[variable["current"]["value"]]["type"] == variable["query"] == "prometheus"
        for panel in panels(d):
            assert panel["datasource"] == conventions.DATASOURCE


def test_the_dashboard_provider_loads_the_generated_json_read_only():
    document = provisioned("dashboards", "dashboards.yaml")
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["allowUiUpdates"] is False
    assert provider["disableDeletion"] is True
