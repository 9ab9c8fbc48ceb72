"""The AlertmanagerConfig routes every alert to the same receiver as the compose bundle's
Alertmanager, checked with the real amtool (Debian prometheus-alertmanager 0.25) on both
configurations, the cluster's converted as the operator converts it (operator_conversion)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsstack.alerts import load_spec
from obsstack.core import naming
from obsstack.kubernetes import objects as k8s
from obsstack.stack import configs
from obsstack.stack.alerting import load_alerting
from tests.bundle.test_configs import ALERTMANAGER, ROUTES
from tests.kubernetes.generated import named
from tests.kubernetes.operator_conversion import (
    as_global_configuration,
    as_selected_config,
    prefix,
    receiver_as_file_config,
)
from tests.support.paths import ALERTING, ROOT
from tests.support.processes import require_binary

CONFIG = named("AlertmanagerConfig", "obsstack")
COMPOSE = yaml.safe_load(ALERTMANAGER.read_text())
# The integration kinds of each receiver, in Alertmanager's and in the CRD's spelling.
KINDS = {
    "pagerdutyConfigs": "pagerduty_configs",
    "opsgenieConfigs": "opsgenie_configs",
    "webhookConfigs": "webhook_configs",
}


def routed(config_file: Path, labels: dict[str, str]) -> str:
    result = subprocess.run(
        [
            require_binary("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={config_file}",
            *(f"{key}={value}" for key, value in labels.items()),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def write(config: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def kinds_in_cluster(receiver: str) -> set[str]:
    (spec,) = [r for r in CONFIG["spec"]["receivers"] if r["name"] == receiver]
    return {KINDS[key] for key in spec if key != "name"}


def kinds_in_compose(receiver: str) -> set[str]:
    (spec,) = [r for r in COMPOSE["receivers"] if r["name"] == receiver]
    return {key for key in spec if key != "name"}


@pytest.mark.parametrize(
    ("labels", "receiver"), ROUTES, ids=[f"{r[0]['alertname']}->{r[1]}" for r in ROUTES]
)
def test_alert_reaches_the_same_receiver_as_in_compose(labels, receiver, tmp_path):
    cluster = write(as_global_configuration(CONFIG), tmp_path / "cluster.yml")
    assert routed(ALERTMANAGER, labels) == receiver
    assert routed(cluster, labels) == prefix(CONFIG) + receiver
    assert kinds_in_cluster(receiver) == kinds_in_compose(receiver)


def test_pages_go_to_pagerduty_and_opsgenie_tickets_to_opsgenie():
    assert kinds_in_cluster("page") == {"pagerduty_configs", "opsgenie_configs"}
    assert "opsgenie_configs" in kinds_in_cluster("ticket")
    assert kinds_in_cluster("inhibitor") == set()


def test_inhibitions_and_timings_are_the_compose_bundles():
    converted = as_global_configuration(CONFIG)
    assert converted["inhibit_rules"] == COMPOSE["inhibit_rules"]
    for key in ("group_by", "group_wait", "group_interval", "repeat_interval"):
        assert converted["route"][key] == COMPOSE["route"][key]
    (heartbeat,) = [r for r in converted["route"]["routes"] if r["receiver"].endswith("heartbeat")]
    (compose_heartbeat,) = [r for r in COMPOSE["route"]["routes"] if r["receiver"] == "heartbeat"]
    assert {k: v for k, v in heartbeat.items() if k != "receiver"} == {
        k: v for k, v in compose_heartbeat.items() if k != "receiver"
    }


def test_selected_by_label_the_slo_alerts_would_miss_their_route(tmp_path):
    """Why the base is the Alertmanager's global configuration: selected by label, the
    operator matches only alerts carrying the namespace label, which an SLO alert (a sum over
    its SLI) and the Watchdog (vector(1)) have not. A target's own alert has it."""
    selected = write(as_selected_config(CONFIG), tmp_path / "selected.yml")
    slo_page = {
        "alertname": naming.ALERT_SLO_BURN_RATE_PAGE,
        naming.SERVICE_LABEL: "api",
        naming.SLO_LABEL: "availability",
        naming.TIER_LABEL: naming.TIER_PAGE,
    }
    assert routed(selected, slo_page) == "null"
    assert routed(selected, {"alertname": naming.ALERT_WATCHDOG}) == "null"
    in_namespace = slo_page | {"namespace": "monitoring"}
    assert routed(selected, in_namespace) == prefix(CONFIG) + "page"


def test_receivers_carry_every_field_of_the_bundles_model():
    """Translated back (each Secret key to the file it is mounted at), every receiver equals
    the compose bundle's model for the same topology: no field lost on the way."""
    model = configs.alertmanager_config(
        load_alerting(ALERTING), k8s.TOPOLOGY, load_spec(ROOT / "alerts" / "slos.yaml")
    )
    mounts = {secret: directory for directory, secret in k8s.SECRET_DIRS.items()}
    expected = []
    for receiver in model["receivers"]:
        receiver = copy.deepcopy(receiver)
        for config in receiver.get("pagerduty_configs", []):
            config["url"] = model["global"]["pagerduty_url"]
        for config in receiver.get("opsgenie_configs", []):
            config["api_url"] = model["global"]["opsgenie_api_url"]
        expected.append(receiver)
    translated = [receiver_as_file_config(r, mounts) for r in CONFIG["spec"]["receivers"]]
    assert translated == expected


def test_the_converted_configuration_and_its_template_pass_amtool(tmp_path):
    """The whole configuration the operator writes (receivers with their integrations, the
    notification template of the ConfigMap the Alertmanager resource lists) loads in a real
    Alertmanager's checker."""
    mounts = {secret: str(tmp_path / secret) for secret in k8s.SECRET_DIRS.values()}
    for directory in mounts.values():
        Path(directory).mkdir()
    config = as_global_configuration(CONFIG)
    config["receivers"] = [
        {**receiver_as_file_config(r, mounts), "name": prefix(CONFIG) + r["name"]}
        for r in CONFIG["spec"]["receivers"]
    ]
    template = named("ConfigMap", "obsstack-alertmanager-templates")["data"]
    for name, text in template.items():
        (tmp_path / name).write_text(text)
    config["templates"] = [str(tmp_path / "*.tmpl")]
    path = write(config, tmp_path / "alertmanager.yml")
    result = subprocess.run(
        [require_binary("amtool"), "check-config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "Found:\n - global config\n - route\n - 4 inhibit rules\n - 5 receivers\n - 1 templates"
        in result.stdout
    )
