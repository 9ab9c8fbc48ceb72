"""An AlertmanagerConfig turned into Alertmanager configuration as the Prometheus Operator
(v0.93.0, ``pkg/alertmanager/amcfg.go``) turns it, for the routing fields amtool reads.

Written from the operator's source: ``convertRoute`` prefixes every receiver name with
``<namespace>/<name>/`` and renders matchers as ``name<op>"value"`` (``Matcher.String``, a Go
quoted string); ``convertInhibitRule`` does the same for inhibitions. As the Alertmanager's
global configuration (``alertmanagerConfiguration.name``) the result is the whole
configuration, untouched. Selected by label instead (``AddAlertmanagerConfigs`` with the
default ``OnNamespace`` strategy), its route becomes the first child of the base
configuration's route, with ``namespace="<namespace>"`` added to its matchers and
``continue: true``, and its inhibitions get the same matcher on both sides.
Receivers keep their names only: amtool's route test reads nothing else.
"""

from __future__ import annotations

import json
from typing import Any

NAMESPACE = "monitoring"
_DURATIONS = {"groupWait": "group_wait", "groupInterval": "group_interval"}
_DURATIONS |= {"repeatInterval": "repeat_interval"}


def _matchers(matchers: list[dict[str, str]]) -> list[str]:
    return [f"{m['name']}{m['matchType']}{json.dumps(m['value'])}" for m in matchers]


