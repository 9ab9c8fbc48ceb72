"""The highly available variant: Prometheus replicas, Alertmanager peers and the store.

Two Prometheus replicas scrape the same targets and evaluate the same rules. Each carries a
``replica`` external label, so that the store (where both remote-write) keeps their series
apart and a query can deduplicate them, and drops it from its alerts, so that both replicas
send Alertmanager the same alert: one group, one notification, one heartbeat. Each replica
sends to every Alertmanager peer; the peers gossip which notifications went out, so a page is
sent once, by one peer, and resent by another if that peer is lost.

The same functions configure the compose variant (compose/docker-compose.ha.yml) and
``obsstack up --ha``; only the topology differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from obsstack.core.naming import REPLICA_LABEL
from obsstack.stack.configs import prometheus_config
from obsstack.stack.topology import Topology

# How long the store keeps samples: a year and a month, so that a 30-day SLO period can be set
# beside the same period a year before.
STORE_RETENTION = "400d"


def replica_config(
    topology: Topology, dependencies: list[str], stack: str, replica: str
) -> dict[str, Any]:
    """The configuration of the replica ``replica`` (its component name) of ``topology``."""
    config = prometheus_config(topology, dependencies, stack)
    config["global"]["external_labels"][REPLICA_LABEL] = replica
    # Alert relabelling applies after the external labels are added (Prometheus
    # notifier.Manager.Send: relabelAlerts after the external labels).
    config["alerting"] = {
        "alert_relabel_configs": [{"action": "labeldrop", "regex": REPLICA_LABEL}],
        **config["alerting"],
    }
    if topology.runs("store"):
        # Exemplars too: Grafana's links from a latency panel to the trace behind a sample
        # (compose/grafana/provisioning) keep working on the store.
        config["remote_write"] = [
            {
                "name": "store",
                "url": topology.url("store", topology.remote_write_path),
                "send_exemplars": True,
            }
        ]
    return config


def store_config(topology: Topology) -> dict[str, Any]:
    """The native store: a Prometheus that scrapes nothing and takes the replicas' writes."""
    return {"global": {"evaluation_interval": topology.evaluation_interval}}


def config_name(component: str) -> str:
    """The file a Prometheus (replica or store) reads its configuration from."""
    return f"{component}.yml"


def prometheus_argv(
    binary: str, config_dir: Path, data_dir: Path, topology: Topology, component: str
) -> list[str]:
    """A Prometheus replica (or the single Prometheus), or the native store."""
    argv = [
        binary,
        f"--config.file={config_dir / config_name(component)}",
        f"--storage.tsdb.path={data_dir / component}",
        f"--web.listen-address={topology.address(component)}",
        f"--web.external-url={topology.url(component)}",
    ]
    if component == "store":
        return [
            *argv,
            f"--storage.tsdb.retention.time={STORE_RETENTION}",
            "--web.enable-remote-write-receiver",
            "--enable-feature=exemplar-storage",
        ]
    return [
        *argv,
        "--storage.tsdb.retention.time=31d",
        "--web.enable-lifecycle",
        "--enable-feature=exemplar-storage",
    ]


def alertmanager_argv(
    binary: str, config_file: Path, data_dir: Path, topology: Topology, peer: str
) -> list[str]:
    """An Alertmanager peer: gossiping with every other peer, or alone without a gossip port."""
    argv = [
        binary,
        f"--config.file={config_file}",
        f"--storage.path={data_dir / peer}",
        f"--web.listen-address={topology.address(peer)}",
        f"--web.external-url={topology.url(peer)}",
    ]
    if not topology.ha:
        return [*argv, "--cluster.listen-address="]  # a single instance: no gossip port
    others = [other for other in topology.peers() if other != peer]
    return [
        *argv,
        f"--cluster.listen-address={topology.address(peer, 'cluster')}",
        f"--cluster.peer-timeout={topology.peer_timeout}",
        *(f"--cluster.peer={topology.address(other, 'cluster')}" for other in others),
    ]
