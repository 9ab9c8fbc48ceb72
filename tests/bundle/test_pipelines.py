"""Every Collector pipeline has a producer in the bundle, and every container's logs reach Loki
once: checked against what the compose file makes each service send.

Upstream facts these checks rest on (read in the pinned sources):
- Docker's json-file driver writes ``{"log", "stream", "attrs", "time"}`` per line, ``attrs``
  holding the container labels named by the ``labels`` logging option (moby,
  daemon/logger/jsonfilelog and loginfo.go ExtraAttributes); files are root's, mode 0640.
- The Collector's ``container`` operator (contrib 0.148, pkg/stanza/operator/parser/container)
  parses that format with ``format: docker``; its ``add_metadata_from_filepath`` (default true)
  expects Kubernetes pod log paths and fails on Docker's, so it must be off.
- Loki 3.6.2 (pkg/loghttp/push/otlp_config.go) makes the OTLP resource attribute
  ``service.name`` the index label ``service_name`` by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import yaml

from obsstack.core.otel import Signal, export_configured
from tests.bundle.test_compose import mounts, services
from tests.bundle.test_configs import in_compose

REPO = Path(__file__).resolve().parents[2]
COLLECTOR = in_compose(REPO / "otel-collector/config.yaml")
LOKI = yaml.safe_load((REPO / "compose/loki/loki.yaml").read_text())
SERVICE_LABEL = "com.docker.compose.service"
DOCKER_LOGS = "/var/lib/docker/containers"


def collector_hosts(value: str) -> bool:
    return "otel-collector:" in value


def sends_otlp(service: dict[str, Any], signal: str) -> bool:
    """Whether a service exports ``signal`` to the bundle's Collector: by the rule the
    services themselves apply to the OTEL_* variables of their environment (obsstack.core.otel),
    with the endpoint on the Collector. Nothing in obsstack exports OTLP metrics, so a
    service sends them only when it names the Collector for them explicitly."""
    env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
    endpoint = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT", ""
    )
    if signal == "metrics":
        exporters = env.get("OTEL_METRICS_EXPORTER", "").strip().lower()
        return exporters == "otlp" and collector_hosts(endpoint)
    return export_configured(cast(Signal, signal), env) and collector_hosts(endpoint)


def otlp_senders(signal: str) -> set[str]:
    return {name for name, service in services().items() if sends_otlp(service, signal)}


def filelog_collected() -> set[str]:
    """The services whose json-file lines carry their compose service name: the filelog
    receiver's filter keeps only those."""
    out = set()
    for name, service in services().items():
        logging = service.get("logging", {})
        labels = str(logging.get("options", {}).get("labels", "")).split(",")
        if logging.get("driver") == "json-file" and SERVICE_LABEL in labels:
            out.add(name)
    return out


def pipelines() -> dict[str, dict[str, Any]]:
    return dict(COLLECTOR["service"]["pipelines"])


def test_the_bundle_sends_traces_and_no_otlp_metrics():
    assert "demo" in otlp_senders("traces")
    assert otlp_senders("metrics") == set()


def test_every_pipeline_has_a_producer_in_the_bundle():
    producers = {
        "traces": bool(otlp_senders("traces")),
        "logs": bool(otlp_senders("logs") or filelog_collected()),
        "metrics": False,
    }
    for name, pipeline in pipelines().items():
        fed = False
        for receiver in pipeline["receivers"]:
            if receiver == "otlp":
                fed |= producers[name]
            elif receiver.startswith("filelog"):
                fed |= bool(filelog_collected())
            elif receiver in COLLECTOR.get("connectors", {}):
                sources = [n for n, p in pipelines().items() if receiver in p["exporters"]]
                assert sources, f"{receiver}: no pipeline exports to it"
                fed |= any(producers[source] for source in sources)
            else:
                raise AssertionError(f"{name}: receiver {receiver} has no known producer")
        assert fed, f"the {name} pipeline has no producer in the bundle"


def test_a_metrics_pipeline_fed_by_otlp_would_have_no_producer():
    """Prometheus scrapes the services' /metrics: the metrics pipeline takes the spanmetrics
    connector's output only, not the otlp receiver."""
    assert pipelines()["metrics"]["receivers"] == ["spanmetrics"]
    assert "spanmetrics" in pipelines()["traces"]["exporters"]


