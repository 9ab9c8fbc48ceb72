"""The HA overlay (compose/docker-compose.ha.yml), checked statically as the bundle is: merged
with the bundle by ``docker-compose config``, held to the same properties, wired to the
generated configuration, and every flag it passes to Alertmanager and Thanos found among the
flags the pinned versions accept (tests/data/upstream, with where each list was read).

The native tests of the same topology with the real binaries are in test_ha.py.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsstack.core.naming import REPLICA_LABEL
from obsstack.stack.topology import ALERTMANAGER_PEERS, COMPOSE_HA, PROMETHEUS_REPLICAS
from tests.bundle.test_compose import COMPOSE_DIR, COMPOSE_FILE, ENV, REPO, mounts
from tests.support.processes import require_binary

HA_FILE = COMPOSE_DIR / "docker-compose.ha.yml"
UPSTREAM = REPO / "tests/data/upstream"
THANOS_IMAGE = "quay.io/thanos/thanos:v0.42.4"
# EndpointConfig and endpointSettings (thanos cmd/thanos/endpointset.go at v0.42.4).
ENDPOINT_CONFIG_KEYS = {"default_client_config", "endpoints"}
ENDPOINT_KEYS = {"strict", "group", "address", "service_config", "client_config"}


def merged() -> dict[str, Any]:
    """The bundle with the overlay laid over it, as Compose merges them."""
    result = subprocess.run(
        [require_binary("docker-compose"), "-f", str(COMPOSE_FILE), "-f", str(HA_FILE), "config"],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        cwd=COMPOSE_DIR,
    )
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return dict(merged()["services"])


def flags(name: str) -> set[str]:
    return set((UPSTREAM / name).read_text().split())


def options(command: list[str]) -> dict[str, list[str]]:
    """``--name=value`` arguments by name (repeatable ones keep every value)."""
    out: dict[str, list[str]] = {}
    for argument in command:
        if argument.startswith("--"):
            name, _, value = argument[2:].partition("=")
            out.setdefault(name, []).append(value)
    return out


def generated(container_path: str) -> Path:
    """The checkout's file behind a path under the mounted compose/generated directory."""
    for prefix in ("/etc/prometheus/generated/", "/etc/alertmanager/generated/"):
        if container_path.startswith(prefix):
            return COMPOSE_DIR / "generated" / container_path.removeprefix(prefix)
    raise AssertionError(f"{container_path} is not under a mounted generated directory")


def test_the_overlay_makes_a_pair_a_cluster_of_three_and_the_store(services):
    expected = {*PROMETHEUS_REPLICAS, *ALERTMANAGER_PEERS, "thanos-receive", "thanos-query"}
    assert expected <= set(services)
    ha_only = set(yaml.safe_load(HA_FILE.read_text())["services"])
    assert ha_only - {"grafana"} == expected


def test_each_replica_runs_its_own_generated_configuration(services):
    for replica in PROMETHEUS_REPLICAS:
        service = services[replica]
        assert service["image"] == services["prometheus"]["image"] == "prom/prometheus:v3.7.3"
        path = generated(options(service["command"])["config.file"][0])
        assert path == COMPOSE_DIR / "generated/ha" / f"{replica}.yml"
        config = yaml.safe_load(path.read_text())
        assert config["global"]["external_labels"][REPLICA_LABEL] == replica
        assert config["alerting"]["alert_relabel_configs"] == [
            {"action": "labeldrop", "regex": REPLICA_LABEL}
        ]
        peers = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
        assert peers == [f"{peer}:9093" for peer in ALERTMANAGER_PEERS]
        assert config["remote_write"] == [
            {
                "name": "store",
                "url": "http://thanos-receive:19291/api/v1/receive",
                "send_exemplars": True,
            }
        ]
        # The same flags as the single Prometheus but the configuration file.
        single = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["prometheus"]["command"]
        rest = [a for a in service["command"] if not a.startswith(("--config.file", "--web.ext"))]
        assert rest == [
            re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", r"\2", a)
            for a in single
            if not a.startswith(("--config.file", "--web.ext"))
        ]
    # Both see the same generated files, rules and tokens; each has its own data volume.
    first, second = ({(s, t) for s, t, _ in mounts(services[r])} for r in PROMETHEUS_REPLICAS)
    assert {m for m in first if m[1] != "/prometheus"} == {
        m for m in second if m[1] != "/prometheus"
    }
    assert {s for s, t in first if t == "/prometheus"} != {
        s for s, t in second if t == "/prometheus"
    }


