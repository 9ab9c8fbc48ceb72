"""The generated Prometheus and Alertmanager configuration, checked by promtool and amtool,
and the collector configuration's pipeline order and component names."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsstack.alerts import load_default_spec
from obsstack.core import naming
from obsstack.stack import configs
from obsstack.stack.alerting import load_alerting
from obsstack.stack.topology import COMPOSE
from tests.support.paths import ALERTING
from tests.support.processes import require_binary

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "compose" / "generated"
ALERTMANAGER = GENERATED / "alertmanager.yml"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary(argv[0]), *argv[1:]], capture_output=True, text=True)


def promtool_check_config(path: Path, tmp_path: Path) -> None:
    """promtool accepts the generated ``path``, checked with the rule files it loads, from
    where compose mounts them, and a token file where the tokens service writes it."""
    config = yaml.safe_load(path.read_text())
    config["rule_files"] = [str(REPO / "alerts/generated/*.rules.yml")]
    (tmp_path / "scrape_token").write_text("t")
    for job in config["scrape_configs"]:
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(tmp_path / "scrape_token")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = run("promtool", "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_checks_the_prometheus_config(tmp_path: Path):
    promtool_check_config(GENERATED / "prometheus.yml", tmp_path)


def test_prometheus_scrapes_every_component_and_probes_each_dependency():
    config = yaml.safe_load((GENERATED / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {
        "prometheus",
        "alertmanager",
        "loki",
        "jaeger",
        "otel-collector",
        "grafana",
        naming.JOB_EXPORTER,
        naming.JOB_PROBE,
        naming.JOB_KPIS,
        naming.JOB_API,
    } <= set(jobs)
    probe = jobs[naming.JOB_PROBE]
    assert probe["metrics_path"] == "/probe"
    assert probe["static_configs"][0]["targets"] == ["postgres", "redis"]
    assert {"source_labels": ["__address__"], "target_label": "__param_target"} in probe[
        "relabel_configs"
    ]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    assert config["rule_files"] == ["/etc/prometheus/rules/*.rules.yml"]


def test_prometheus_sends_the_scrape_token_to_the_exporters():
    config = yaml.safe_load((GENERATED / "prometheus.yml").read_text())
    tokens = {
        job["job_name"]: job.get("authorization", {}).get("credentials_file")
        for job in config["scrape_configs"]
    }
    guarded = {naming.JOB_EXPORTER, naming.JOB_PROBE, naming.JOB_KPIS}
    assert {job: tokens[job] for job in guarded} == dict.fromkeys(
        guarded, "/run/obsstack/scrape_token"
    )
    assert {job for job, token in tokens.items() if token} == guarded


def test_amtool_checks_the_alertmanager_config():
    result = run("amtool", "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


def webhooks(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: c for r in config["receivers"] for c in r.get("webhook_configs", [])}


def test_webhooks_to_the_local_inbox_send_its_token_and_no_other_does():
    local = webhooks(yaml.safe_load(ALERTMANAGER.read_text()))
    assert set(local) == {"default", "ticket", "heartbeat"}
    for config in local.values():
        assert config["url"].startswith("http://oncall-sink:9095/webhook/")
        assert config["http_config"] == {
            "authorization": {"credentials_file": "/run/obsstack/oncall_token"}
        }
    alerting = dataclasses.replace(
        load_alerting(ALERTING),
        ticket_webhook_url="https://tickets.example/hook",
        heartbeat_url="https://api.opsgenie.com/v2/heartbeats/obsstack/ping",
        heartbeat_uses_opsgenie_key=True,
    )
    remote = webhooks(configs.alertmanager_config(alerting, COMPOSE, load_default_spec()))
    assert "http_config" not in remote["ticket"]
    assert remote["heartbeat"]["http_config"]["authorization"]["type"] == "GenieKey"
    assert "http_config" in remote["default"]


NASTY = 'a {{ .ExternalURL }} "b" \\ c\n{{ template "obsstack.title" . }} }} {{/* d'


def test_deployment_values_cannot_break_or_extend_the_notification_templates(tmp_path: Path):
    """stack_name and grafana_url print as written, however they are written."""
    alerting = dataclasses.replace(
        load_alerting(ALERTING), stack_name=NASTY, grafana_url=f"http://g/{NASTY}"
    )
    (tmp_path / "obsstack.tmpl").write_text(configs.notification_template(alerting, "test"))
    text = '{{ template "obsstack.title" . }}|{{ template "obsstack.description" . }}'
    result = run(
        "amtool",
        "template",
        "render",
        f"--template.glob={tmp_path / '*.tmpl'}",
        f"--template.text={text}",
    )
    assert result.returncode == 0, result.stderr
    title, description = result.stdout.split("|", 1)
    assert title.endswith(f" ({NASTY})")
    assert description.startswith(f"0 firing, 0 resolved ({NASTY}).")
    assert f"Dashboard: http://g/{NASTY}/dashboards" in description
    # The Alertmanager fields that are templates themselves print them as written too.
    config = configs.alertmanager_config(alerting, COMPOSE, load_default_spec())
    page = next(r for r in config["receivers"] if r["name"] == "page")
    for field in (
        page["pagerduty_configs"][0]["client"],
        page["pagerduty_configs"][0]["client_url"],
        page["opsgenie_configs"][0]["source"],
    ):
        rendered = run(
            "amtool",
            "template",
            "render",
            f"--template.glob={tmp_path / '*.tmpl'}",
            f"--template.text={field}",
        )
        assert rendered.returncode == 0, rendered.stderr
        assert rendered.stdout.rstrip("\n") in (NASTY, f"http://g/{NASTY}")


PAGE = {naming.TIER_LABEL: naming.TIER_PAGE}
TICKET = {naming.TIER_LABEL: naming.TIER_TICKET}
SLO = {naming.SERVICE_LABEL: "api", naming.SLO_LABEL: "availability", naming.STACK_LABEL: "a"}
ROUTES = [
    # (labels, receiver)
    ({"alertname": naming.ALERT_WATCHDOG, "severity": "none"}, "heartbeat"),
    (
        {"alertname": naming.ALERT_EXPLAINED, naming.EXPLAINS_LABEL: "page", "severity": "none"},
        "inhibitor",
    ),
    (
        {"alertname": naming.ALERT_DEPENDENCY_DOWN, "severity": "critical", "dependency": "redis"}
        | PAGE,
        "page",
    ),
    ({"alertname": naming.ALERT_SLO_BURN_RATE_PAGE, "severity": "critical"} | SLO | PAGE, "page"),
    # a spec's own alert name and severity (Sloth: severity pageteam): routed by tier
    ({"alertname": "CheckoutErrors", "severity": "pageteam"} | SLO | PAGE, "page"),
    (
        {"alertname": naming.ALERT_SLO_BURN_RATE_TICKET, "severity": "warning"} | SLO | TICKET,
        "ticket",
    ),
    ({"alertname": "CheckoutErrors", "severity": "slack"} | SLO | TICKET, "ticket"),
    ({"alertname": naming.ALERT_DEPENDENCY_PROBE_SLOW, "severity": "warning"} | TICKET, "ticket"),
    ({"alertname": "SomethingUnrouted"}, "default"),
    ({"alertname": "SomethingInformational", "severity": "info"}, "default"),
    # severity alone routes nothing: a page needs its tier
    ({"alertname": "SomethingCritical", "severity": "critical"}, "default"),
]


@pytest.mark.parametrize(
    ("labels", "receiver"), ROUTES, ids=[f"{r[0]['alertname']}->{r[1]}" for r in ROUTES]
)
def test_amtool_routes(labels, receiver):
    result = run(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER}",
        f"--verify.receivers={receiver}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_every_route_has_a_case():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    routed = {route["receiver"] for route in config["route"]["routes"]}
    assert routed | {config["route"]["receiver"]} == {receiver for _, receiver in ROUTES}


def test_alert_explained_has_a_receiver_without_integrations():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    assert config["route"]["routes"][0]["matchers"] == [f'alertname="{naming.ALERT_EXPLAINED}"']
    inhibitor = next(r for r in config["receivers"] if r["name"] == "inhibitor")
    assert inhibitor == {"name": "inhibitor"}


def test_heartbeat_repeats_below_its_group_interval():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    heartbeat = next(r for r in config["route"]["routes"] if r["receiver"] == "heartbeat")
    assert heartbeat["group_interval"] == load_alerting(ALERTING).heartbeat_interval == "1m"
    assert heartbeat["repeat_interval"] == "30s"


def test_only_alert_explained_inhibits_and_only_within_a_stack():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    explains = []
    for rule in config["inhibit_rules"]:
        source = rule["source_matchers"]
        assert source[0] == f'alertname="{naming.ALERT_EXPLAINED}"', rule
        explains.append(source[1])
        assert rule["equal"][0] == naming.STACK_LABEL, rule
    assert explains == [
        f'{naming.EXPLAINS_LABEL}="{value}"'
        for value in ("page", "ticket", "DependencyProbeSlow", "DependencyCircuitOpen")
    ]


def test_a_grouped_sli_adds_its_grouping_labels_to_the_slo_inhibitions(spec):
    slo = spec.slos[0]
    sli = dataclasses.replace(slo.sli, grouping=(naming.HTTP_ROUTE,))
    grouped = dataclasses.replace(spec, slos=(dataclasses.replace(slo, sli=sli), *spec.slos[1:]))
    config = configs.alertmanager_config(load_alerting(ALERTING), COMPOSE, grouped)
    equal = [rule["equal"] for rule in config["inhibit_rules"]]
    slo_labels = [naming.STACK_LABEL, naming.SERVICE_LABEL, naming.SLO_LABEL, naming.HTTP_ROUTE]
    assert equal[:2] == [slo_labels, slo_labels]
    assert equal[2:] == [[naming.STACK_LABEL, naming.DEPENDENCY, "instance"]] * 2


def test_receivers_use_key_files_and_the_notification_templates():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    pagerduty = receivers["page"]["pagerduty_configs"][0]
    assert pagerduty["routing_key_file"] == "/run/secrets/pagerduty_routing_key"
    assert "routing_key" not in pagerduty
    opsgenie = {c["priority"]: c for r in receivers.values() for c in r.get("opsgenie_configs", [])}
    assert set(opsgenie) == {"P1", "P3"}
    assert all(c["api_key_file"] == "/run/secrets/opsgenie_api_key" for c in opsgenie.values())
    assert opsgenie["P1"]["responders"] == [{"type": "team", "name": "platform-oncall"}]
    assert (
        opsgenie["P1"]["tags"]
        == "{{ .CommonLabels.severity }},{{ .CommonLabels.obsstack_service }}"
    )
    assert "obsstack.title" in pagerduty["description"]
    assert config["templates"] == ["/etc/alertmanager/generated/templates/*.tmpl"]
    assert config["route"]["group_by"] == [
        "stack",
        "alertname",
        "obsstack_service",
        "obsstack_slo",
        "dependency",
    ]


def test_notification_template_renders():
    """amtool's sample data has no alerts; real alerts are rendered in test_alert_path."""
    text = '{{ template "obsstack.title" . }}|{{ template "obsstack.description" . }}'
    result = run(
        "amtool",
        "template",
        "render",
        f"--template.glob={GENERATED / 'templates' / '*.tmpl'}",
        f"--template.text={text}",
    )
    assert result.returncode == 0, result.stderr
    title, description = result.stdout.split("|", 1)
    assert title.endswith(" (obsstack)")
    assert description.startswith("0 firing, 0 resolved (obsstack).")
    # the deployment-specific part, rendered by jinja2 from compose/alerting.yaml
    assert "Dashboard: http://localhost:3000/dashboards" in description


