"""``PrometheusRule`` objects: the rule files of alerts/generated, one object per file."""

from __future__ import annotations

from typing import Any

import yaml

from obsstack.alerts.generate import rule_files
from obsstack.alerts.model import SLOSpec
from obsstack.kubernetes.objects import MONITORING, resource

SUFFIX = ".rules.yml"


def rule_name(file_name: str) -> str:
    """``api.availability.rules.yml`` -> ``obsstack-api-availability``."""
    stem = file_name.removesuffix(SUFFIX).lower()
    return "obsstack-" + stem.replace(".", "-").replace("_", "-")


def prometheus_rules(spec: SLOSpec) -> list[Any]:
    """One PrometheusRule per rule file, holding exactly that file's groups."""
    return [
        resource(MONITORING, "PrometheusRule", rule_name(name), yaml.safe_load(content))
        for name, content in sorted(rule_files(spec, spec.source).items())
    ]