def test_every_signal_a_service_sends_has_a_pipeline_that_takes_it():
    for signal in ("traces", "logs", "metrics"):
        if otlp_senders(signal):
            assert "otlp" in pipelines()[signal]["receivers"], signal
        for name in otlp_senders(signal):
            assert "otel-collector" in services()[name].get("depends_on", {}), name


def test_filelog_reads_dockers_json_file_logs_from_a_read_only_mount():
    receiver = COLLECTOR["receivers"]["filelog/containers"]
    assert receiver["include"] == [f"{DOCKER_LOGS}/*/*-json.log"]
    assert receiver["storage"] in COLLECTOR["extensions"]
    collector = services()["otel-collector"]
    assert (DOCKER_LOGS, DOCKER_LOGS, True) in mounts(collector)
    # the files are root's (0640): read as their owner, with no capability left
    assert collector["user"] == "0:0" and collector["cap_drop"] == ["ALL"]
    storage = COLLECTOR["extensions"]["file_storage"]["directory"]
    assert any(storage.startswith(target) for _s, target, _ro in mounts(collector))
    operators = receiver["operators"]
    assert operators[0] == {
        "type": "container",
        "format": "docker",
        "add_metadata_from_filepath": False,
    }
    attribute = f'attributes.attrs["{SERVICE_LABEL}"]'
    assert operators[1] == {
        "type": "filter",
        "expr": f"attributes.attrs == nil or {attribute} == nil",
    }
    assert operators[2] == {"type": "move", "from": attribute, "to": 'resource["service.name"]'}


def test_every_containers_logs_reach_loki_once():
    """A service ships its logs over OTLP or its stdout is read by filelog, never both and
    never neither (the one-shots and clients too: their output is worth keeping)."""
    senders, collected = otlp_senders("logs"), filelog_collected()
    assert senders & collected == set(), "read twice: give these logging: *otlp-logging"
    assert set(services()) - senders - collected == set(), "logs that reach no one"
    # every service not sending OTLP is a container that does not speak it: all of these
    for name in ("prometheus", "alertmanager", "grafana", "postgres", "redis", "jaeger", "loki"):
        assert name in collected, name
    for name in senders:
        assert services()[name]["logging"]["driver"] == "json-file"  # docker logs still work


def test_loki_indexes_service_name_as_the_label_the_queries_use():
    """Loki 3's default index labels include service.name (as service_name) and the bundle's
    configuration does not replace them."""
    assert "otlp_config" not in LOKI.get("limits_config", {})
    assert "distributor" not in LOKI
    assert LOKI["limits_config"]["allow_structured_metadata"] is True
    assert COLLECTOR["exporters"]["otlp_http/loki"]["endpoint"].endswith("/otlp")


def test_spans_reach_jaeger_with_the_tag_grafanas_trace_to_logs_link_maps():
    """Jaeger keeps service.name out of the span tags; Grafana's tracesToLogsV2 builds its Loki
    query from tags only, and none when no mapped tag is present. The traces pipeline copies
    service.name into the tag the data source maps, which is Loki's label for it."""
    traces = pipelines()["traces"]
    copies = [
        name
        for name in traces["processors"]
        if any(
            action.get("from_attribute") == "service.name"
            and action.get("action") in ("insert", "upsert")
            for action in COLLECTOR["processors"][name].get("attributes", [])
        )
    ]
    assert copies, "no processor of the traces pipeline copies service.name into a tag"
    [tag] = [
        action["key"]
        for action in COLLECTOR["processors"][copies[0]]["attributes"]
        if action.get("from_attribute") == "service.name"
    ]
    assert any(name.startswith("otlp_grpc/jaeger") for name in traces["exporters"])
    provisioned = yaml.safe_load(
        (REPO / "compose/grafana/provisioning/datasources/datasources.yaml").read_text()
    )
    [jaeger] = [d for d in provisioned["datasources"] if d["type"] == "jaeger"]
    to_logs = jaeger["jsonData"]["tracesToLogsV2"]
    assert to_logs["tags"] == [{"key": tag}]
    assert tag == "service_name"  # Loki's label for service.name, the query's stream selector
