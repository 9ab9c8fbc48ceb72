"""Prometheus and Alertmanager configuration for a topology, built from one set of facts.

Scrape jobs come from the topology and the exporter's dependency names; Alertmanager routes
and inhibition come from the naming conventions and the SLO spec (which services depend on
which dependency). Both the compose bundle and the native runner use these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import yaml

from alerts.model import SLOSpec
from exporters import naming
from exporters.bundle.alerting import LOCAL, Alerting
from exporters.bundle.topology import (
    COLLECTOR_EXPORTED_JOB,
    COLLECTOR_EXPORTED_METRICS_PORT,
    COMPONENTS,
    Topology,
)
from exporters.spec import format_duration, parse_duration

TEMPLATES = Path(__file__).parent / "templates"
NOTIFICATION_TEMPLATE = "obsstack.tmpl"
PAGERDUTY_KEY_FILE = "pagerduty_routing_key"
OPSGENIE_KEY_FILE = "opsgenie_api_key"
ANY_SLO = f'{naming.SLO_LABEL}=~".+"'
SLO_ALERTS = (
    naming.ALERT_SLO_BURN_RATE_PAGE,
    naming.ALERT_SLO_BURN_RATE_TICKET,
    naming.ALERT_SLO_BUDGET_EXHAUSTED,
)


def dump(document: dict[str, Any], header: str) -> str:
    """YAML with a leading comment, keys in the order built (deterministic)."""
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)
    return f"# {header}\n{body}"


# -- Prometheus ------------------------------------------------------------------------------


def _static(job: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"job_name": job, **extra, "static_configs": [{"targets": [target]}]}


def prometheus_config(topology: Topology, dependencies: list[str]) -> dict[str, Any]:
    """Scrape every running component, the exporter's /metrics and /probe per dependency."""
    jobs = []
    for name, component in COMPONENTS.items():
        if component.job is None or not topology.runs(name):
            continue
        jobs.append(_static(component.job, topology.metrics_address(name)))
        if name == "exporter":
            jobs.append(
                {
                    "job_name": naming.JOB_PROBE,
                    "metrics_path": "/probe",
                    "static_configs": [{"targets": list(dependencies)}],
                    "relabel_configs": [
                        {"source_labels": ["__address__"], "target_label": "__param_target"},
                        {"source_labels": ["__param_target"], "target_label": naming.DEPENDENCY},
                        {"target_label": "__address__", "replacement": topology.address(name)},
                    ],
                    # The kind details are scraped from /metrics already: keep them once.
                    "metric_relabel_configs": [
                        {"source_labels": ["__name__"], "regex": "probe_.+", "action": "keep"}
                    ],
                }
            )
        if name == "otel-collector":
            jobs.append(
                _static(
                    COLLECTOR_EXPORTED_JOB,
                    topology.address(name, COLLECTOR_EXPORTED_METRICS_PORT),
                    honor_labels=True,
                )
            )
    return {
        "global": {
            "scrape_interval": topology.scrape_interval,
            "scrape_timeout": format_duration(min(10.0, parse_duration(topology.scrape_interval))),
            "evaluation_interval": topology.evaluation_interval,
            "external_labels": {"stack": topology.name},
        },
        "rule_files": [f"{topology.rules_dir}/*.rules.yml"],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [topology.address("alertmanager")]}]}]
        },
        "scrape_configs": jobs,
    }


# -- Alertmanager ----------------------------------------------------------------------------


def _destination(value: str, topology: Topology, local_path: str) -> str:
    return topology.url("oncall-sink", local_path) if value == LOCAL else value


def _receivers(alerting: Alerting, topology: Topology) -> list[dict[str, Any]]:
    secrets = topology.secrets_dir
    summary = '{{ template "obsstack.title" . }}'
    description = '{{ template "obsstack.description" . }}'
    details = {
        "firing": '{{ template "obsstack.firing" . }}',
        "resolved": '{{ template "obsstack.resolved" . }}',
        "num_firing": "{{ .Alerts.Firing | len }}",
        "num_resolved": "{{ .Alerts.Resolved | len }}",
        "runbook_url": "{{ .CommonAnnotations.runbook_url }}",
        "dashboard_url": "{{ .CommonAnnotations.dashboard_url }}",
    }

    def opsgenie(priority: str) -> dict[str, Any]:
        return {
            "api_key_file": f"{secrets}/{OPSGENIE_KEY_FILE}",
            "message": summary,
            "description": description,
            "source": alerting.stack_name,
            "priority": priority,
            "tags": "{{ .CommonLabels.severity }},{{ .CommonLabels.service }}",
            "details": dict(details),
            "responders": [{"type": r.type, "name": r.name} for r in alerting.opsgenie_responders],
        }

    heartbeat: dict[str, Any] = {
        "url": _destination(alerting.heartbeat_url, topology, "/webhook/heartbeat"),
        "send_resolved": False,
    }
    if alerting.heartbeat_uses_opsgenie_key:
        heartbeat["http_config"] = {
            "authorization": {
                "type": "GenieKey",
                "credentials_file": f"{secrets}/{OPSGENIE_KEY_FILE}",
            }
        }
    return [
        {
            "name": "default",
            "webhook_configs": [
                {"url": _destination(alerting.default_webhook_url, topology, "/webhook/default")}
            ],
        },
        {
            "name": "page",
            "pagerduty_configs": [
                {
                    "routing_key_file": f"{secrets}/{PAGERDUTY_KEY_FILE}",
                    "severity": "critical",
                    "description": summary,
                    "client": alerting.stack_name,
                    "client_url": alerting.grafana_url,
                    "details": details,
                    "links": [
                        {"href": "{{ .CommonAnnotations.runbook_url }}", "text": "Runbook"},
                        {"href": "{{ .CommonAnnotations.dashboard_url }}", "text": "Dashboard"},
                    ],
                }
            ],
            "opsgenie_configs": [opsgenie(alerting.page_priority)],
        },
        {
            "name": "ticket",
            "opsgenie_configs": [opsgenie(alerting.ticket_priority)],
            "webhook_configs": [
                {"url": _destination(alerting.ticket_webhook_url, topology, "/webhook/ticket")}
            ],
        },
        {"name": "heartbeat", "webhook_configs": [heartbeat]},
    ]


