"""Prometheus and Alertmanager configuration for a topology, built from one set of facts.

Scrape jobs come from the topology and the exporter's dependency names; Alertmanager routes
and inhibition come from the naming conventions and the SLO spec (the labels a grouped SLI
keeps). Both the compose bundle and the native runner use these functions.
"""

from __future__ import annotations

from typing import Any

import jinja2
import yaml

from obsstack.alerts.model import SLOSpec
from obsstack.core import naming
from obsstack.core.spec import ConfigError, format_duration, parse_duration
from obsstack.stack.alerting import LOCAL, Alerting
from obsstack.stack.tokens import ONCALL_TOKEN
from obsstack.stack.topology import (
    COLLECTOR_EXPORTED_JOB,
    COMPONENTS,
    Topology,
)

ALERTING_FILE = "compose/alerting.yaml"  # in the obsstack directory
NOTIFICATION_TEMPLATE = "obsstack.tmpl"
PAGERDUTY_KEY_FILE = "pagerduty_routing_key"
OPSGENIE_KEY_FILE = "opsgenie_api_key"
ANY_SLO = f'{naming.SLO_LABEL}=~".+"'
INSTANCE = "instance"  # Prometheus' target label
# Ticket-tier SLO alerts that no burn-rate condition explains: AlertExplained{explains="ticket"}
# ends with the burn-rate ticket, not with these, so it must not mute them.
UNEXPLAINED_SLO_ALERTS = (naming.ALERT_SLO_BUDGET_EXHAUSTED, naming.ALERT_SLO_DATA_ABSENT)
# The stack alerts an AlertExplained may explain (by DependencyDown), matched by name.
EXPLAINED_STACK_ALERTS = (naming.ALERT_DEPENDENCY_PROBE_SLOW, naming.ALERT_DEPENDENCY_CIRCUIT_OPEN)
RECEIVER_INHIBITOR = "inhibitor"  # no integrations: AlertExplained never notifies


def dump(document: dict[str, Any], header: str) -> str:
    """YAML with a leading comment, keys in the order built (deterministic)."""
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)
    return f"# {header}\n{body}"


# -- Prometheus ------------------------------------------------------------------------------


def _static(job: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"job_name": job, **extra, "static_configs": [{"targets": [target]}]}


def _credentials(component: str, topology: Topology) -> dict[str, Any]:
    """What a scrape of ``component`` sends: its token, when it requires one."""
    token = COMPONENTS[component].token
    if token is None:
        return {}
    return {"authorization": {"credentials_file": f"{topology.tokens_dir}/{token}"}}


def _scrape_jobs(topology: Topology, dependencies: list[str]) -> list[dict[str, Any]]:
    """A job per component kind that runs; the replicas (or peers) of one kind share a job."""
    jobs: dict[str, dict[str, Any]] = {}
    for name, component in COMPONENTS.items():
        if component.job is None or not topology.runs(name):
            continue
        if component.job in jobs:
            jobs[component.job]["static_configs"][0]["targets"].append(
                topology.metrics_address(name)
            )
            continue
        jobs[component.job] = _static(
            component.job, topology.metrics_address(name), **_credentials(name, topology)
        )
        if name == "exporter":
            jobs[naming.JOB_PROBE] = {
                "job_name": naming.JOB_PROBE,
                "metrics_path": "/probe",
                **_credentials(name, topology),
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
        if name == "otel-collector":
            jobs[COLLECTOR_EXPORTED_JOB] = _static(
                COLLECTOR_EXPORTED_JOB,
                topology.address(name, "exported-metrics"),
                honor_labels=True,
            )
    return list(jobs.values())


def prometheus_config(topology: Topology, dependencies: list[str], stack: str) -> dict[str, Any]:
    """Scrape every running component, the exporter's /metrics and /probe per dependency.

    ``stack`` is the external label every alert carries: Alertmanager groups and inhibits
    within one stack, so stacks sharing an Alertmanager need different names.
    """
    peers = [topology.address(peer) for peer in topology.peers()]
    return {
        "global": {
            "scrape_interval": topology.scrape_interval,
            "scrape_timeout": format_duration(min(10.0, parse_duration(topology.scrape_interval))),
            "evaluation_interval": topology.evaluation_interval,
            "external_labels": {naming.STACK_LABEL: stack},
        },
        "rule_files": [f"{topology.rules_dir}/*.rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": peers}]}]},
        "scrape_configs": _scrape_jobs(topology, dependencies),
    }


# -- Alertmanager ----------------------------------------------------------------------------


def _destination(value: str, topology: Topology, local_path: str) -> str:
    return topology.url("oncall-sink", local_path) if value == LOCAL else value


