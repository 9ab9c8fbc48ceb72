"""The committed Kubernetes base (kubernetes/generated) and the CRD schemas it is checked with."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import ROOT

GENERATED = ROOT / "kubernetes" / "generated"
CRDS = ROOT / "tests" / "data" / "schemas" / "prometheus-operator"
OPERATOR_VERSION = "0.93.0"


@functools.cache
def documents() -> dict[str, list[Any]]:
    """File name -> the objects in it, for every YAML file of the base but the kustomization."""
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        for path in sorted(GENERATED.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def objects(*kinds: str) -> list[Any]:
    """Every generated object of ``kinds`` (all of them without ``kinds``)."""
    found = [obj for docs in documents().values() for obj in docs]
    return [obj for obj in found if not kinds or obj["kind"] in kinds]


def named(kind: str, name: str) -> Any:
    (found,) = [obj for obj in objects(kind) if obj["metadata"]["name"] == name]
    return found


class Yaml12Loader(yaml.CSafeLoader):
    """PyYAML (YAML 1.1) reads a bare ``=`` (a matcher's matchType, as the CRDs and kubectl
    write it) as the 'value' tag; Kubernetes (YAML 1.2) reads a string."""


def _scalar(loader: yaml.CSafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


Yaml12Loader.add_constructor("tag:yaml.org,2002:value", _scalar)


def _strict(schema: Any) -> Any:
    """The schema with unknown fields refused, as ``kubectl apply`` does (field validation
    ``Strict``): objects with declared properties get ``additionalProperties: false``."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_schema(kind: str) -> tuple[str, dict[str, Any]]:
    """(apiVersion, strict openAPIV3Schema) of the served version of ``kind``'s CRD."""
    path = CRDS / f"monitoring.coreos.com_{kind.lower()}s.yaml"
    if path.is_file():
        crd = yaml.load(path.read_text(), Loader=Yaml12Loader)
        assert crd["spec"]["names"]["kind"] == kind
        assert crd["metadata"]["annotations"]["operator.prometheus.io/version"] == OPERATOR_VERSION
        (version,) = [v for v in crd["spec"]["versions"] if v["served"] and v["storage"]]
        api_version = f"{crd['spec']['group']}/{version['name']}"
        return api_version, _strict(version["schema"]["openAPIV3Schema"])
    raise LookupError(f"no CRD for {kind} in {CRDS}")


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