def test_every_peer_gossips_with_the_two_others(services):
    upstream = flags("alertmanager/v0.29.0.flags")
    for peer in ALERTMANAGER_PEERS:
        service = services[peer]
        assert service["image"] == "prom/alertmanager:v0.29.0"
        given = options(service["command"])
        assert set(given) <= upstream, set(given) - upstream
        assert generated(given["config.file"][0]) == COMPOSE_DIR / "generated/ha/alertmanager.yml"
        assert given["cluster.listen-address"] == ["0.0.0.0:9094"]
        others = [COMPOSE_HA.address(p, "cluster") for p in ALERTMANAGER_PEERS if p != peer]
        assert given["cluster.peer"] == others
        assert given["cluster.peer-timeout"] == [COMPOSE_HA.peer_timeout]
        secrets = {s["source"] if isinstance(s, dict) else s for s in service["secrets"]}
        assert secrets == {"pagerduty_routing_key", "opsgenie_api_key"}


def test_the_peers_share_one_generated_configuration_sized_for_three():
    single = yaml.safe_load((COMPOSE_DIR / "generated/alertmanager.yml").read_text())
    ha = yaml.safe_load((COMPOSE_DIR / "generated/ha/alertmanager.yml").read_text())
    heartbeat = {r["receiver"]: r for r in ha["route"]["routes"]}["heartbeat"]
    # The last of three peers checks 2 x 15 s after its flush: the repeat interval is longer.
    assert (heartbeat["group_interval"], heartbeat["repeat_interval"]) == ("1m", "45s")
    heartbeat["repeat_interval"] = "30s"  # the single Alertmanager's; nothing else differs
    assert ha == single


def test_thanos_receive_takes_the_replicas_writes_with_the_flags_it_accepts(services):
    receive = services["thanos-receive"]
    assert receive["image"] == THANOS_IMAGE
    assert receive["command"][0] == "receive"
    given = options(receive["command"][1:])
    assert set(given) <= flags("thanos/receive.flags"), set(given) - flags("thanos/receive.flags")
    # At least one external label, its value quoted (strconv.Unquote in parseFlagLabels).
    name, _, value = given["label"][0].partition("=")
    assert name == "receive_replica" and ast.literal_eval(value) == "0"
    host, _, port = given["remote-write.address"][0].rpartition(":")
    assert (host, int(port)) == ("0.0.0.0", COMPOSE_HA.port("store"))
    assert COMPOSE_HA.remote_write_path == "/api/v1/receive"
    assert given["tsdb.retention"] == ["400d"]  # THANOS_RETENTION's default: the store's retention
    assert int(given["tsdb.max-exemplars"][0]) > 0  # 0, the default, drops the replicas' exemplars
    data = [target for source, target, _ in mounts(receive) if source == "thanos-receive-data"]
    assert data == given["tsdb.path"]


def test_thanos_query_deduplicates_the_replicas_and_grafana_queries_it(services):
    query = services["thanos-query"]
    assert query["image"] == THANOS_IMAGE
    assert query["command"][0] == "query"
    given = options(query["command"][1:])
    assert set(given) <= flags("thanos/query.flags"), set(given) - flags("thanos/query.flags")
    assert given["query.replica-label"] == [REPLICA_LABEL]
    endpoints_file = next(
        source
        for source, target, _ in mounts(query)
        if target == given["endpoint.sd-config-file"][0]
    )
    endpoints = yaml.safe_load((COMPOSE_DIR / endpoints_file).read_text())
    assert set(endpoints) <= ENDPOINT_CONFIG_KEYS
    assert all(set(endpoint) <= ENDPOINT_KEYS for endpoint in endpoints["endpoints"])
    receive = options(services["thanos-receive"]["command"][1:])
    grpc_port = receive["grpc-address"][0].rpartition(":")[2]
    assert [e["address"] for e in endpoints["endpoints"]] == [f"thanos-receive:{grpc_port}"]
    http_port = given["http-address"][0].rpartition(":")[2]
    grafana = services["grafana"]
    assert grafana["environment"]["OBSSTACK_PROMETHEUS_URL"] == f"http://thanos-query:{http_port}"
    datasources = yaml.safe_load(
        (COMPOSE_DIR / "grafana/provisioning/datasources/datasources.yaml").read_text()
    )
    prometheus = next(d for d in datasources["datasources"] if d["uid"] == "prometheus")
    assert prometheus["url"] == "${OBSSTACK_PROMETHEUS_URL}"
    assert grafana["depends_on"]["thanos-query"] == {"condition": "service_healthy"}


def test_the_overlay_keeps_the_bundle_s_rules():
    document = yaml.safe_load(HA_FILE.read_text())
    for name, service in document["services"].items():
        if "image" not in service:
            continue  # an override of a bundle service: its own properties stay the bundle's
        tag = service["image"].rsplit(":", 1)[1]
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {service['image']}"
        assert "mem_limit" in service and "healthcheck" in service, name
        assert service["restart"] == "unless-stopped", name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
        for source, target, read_only in mounts(service):
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source}"
                assert read_only, f"{name}: {source} -> {target} is writable"
            elif not source.startswith("/") and "obsstack-tokens" not in source:
                assert source in document["volumes"], f"{name}: {source} is not a named volume"
    used = set(re.findall(r"\$\{([A-Z_]+)", HA_FILE.read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (COMPOSE_DIR / ".env.example").read_text(), re.M))
    assert used <= documented, used - documented
