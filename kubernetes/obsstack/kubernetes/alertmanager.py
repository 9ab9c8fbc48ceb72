"""The routing of compose/alerting.yaml as an ``AlertmanagerConfig`` (v1alpha1).

The configuration is the compose bundle's (``obsstack.stack.configs.alertmanager_config``),
translated field by field: the same routes, grouping, timings, inhibitions by
``AlertExplained`` and receivers, with every key and token a ``SecretKeySelector`` instead of
a file. It is meant to be the Alertmanager's *global* configuration (the Alertmanager
resource's ``alertmanagerConfiguration.name``): the operator then adds no ``namespace``
matcher to its routes and inhibitions, which the SLO alerts (aggregated, without a
``namespace`` label) and the Watchdog would never match (kubernetes/README.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

from obsstack.alerts.model import SLOSpec
from obsstack.kubernetes.objects import (
    MONITORING_ALPHA,
    TOPOLOGY,
    config_map,
    resource,
    secret_key,
)
from obsstack.stack import configs
from obsstack.stack.alerting import Alerting

NAME = "obsstack"
TEMPLATES = "obsstack-alertmanager-templates"  # the ConfigMap of the notification template
_MATCHER = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)"(.*)"$')


def matcher(text: str) -> dict[str, str]:
    """``name=~"value"`` -> ``{name, matchType, value}``."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"not a label matcher: {text!r}")
    name, match_type, quoted = found.groups()
    return {"name": name, "matchType": match_type, "value": json.loads(f'"{quoted}"')}


def _key_values(details: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in details.items()]


def _http_config(http: dict[str, Any]) -> dict[str, Any]:
    authorization = http["authorization"]
    converted = {"credentials": secret_key(authorization["credentials_file"])}
    if "type" in authorization:
        converted = {"type": authorization["type"], **converted}
    return {"authorization": converted}


def _webhook(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"url": config["url"]}
    if "send_resolved" in config:
        out["sendResolved"] = config["send_resolved"]
    if "http_config" in config:
        out["httpConfig"] = _http_config(config["http_config"])
    return out


def _pagerduty(config: dict[str, Any], url: str) -> dict[str, Any]:
    return {
        "routingKey": secret_key(config["routing_key_file"]),
        "url": url,
        "severity": config["severity"],
        "description": config["description"],
        "client": config["client"],
        "clientURL": config["client_url"],
        "details": _key_values(config["details"]),
        "pagerDutyLinkConfigs": [
            {"href": link["href"], "alt": link["text"]} for link in config["links"]
        ],
    }


def _opsgenie(config: dict[str, Any], url: str) -> dict[str, Any]:
    out = {
        "apiKey": secret_key(config["api_key_file"]),
        "apiURL": url,
        **{key: config[key] for key in ("message", "description", "source", "priority", "tags")},
        "details": _key_values(config["details"]),
    }
    if config["responders"]:
        out["responders"] = config["responders"]
    return out


def _receiver(receiver: dict[str, Any], global_: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver["name"]}
    if "pagerduty_configs" in receiver:
        url = global_["pagerduty_url"]
        out["pagerdutyConfigs"] = [_pagerduty(c, url) for c in receiver["pagerduty_configs"]]
    if "opsgenie_configs" in receiver:
        url = global_["opsgenie_api_url"]
        out["opsgenieConfigs"] = [_opsgenie(c, url) for c in receiver["opsgenie_configs"]]
    if "webhook_configs" in receiver:
        out["webhookConfigs"] = [_webhook(c) for c in receiver["webhook_configs"]]
    return out


_ROUTE_KEYS = {
    "receiver": "receiver",
    "group_by": "groupBy",
    "group_wait": "groupWait",
    "group_interval": "groupInterval",
    "repeat_interval": "repeatInterval",
}


def _route(route: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {new: route[old] for old, new in _ROUTE_KEYS.items() if old in route}
    if "matchers" in route:
        out["matchers"] = [matcher(m) for m in route["matchers"]]
    if "routes" in route:
        out["routes"] = [_route(child) for child in route["routes"]]
    return out


def _inhibition(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "sourceMatch": [matcher(m) for m in rule["source_matchers"]],
        "targetMatch": [matcher(m) for m in rule["target_matchers"]],
        "equal": rule["equal"],
    }


def alertmanager_config(alerting: Alerting, spec: SLOSpec) -> Any:
    """The compose bundle's Alertmanager configuration as an AlertmanagerConfig."""
    config = configs.alertmanager_config(alerting, TOPOLOGY, spec)
    body = {
        "route": _route(config["route"]),
        "inhibitRules": [_inhibition(rule) for rule in config["inhibit_rules"]],
        "receivers": [_receiver(r, config["global"]) for r in config["receivers"]],
    }
    return resource(MONITORING_ALPHA, "AlertmanagerConfig", NAME, body)


def templates_config_map(alerting: Alerting, header: str) -> Any:
    """The notification template the receivers name (``obsstack.title`` ...), as a ConfigMap
    the Alertmanager resource's ``alertmanagerConfiguration.templates`` lists."""
    content = configs.notification_template(alerting, header)
    return config_map(TEMPLATES, {configs.NOTIFICATION_TEMPLATE: content})