def in_compose(path: Path) -> dict[str, Any]:
    """A Collector-style config as the container sees it: ${env:NAME:-default} -> default."""
    text = re.sub(r"\$\{env:\w+:-([^}]*)\}", r"\1", path.read_text())
    assert not [line for line in text.splitlines() if "${" in line.split("#")[0]]
    return dict(yaml.safe_load(text))


def test_collector_pipelines():
    config = in_compose(REPO / "otel-collector/config.yaml")
    for protocol, port in (("grpc", 4317), ("http", 4318)):
        endpoint = config["receivers"]["otlp"]["protocols"][protocol]["endpoint"]
        assert endpoint == f"0.0.0.0:{port}"
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "logs", "metrics"}
    for name, pipeline in pipelines.items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert pipeline["processors"][-1] == "batch", name
    assert pipelines["traces"]["exporters"] == ["otlp_grpc/jaeger", "spanmetrics"]
    assert pipelines["logs"]["exporters"] == ["otlp_http/loki"]
    assert config["exporters"]["otlp_http/loki"]["endpoint"] == "http://loki:3100/otlp"
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    assert "health_check" in config["service"]["extensions"]
    connectors = set(config.get("connectors", {}))
    declared = {kind: set(config[kind]) for kind in ("receivers", "processors", "exporters")}
    for pipeline in pipelines.values():
        assert set(pipeline["receivers"]) <= declared["receivers"] | connectors
        assert set(pipeline["processors"]) <= declared["processors"]
        assert set(pipeline["exporters"]) <= declared["exporters"] | connectors
    # its own telemetry is served for Prometheus' otel-collector job
    reader = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
    assert reader["prometheus"]["port"] == 8888


def test_jaeger_takes_otlp_on_every_interface_in_compose():
    config = in_compose(REPO / "compose/jaeger/config.yaml")
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert config["extensions"]["jaeger_query"]["http"]["endpoint"] == "0.0.0.0:16686"
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["jaeger_storage_exporter"]


def test_dependency_names_read_the_exporter_config_where_it_is(tmp_path):
    """A relative ``password_file`` resolves next to the config, as the exporter reads it."""
    from obsstack.stack.generate import dependency_names

    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "exporter.yaml").write_text(
        "version: obsstack/v1\n"
        "dependencies:\n"
        "  - {name: pg, kind: postgres, host: 127.0.0.1, password_file: pw}\n"
    )
    assert dependency_names(tmp_path / "exporter.yaml") == ["pg"]
