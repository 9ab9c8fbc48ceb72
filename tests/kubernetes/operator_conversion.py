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