def _route(route: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": prefix + route["receiver"]} if "receiver" in route else {}
    if "groupBy" in route:
        out["group_by"] = route["groupBy"]
    out |= {new: route[old] for old, new in _DURATIONS.items() if old in route}
    if "matchers" in route:
        out["matchers"] = _matchers(route["matchers"])
    if "routes" in route:
        out["routes"] = [_route(child, prefix) for child in route["routes"]]
    return out


def _inhibition(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_matchers": _matchers(rule["sourceMatch"]),
        "target_matchers": _matchers(rule["targetMatch"]),
        "equal": rule["equal"],
    }


def prefix(config: dict[str, Any]) -> str:
    return f"{NAMESPACE}/{config['metadata']['name']}/"


def as_global_configuration(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration the operator writes for ``alertmanagerConfiguration.name``."""
    spec = config["spec"]
    return {
        "route": _route(spec["route"], prefix(config)),
        "inhibit_rules": [_inhibition(rule) for rule in spec["inhibitRules"]],
        "receivers": [{"name": prefix(config) + r["name"]} for r in spec["receivers"]],
    }


def as_selected_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration for the same object selected by label, under a base configuration
    whose only route sends everything to a receiver named ``null`` (kube-prometheus-stack's
    default)."""
    namespaced = f'namespace="{NAMESPACE}"'
    route = _route(config["spec"]["route"], prefix(config))
    route["matchers"] = [*route.get("matchers", []), namespaced]
    route["continue"] = True
    inhibitions = [_inhibition(rule) for rule in config["spec"]["inhibitRules"]]
    for rule in inhibitions:
        rule["source_matchers"].append(namespaced)
        rule["target_matchers"].append(namespaced)
    receivers = [{"name": prefix(config) + r["name"]} for r in config["spec"]["receivers"]]
    return {
        "route": {"receiver": "null", "routes": [route]},
        "inhibit_rules": inhibitions,
        "receivers": [{"name": "null"}, *receivers],
    }


# -- scrape configuration (pkg/prometheus/promcfg.go) ------------------------------------------
_RELABEL_KEYS = {
    "sourceLabels": "source_labels",
    "targetLabel": "target_label",
    "regex": "regex",
    "replacement": "replacement",
    "separator": "separator",
}


def relabel_configs(relabelings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``RelabelConfig`` objects in Prometheus' spelling (``generateRelabelConfig``)."""
    out = []
    for relabeling in relabelings:
        config = {new: relabeling[old] for old, new in _RELABEL_KEYS.items() if old in relabeling}
        if "action" in relabeling:
            config["action"] = relabeling["action"].lower()
        out.append(config)
    return out


def _authorization(spec: dict[str, Any], token_file: str) -> dict[str, Any]:
    """The operator reads the Secret key and writes its value into the configuration; here the
    same value comes from a file."""
    auth = spec["authorization"]
    return {"authorization": {"type": auth.get("type", "Bearer"), "credentials_file": token_file}}


def probe_scrape_config(
    probe: dict[str, Any], prober_address: str, token_file: str
) -> dict[str, Any]:
    """``generateProbeConfig`` for a Probe with static targets; ``prober_address`` is where
    the prober URL's Service name resolves."""
    spec = probe["spec"]
    static = spec["targets"]["staticConfig"]
    config: dict[str, Any] = {
        "job_name": f"probe/{NAMESPACE}/{probe['metadata']['name']}",
        "honor_timestamps": True,
        "metrics_path": spec["prober"]["path"],
    }
    if spec.get("module"):
        config["params"] = {"module": [spec["module"]]}
    config |= _authorization(spec, token_file) if "authorization" in spec else {}
    config["static_configs"] = [
        {
            "targets": static["static"],
            "labels": {"namespace": NAMESPACE, **static.get("labels", {})},
        }
    ]
    config["relabel_configs"] = [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
        *([{"target_label": "job", "replacement": spec["jobName"]}] if spec.get("jobName") else []),
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": prober_address},
        *relabel_configs(static.get("relabelingConfigs", [])),
    ]
    if spec.get("metricRelabelings"):
        config["metric_relabel_configs"] = relabel_configs(spec["metricRelabelings"])
    return config


def service_monitor_scrape_config(
    monitor: dict[str, Any], service: str, address: str, token_file: str
) -> dict[str, Any]:
    """``generateServiceMonitorConfig`` for the first endpoint, the Service's endpoint
    discovered (Kubernetes service discovery, which needs a cluster) given as a static target
    with the label the discovery sets: the job defaults to the Service's name, then the
    endpoint's relabelings apply."""
    (endpoint,) = monitor["spec"]["endpoints"]
    config: dict[str, Any] = {
        "job_name": f"serviceMonitor/{NAMESPACE}/{monitor['metadata']['name']}/0",
        "honor_timestamps": True,
        "metrics_path": endpoint.get("path", "/metrics"),
    }
    config |= _authorization(endpoint, token_file) if "authorization" in endpoint else {}
    config["static_configs"] = [
        {"targets": [address], "labels": {"__meta_kubernetes_service_name": service}}
    ]
    config["relabel_configs"] = [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job"},
        *relabel_configs(endpoint.get("relabelings", [])),
    ]
    return config


# -- receivers (convertReceiver and the convert*Config functions) ------------------------------
def _secret_file(selector: dict[str, str], mounts: dict[str, str]) -> str:
    """Where the compose bundle reads the key the selector names (its directory by Secret)."""
    return f"{mounts[selector['name']]}/{selector['key']}"


def receiver_as_file_config(receiver: dict[str, Any], mounts: dict[str, str]) -> dict[str, Any]:
    """A receiver in Alertmanager's spelling, each Secret key read from the file the compose
    bundle reads it from (``mounts``: Secret name -> directory), the name unprefixed."""
    out: dict[str, Any] = {"name": receiver["name"]}
    for config in receiver.get("pagerdutyConfigs", []):
        out.setdefault("pagerduty_configs", []).append(
            {
                "routing_key_file": _secret_file(config["routingKey"], mounts),
                "url": config["url"],
                "severity": config["severity"],
                "description": config["description"],
                "client": config["client"],
                "client_url": config["clientURL"],
                "details": {kv["key"]: kv["value"] for kv in config["details"]},
                "links": [
                    {"href": link["href"], "text": link["alt"]}
                    for link in config["pagerDutyLinkConfigs"]
                ],
            }
        )
    for config in receiver.get("opsgenieConfigs", []):
        keys = ("message", "description", "source", "priority", "tags")
        out.setdefault("opsgenie_configs", []).append(
            {
                "api_key_file": _secret_file(config["apiKey"], mounts),
                "api_url": config["apiURL"],
                **{key: config[key] for key in keys},
                "details": {kv["key"]: kv["value"] for kv in config["details"]},
                "responders": config.get("responders", []),
            }
        )
    for config in receiver.get("webhookConfigs", []):
        webhook: dict[str, Any] = {"url": config["url"]}
        if "sendResolved" in config:
            webhook["send_resolved"] = config["sendResolved"]
        if "httpConfig" in config:
            auth = config["httpConfig"]["authorization"]
            converted = {"credentials_file": _secret_file(auth["credentials"], mounts)}
            webhook["http_config"] = {
                "authorization": {**({"type": auth["type"]} if "type" in auth else {}), **converted}
            }
        out.setdefault("webhook_configs", []).append(webhook)
    return out
