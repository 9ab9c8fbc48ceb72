"""The real Debian node-exporter, started as ``obsstack up`` starts it, scraped by the real
Prometheus with the bundle's generated scrape configuration and evaluating the stack rules:
the host's metrics arrive under the names the alerts and panels read, every host alert's
expression evaluates, and none fires on this healthy machine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import yaml

from obsstack.alerts.stack_rules import ALERTS
from obsstack.core import naming
from obsstack.core.naming import StackComponentMetrics as C
from obsstack.stack import configs
from obsstack.stack.runner import node_exporter_argv
from obsstack.stack.topology import Topology
from tests.support.paths import ROOT as REPO_ROOT
from tests.support.processes import Process, free_port, http_ok, require_binary, wait_until
from tests.support.servers import PrivatePrometheus

HOST_ALERTS = [alert for alert in ALERTS if alert.name.startswith("Host")]
STACK_RULES = REPO_ROOT / "alerts" / "generated" / "stack.rules.yml"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePrometheus]:
    workdir = tmp_path_factory.mktemp("node")
    node_port = free_port()
    node = Process(
        node_exporter_argv(require_binary("prometheus-node-exporter"), f"127.0.0.1:{node_port}"),
        workdir / "node-exporter.log",
    )
    server = PrivatePrometheus(workdir, {})
    topology = Topology(
        name="e2e",
        hosts={
            "prometheus": "127.0.0.1",
            "node-exporter": "127.0.0.1",
            "alertmanager": "127.0.0.1",
        },
        ports={"prometheus": server.port, "node-exporter": node_port, "alertmanager": free_port()},
        rules_dir=str(STACK_RULES.parent),
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    config = configs.prometheus_config(topology, [], "e2e")
    config["rule_files"] = [str(STACK_RULES)]
    server.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        wait_until(http_ok(f"http://127.0.0.1:{node_port}/"), 20, "node-exporter")
        server.start()
        wait_until(lambda: server.query(f'up{{job="{naming.JOB_NODE}"}} == 1'), 30, "node scraped")
        wait_until(lambda: _evaluated_after_three_scrapes(server), 30, "the rules to evaluate")
        yield server
    finally:
        server.stop()
        node.stop()


def _evaluated_after_three_scrapes(server: PrivatePrometheus) -> bool:
    """node-exporter scraped three times (rates and predictions have samples to work on), and
    the stack rules evaluated since."""
    scrapes = server.query(f'count_over_time(up{{job="{naming.JOB_NODE}"}}[1m]) >= 3')
    if not scrapes:
        return False
    asked_at = float(scrapes[0]["value"][0])
    evaluated = datetime.fromisoformat(_stack_group(server)["lastEvaluation"])
    return evaluated.timestamp() > asked_at


def _stack_group(server: PrivatePrometheus) -> dict[str, Any]:
    body = httpx.get(f"{server.url}/api/v1/rules", timeout=10).json()
    groups = body["data"]["groups"]
    return dict(next(g for g in groups if g["name"] == naming.STACK_RULE_GROUP))


@pytest.mark.parametrize(
    "spec",
    [
        C.NODE_CPU_SECONDS,
        C.NODE_MEMORY_AVAILABLE,
        C.NODE_MEMORY_TOTAL,
        C.NODE_PRESSURE_MEMORY_WAITING,
        C.NODE_VMSTAT_PGMAJFAULT,
        C.NODE_VMSTAT_OOM_KILL,
        C.NODE_FILESYSTEM_AVAIL,
        C.NODE_FILESYSTEM_SIZE,
        C.NODE_FILESYSTEM_READONLY,
        C.NODE_NETWORK_RECEIVE_BYTES,
        C.NODE_NETWORK_TRANSMIT_BYTES,
    ],
    ids=lambda spec: spec.name,
)
def test_node_exporter_exports_what_the_alerts_and_panels_read(
    prometheus: PrivatePrometheus, spec: naming.MetricSpec
):
    series = prometheus.query(f'{spec.name}{{job="{naming.JOB_NODE}"}}')
    assert series, f"{spec.name} is not exported by this node-exporter"
    for labels in (s["metric"] for s in series):
        assert set(spec.labels) <= set(labels), labels


def test_the_disk_alerts_watch_the_machine_s_disks(prometheus: PrivatePrometheus):
    """Their filesystem selection is not empty here, and leaves the tmpfs mounts out, so
    their silence below says something."""
    watched = prometheus.query(
        f'{C.NODE_FILESYSTEM_AVAIL.name}{{job="{naming.JOB_NODE}",'
        f'fstype!~"{naming.VOLATILE_FSTYPES}"}}'
    )
    assert watched
    assert all(s["metric"]["fstype"] not in ("tmpfs", "overlay") for s in watched)


@pytest.mark.parametrize("alert", HOST_ALERTS, ids=lambda alert: alert.name)
def test_host_alert_evaluates_and_is_quiet_on_a_healthy_machine(
    prometheus: PrivatePrometheus, alert: Any
):
    assert prometheus.query(alert.expr) == []  # PrivatePrometheus.query asserts success
    rule = next(r for r in _stack_group(prometheus)["rules"] if r.get("name") == alert.name)
    assert rule["health"] == "ok", rule.get("lastError")
    assert rule["state"] == "inactive", rule["alerts"]


def test_every_stack_rule_evaluates_without_error(prometheus: PrivatePrometheus):
    rules = _stack_group(prometheus)["rules"]
    assert {r["name"]: r["lastError"] for r in rules if r.get("lastError")} == {}


def test_no_host_alert_is_pending_or_firing(prometheus: PrivatePrometheus):
    names = "|".join(alert.name for alert in HOST_ALERTS)
    assert prometheus.query(f'ALERTS{{alertname=~"{names}"}}') == []