def _webhook(value: str, topology: Topology, local_path: str) -> dict[str, Any]:
    """A webhook config; to the local inbox with its token (the inbox refuses others)."""
    config: dict[str, Any] = {"url": _destination(value, topology, local_path)}
    if value == LOCAL:
        config["http_config"] = {
            "authorization": {"credentials_file": f"{topology.tokens_dir}/{ONCALL_TOKEN}"}
        }
    return config


def go_literal(value: str) -> str:
    """A Go template action that prints ``value`` verbatim: ``{{ "..." }}``.

    Whatever the value holds (``{{``, ``}}``, quotes, backslashes, newlines), the template
    still parses and prints it as text: it is a Go string literal inside its own action.
    """
    out = []
    for char in value:
        code = ord(char)
        if char in '\\"':
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # not encodable: what a decoder would show
            out.append("\ufffd")
        else:
            out.append(char)
    return '{{ "' + "".join(out) + '" }}'


_GO_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def template_text(value: str) -> str:
    """A deployment value for a templated Alertmanager field: itself, unless it holds ``{{``
    (which would start a template action), then as a Go literal."""
    return go_literal(value) if "{{" in value else value


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
            "source": template_text(alerting.stack_name),
            "priority": priority,
            "tags": f"{{{{ .CommonLabels.{naming.SEVERITY_LABEL} }}}},"
            f"{{{{ .CommonLabels.{naming.SERVICE_LABEL} }}}}",
            "details": dict(details),
            "responders": [
                {"type": r.type, "name": template_text(r.name)}
                for r in alerting.opsgenie_responders
            ],
        }

    heartbeat = _webhook(alerting.heartbeat_url, topology, "/webhook/heartbeat")
    heartbeat["send_resolved"] = False
    if alerting.heartbeat_uses_opsgenie_key and alerting.heartbeat_url != LOCAL:
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
                _webhook(alerting.default_webhook_url, topology, "/webhook/default")
            ],
        },
        {
            "name": "page",
            "pagerduty_configs": [
                {
                    "routing_key_file": f"{secrets}/{PAGERDUTY_KEY_FILE}",
                    "severity": "critical",
                    "description": summary,
                    "client": template_text(alerting.stack_name),
                    "client_url": template_text(alerting.grafana_url),
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
            "webhook_configs": [_webhook(alerting.ticket_webhook_url, topology, "/webhook/ticket")],
        },
        {"name": "heartbeat", "webhook_configs": [heartbeat]},
        {"name": RECEIVER_INHIBITOR},
    ]


def _matcher(label: str, value: str) -> str:
    return f'{label}="{value}"'


def slo_identity(spec: SLOSpec) -> list[str]:
    """The labels that name one SLO alert series: service, SLO, and the labels every grouped
    SLI of the spec keeps (one burn-rate alert, and one AlertExplained, per group)."""
    grouping = sorted({label for slo in spec.slos for label in slo.sli.grouping})
    return [naming.SERVICE_LABEL, naming.SLO_LABEL, *grouping]


def heartbeat_repeat_interval(
    heartbeat_interval: str, peers: int = 1, peer_timeout: str = "0s"
) -> str:
    """The Watchdog route's repeat interval: every flush of one peer sends, no other peer does.

    Alertmanager (``notify.DedupStage.needsUpdate``, 0.25 to 0.29) repeats an unchanged
    notification only if the last one was logged more than ``repeat_interval`` before the
    moment it checks, by the wall clock. The peer that sends checks at its flush, one
    interval after the entry it wrote at the previous flush (a few milliseconds less: the
    entry is written after the send), so ``repeat_interval`` must be shorter than the interval,
    or every other flush is skipped. The n-th peer of a cluster checks n peer timeouts after its
    flush, when the first peer's entry is that old, so ``repeat_interval`` must be longer than
    (peers - 1) x the peer timeout, or the last peer sends a second heartbeat. Halfway between
    the two: half the interval for a single Alertmanager.
    """
    last_wait = longer_than_last_peer_wait(
        "heartbeat_interval", heartbeat_interval, peers, peer_timeout
    )
    return format_duration((last_wait + parse_duration(heartbeat_interval)) / 2)


def longer_than_last_peer_wait(key: str, value: str, peers: int, peer_timeout: str) -> float:
    """The last peer's wait, in seconds; ConfigError unless timing ``key`` is longer.

    A flush of the last peer begins, waits, then sends what it saw at its beginning. A group
    interval no longer than that wait lets a resolve sent meanwhile by another peer be followed
    by this stale firing notification: the incident opens again (measured with Alertmanager
    0.25, three peers, 15 s peer timeout, 2 s group interval: two triggers and two resolves).
    """
    last_wait = (peers - 1) * parse_duration(peer_timeout) if peers > 1 else 0.0
    if last_wait >= parse_duration(value):
        raise ConfigError(
            ALERTING_FILE,
            f"timings.{key}",
            f"must be longer than the wait of the last of {peers} Alertmanager peers "
            f"({peers - 1} x the {peer_timeout} peer timeout; got {value})",
        )
    return last_wait


def _explained(explains: str, target: list[str], equal: list[str]) -> dict[str, Any]:
    """Mute ``target`` while an AlertExplained{explains=...} with the same ``equal`` fires."""
    return {
        "source_matchers": [
            _matcher("alertname", naming.ALERT_EXPLAINED),
            _matcher(naming.EXPLAINS_LABEL, explains),
        ],
        "target_matchers": target,
        # `stack` first: two stacks sharing this Alertmanager never mute each other.
        "equal": [naming.STACK_LABEL, *equal],
    }


def _inhibitions(spec: SLOSpec) -> list[dict[str, Any]]:
    """Only AlertExplained inhibits.

    The rules fire it while an alert is explained by a louder one and only while the explained
    alert's own condition holds, so it ends together with that alert: the alert is muted, its
    resolve never is. (An inhibition by the louder alert itself mutes the resolve when the
    louder alert outlives it, leaving the PagerDuty and Opsgenie incident open.)
    """
    not_burn = "|".join(UNEXPLAINED_SLO_ALERTS)
    rules = [
        _explained(
            tier,
            [_matcher(naming.TIER_LABEL, tier), ANY_SLO, f'alertname!~"{not_burn}"'],
            slo_identity(spec),
        )
        for tier in (naming.TIER_PAGE, naming.TIER_TICKET)
    ]
    rules += [
        _explained(alertname, [_matcher("alertname", alertname)], [naming.DEPENDENCY, INSTANCE])
        for alertname in EXPLAINED_STACK_ALERTS
    ]
    return rules


def alertmanager_config(alerting: Alerting, topology: Topology, spec: SLOSpec) -> dict[str, Any]:
    """Routes by tier: pages (PagerDuty + Opsgenie), tickets, the Watchdog heartbeat, and
    AlertExplained to a receiver that never notifies; inhibition by AlertExplained only."""
    peers = len(topology.peers())
    longer_than_last_peer_wait(
        "group_interval", alerting.group_interval, peers, topology.peer_timeout
    )
    return {
        "global": {
            "resolve_timeout": "5m",
            "pagerduty_url": _destination(alerting.pagerduty_url, topology, "/v2/enqueue"),
            "opsgenie_api_url": _destination(alerting.opsgenie_api_url, topology, "/"),
        },
        "templates": [f"{topology.templates_dir}/*.tmpl"],
        "route": {
            "receiver": "default",
            # One page per stack, SLO and dependency: two dependencies down are two incidents.
            "group_by": [
                naming.STACK_LABEL,
                "alertname",
                naming.SERVICE_LABEL,
                naming.SLO_LABEL,
                naming.DEPENDENCY,
            ],
            "group_wait": alerting.group_wait,
            "group_interval": alerting.group_interval,
            "repeat_interval": alerting.repeat_interval,
            "routes": [
                {
                    "receiver": RECEIVER_INHIBITOR,
                    "matchers": [_matcher("alertname", naming.ALERT_EXPLAINED)],
                },
                {
                    "receiver": "heartbeat",
                    "matchers": [_matcher("alertname", naming.ALERT_WATCHDOG)],
                    "group_wait": "0s",
                    "group_interval": alerting.heartbeat_interval,
                    "repeat_interval": heartbeat_repeat_interval(
                        alerting.heartbeat_interval, peers, topology.peer_timeout
                    ),
                },
                # By tier, never by severity: a spec may set its own severity values.
                {
                    "receiver": "page",
                    "matchers": [_matcher(naming.TIER_LABEL, naming.TIER_PAGE)],
                },
                {
                    "receiver": "ticket",
                    "matchers": [_matcher(naming.TIER_LABEL, naming.TIER_TICKET)],
                },
            ],
        },
        "inhibit_rules": _inhibitions(spec),
        "receivers": _receivers(alerting, topology),
    }


def notification_template(alerting: Alerting, header: str) -> str:
    """The Go templates Alertmanager uses; deployment-specific values rendered by jinja2, each
    as a Go string literal (:func:`go_literal`), so no value can break or extend a template."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("obsstack.stack", "templates"),
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
        header=header,
        stack_name=go_literal(alerting.stack_name),
        grafana_url=go_literal(alerting.grafana_url.rstrip("/")),
        service_label=naming.SERVICE_LABEL,
        slo_label=naming.SLO_LABEL,
        dependency_label=naming.DEPENDENCY,
        stack_label=naming.STACK_LABEL,
    )