def _matcher(label: str, value: str) -> str:
    return f'{label}="{value}"'


def _inhibitions(spec: SLOSpec, dependencies: list[str]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {  # a page already tells the story: no ticket for the same SLO. Both sides must
            # carry an slo label: `equal` on two absent labels would match any pair.
            "source_matchers": [_matcher(naming.TIER_LABEL, naming.TIER_PAGE), ANY_SLO],
            "target_matchers": [_matcher(naming.TIER_LABEL, naming.TIER_TICKET), ANY_SLO],
            "equal": [naming.SERVICE_LABEL, naming.SLO_LABEL],
        },
        {  # a dependency that is down is also slow and has its circuit open
            "source_matchers": [_matcher("alertname", naming.ALERT_DEPENDENCY_DOWN)],
            "target_matchers": [
                f'alertname=~"{naming.ALERT_DEPENDENCY_PROBE_SLOW}|'
                f'{naming.ALERT_DEPENDENCY_CIRCUIT_OPEN}"'
            ],
            "equal": [naming.DEPENDENCY],
        },
    ]
    for dependency in dependencies:
        services = spec.dependents(dependency)
        if not services:
            continue
        rules.append(
            {  # the dependency's outage explains its dependents' SLO burn
                "source_matchers": [
                    _matcher("alertname", naming.ALERT_DEPENDENCY_DOWN),
                    _matcher(naming.DEPENDENCY, dependency),
                ],
                "target_matchers": [
                    f'alertname=~"{"|".join(SLO_ALERTS)}"',
                    f'{naming.SERVICE_LABEL}=~"{"|".join(sorted(services))}"',
                ],
            }
        )
    return rules


def alertmanager_config(
    alerting: Alerting, topology: Topology, spec: SLOSpec, dependencies: list[str]
) -> dict[str, Any]:
    """Routes: critical pages (PagerDuty + Opsgenie), warning tickets, Watchdog heartbeat."""
    return {
        "global": {
            "resolve_timeout": "5m",
            "pagerduty_url": _destination(alerting.pagerduty_url, topology, "/v2/enqueue"),
            "opsgenie_api_url": _destination(alerting.opsgenie_api_url, topology, "/"),
        },
        "templates": [f"{topology.templates_dir}/*.tmpl"],
        "route": {
            "receiver": "default",
            # One page per SLO and per dependency: two dependencies down are two incidents.
            "group_by": ["alertname", naming.SERVICE_LABEL, naming.SLO_LABEL, naming.DEPENDENCY],
            "group_wait": alerting.group_wait,
            "group_interval": alerting.group_interval,
            "repeat_interval": alerting.repeat_interval,
            "routes": [
                {
                    "receiver": "heartbeat",
                    "matchers": [_matcher("alertname", naming.ALERT_WATCHDOG)],
                    "group_wait": "0s",
                    "group_interval": alerting.heartbeat_interval,
                    "repeat_interval": alerting.heartbeat_interval,
                },
                {
                    "receiver": "page",
                    "matchers": [_matcher(naming.SEVERITY_LABEL, naming.SEVERITY_PAGE)],
                },
                {
                    "receiver": "ticket",
                    "matchers": [_matcher(naming.SEVERITY_LABEL, naming.SEVERITY_TICKET)],
                },
            ],
        },
        "inhibit_rules": _inhibitions(spec, dependencies),
        "receivers": _receivers(alerting, topology),
    }


def notification_template(alerting: Alerting, header: str) -> str:
    """The Go templates Alertmanager uses; deployment-specific values rendered by jinja2."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    template = environment.get_template(f"{NOTIFICATION_TEMPLATE}.j2")
    return template.render(
        header=header, stack_name=alerting.stack_name, grafana_url=alerting.grafana_url.rstrip("/")
    )
