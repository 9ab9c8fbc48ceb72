"""Every Prometheus Operator object of the base is valid for the operator's CRDs (v0.93.0).

Checked with jsonschema against the ``openAPIV3Schema`` of the served version of each kind's
CRD, with unknown fields refused as ``kubectl apply`` refuses them (strict field validation).
"""

from __future__ import annotations

import copy

import jsonschema
import pytest

from tests.kubernetes.generated import crd_schema, named, objects

KINDS = ("PrometheusRule", "ServiceMonitor", "PodMonitor", "Probe", "AlertmanagerConfig")
CUSTOM = objects(*KINDS)


def validate(obj: object, schema: dict[str, object]) -> None:
    """Raise the first error. The schema itself is not checked: its patterns are Go RE2
    (``(?i)`` mid-pattern) that Python's re refuses, in fields the base does not use."""
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(obj)
    )
    if error is not None:
        raise error


def test_the_base_has_every_kind():
    assert {obj["kind"] for obj in CUSTOM} == set(KINDS)


@pytest.mark.parametrize(
    "obj", CUSTOM, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in CUSTOM]
)
def test_object_validates_against_its_crd(obj):
    api_version, schema = crd_schema(obj["kind"])
    assert obj["apiVersion"] == api_version
    validate(obj, schema)


def test_every_object_carries_the_label_the_charts_prometheus_selects():
    """kube-prometheus-stack's Prometheus selects rules, monitors and probes by the label
    ``release: <release name>`` (its *SelectorNilUsesHelmValues defaults)."""
    selected = objects("PrometheusRule", "ServiceMonitor", "PodMonitor", "Probe")
    assert {o["metadata"]["labels"]["release"] for o in selected} == {"kube-prometheus-stack"}


def test_a_misspelled_field_is_refused():
    """The strict schema is not a formality: a field the CRD does not know fails."""
    monitor = copy.deepcopy(named("ServiceMonitor", "obsstack-exporter"))
    monitor["spec"]["endpoints"][0]["bearerToken"] = {"name": "x", "key": "y"}
    with pytest.raises(jsonschema.ValidationError, match="bearerToken"):
        validate(monitor, crd_schema("ServiceMonitor")[1])


def _child_routes(route: dict[str, object]) -> list[dict[str, object]]:
    children = route.get("routes", [])
    assert isinstance(children, list)
    return [grand for child in children for grand in [child, *_child_routes(child)]]


def test_child_routes_validate_against_the_route_schema():
    """The CRD leaves child routes open (the operator decodes each as a Route): each is
    checked against the schema of the top route."""
    config = named("AlertmanagerConfig", "obsstack")
    route_schema = crd_schema("AlertmanagerConfig")[1]["properties"]["spec"]["properties"]["route"]
    children = _child_routes(config["spec"]["route"])
    assert len(children) == 4
    for child in children:
        validate(child, route_schema)


def test_a_wrong_match_type_is_refused():
    config = copy.deepcopy(named("AlertmanagerConfig", "obsstack"))
    config["spec"]["inhibitRules"][0]["sourceMatch"][0]["matchType"] = "=="
    with pytest.raises(jsonschema.ValidationError, match="=="):
        validate(config, crd_schema("AlertmanagerConfig")[1])
