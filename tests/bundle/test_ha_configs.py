"""The HA variant's generated configuration (compose/generated/ha), checked by promtool and
amtool, and the heartbeat timing a cluster of peers needs."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from obsstack.alerts import load_default_spec
from obsstack.cli import main
from obsstack.core import naming
from obsstack.core.spec import ConfigError, parse_duration
from obsstack.stack import configs
from obsstack.stack import generate as bundle_generate
from obsstack.stack.alerting import load_alerting
from obsstack.stack.topology import COMPOSE, COMPOSE_HA, PROMETHEUS_REPLICAS
from tests.bundle.test_configs import REPO, promtool_check_config, run
from tests.support.paths import ALERTING

HA = REPO / "compose/generated/ha"


@pytest.mark.parametrize("replica", PROMETHEUS_REPLICAS)
def test_promtool_checks_each_replica_s_config(replica: str, tmp_path: Path):
    promtool_check_config(HA / f"{replica}.yml", tmp_path)


def test_amtool_checks_the_peers_config():
    result = run("amtool", "check-config", str(HA / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_replicas_differ_only_in_their_replica_label():
    first, second = (yaml.safe_load((HA / f"{r}.yml").read_text()) for r in PROMETHEUS_REPLICAS)
    assert first["global"]["external_labels"] == {"stack": "obsstack", "replica": "prometheus"}
    second["global"]["external_labels"]["replica"] = "prometheus"
    assert first == second


def test_the_peers_flush_slo_alerts_between_their_evaluations():
    """An SLO alert has no ``for``: its group starts when it arrives, just after an evaluation,
    and is flushed a group wait later, then every group interval. Half an evaluation, then
    whole ones: no flush of the cluster's peers falls on the arrival of a resolve, which the
    peers, flushing milliseconds apart, could see on either side (tests.bundle.ha_stack)."""
    route = yaml.safe_load((HA / "alertmanager.yml").read_text())["route"]
    by_matcher = {m: {**route, **child} for child in route["routes"] for m in child["matchers"]}
    checked = 0
    for path in sorted((REPO / "alerts/generated").glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") not in (
                    naming.ALERT_SLO_BURN_RATE_PAGE,
                    naming.ALERT_SLO_BURN_RATE_TICKET,
                ):
                    continue
                tier = rule["labels"][naming.TIER_LABEL]
                timings = by_matcher[f'{naming.TIER_LABEL}="{tier}"']
                wait = parse_duration(timings["group_wait"])
                interval = parse_duration(timings["group_interval"])
                step = parse_duration(group["interval"])
                assert parse_duration(rule["for"]) < wait, (path.name, rule["alert"])
                assert (wait % step, interval % step) == (step / 2, 0), (path.name, tier)
                checked += 1
    assert checked == 2 * len(load_default_spec().slos)


def test_the_single_stack_keeps_its_heartbeat_timing():
    assert configs.heartbeat_repeat_interval("1m") == "30s"
    assert configs.heartbeat_repeat_interval("1m", 1, "15s") == "30s"
    assert configs.heartbeat_repeat_interval("1m", 3, "15s") == "45s"
    assert configs.heartbeat_repeat_interval("2s", 3, "500ms") == "1500ms"


def test_a_heartbeat_no_longer_than_the_last_peer_s_wait_is_refused():
    alerting = dataclasses.replace(load_alerting(ALERTING), heartbeat_interval="30s")
    configs.alertmanager_config(alerting, COMPOSE, load_default_spec())  # one Alertmanager: fine
    with pytest.raises(ConfigError) as refused:
        configs.alertmanager_config(alerting, COMPOSE_HA, load_default_spec())
    assert str(refused.value) == (
        "compose/alerting.yaml: timings.heartbeat_interval: must be longer than the wait of the "
        "last of 3 Alertmanager peers (2 x the 15s peer timeout; got 30s)"
    )


def test_generate_refuses_it_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    alerting = tmp_path / "alerting.yaml"
    alerting.write_text("version: obsstack/v1\ntimings:\n  heartbeat_interval: 20s\n")
    monkeypatch.setattr(bundle_generate, "ALERTING", str(alerting))
    code = main(["generate", "--output-dir", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == (
        "obsstack generate: compose/alerting.yaml: timings.heartbeat_interval: must be longer "
        "than the wait of the last of 3 Alertmanager peers (2 x the 15s peer timeout; got 20s)\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_group_interval_no_longer_than_the_last_peer_s_wait_is_refused():
    """Else a stale firing notification of the last peer re-opens a resolved incident
    (ha_stack's docstring: measured with the real Alertmanager)."""
    alerting = dataclasses.replace(load_alerting(ALERTING), group_interval="30s")
    configs.alertmanager_config(alerting, COMPOSE, load_default_spec())
    with pytest.raises(ConfigError) as refused:
        configs.alertmanager_config(alerting, COMPOSE_HA, load_default_spec())
    assert str(refused.value) == (
        "compose/alerting.yaml: timings.group_interval: must be longer than the wait of the "
        "last of 3 Alertmanager peers (2 x the 15s peer timeout; got 30s)"
    )


def test_obsstack_up_ha_refuses_it_before_writing_or_starting_anything(tmp_path, capsys):
    root = tmp_path / "root"
    for name in (
        "compose/docker-compose.yml",
        "compose/secrets/pagerduty_routing_key.example",
        "compose/secrets/opsgenie_api_key.example",
        "alerts/slos.yaml",
        "exporters/config/exporter.yaml",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, root / name)
    (root / "compose/alerting.yaml").write_text(
        "version: obsstack/v1\ntimings:\n  group_interval: 20s\n"
    )
    state = tmp_path / "state"
    code = main(["up", "--root", str(root), "--ha", "--no-demo", "--state-dir", str(state)])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == (
        "obsstack up: compose/alerting.yaml: timings.group_interval: must be longer than the "
        "wait of the last of 3 Alertmanager peers (2 x the 15s peer timeout; got 20s)\n"
    )
    assert [p for p in state.rglob("*") if p.is_file()] == []
