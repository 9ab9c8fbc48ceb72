"""Where each component of the stack listens: compose service names or 127.0.0.1 ports.

The same configuration generators serve both ways of running the stack; only the topology
differs, so the compose bundle and the native runner cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from obsstack.core import naming
from obsstack.stack.tokens import SCRAPE_TOKEN


@dataclass(frozen=True)
class Component:
    """A process of the stack: the ports it listens on, its scrape job and health check.

    ``port`` is the main one (what its URL names); ``ports`` names every other port it
    listens on, among them ``metrics`` when it serves metrics apart and ``health`` when its
    health check is answered apart. Every port of the stack is here, so the native runner
    can check each one is free and ``--port NAME[:PORT]=N`` can move any of them.
    """

    name: str
    port: int
    job: str | None  # Prometheus scrape job, None when it exports no metrics
    health_path: str = "/health"  # answered without credentials
    token: str | None = None  # the token file (in tokens_dir) its scrapers must send
    ports: Mapping[str, int] = field(default_factory=dict)


COMPONENTS = {
    c.name: c
    for c in (
        Component("prometheus", 9090, "prometheus", health_path="/-/ready"),
        # The gossip port is used only by a cluster of peers (HA); a single instance has none.
        Component(
            "alertmanager", 9093, "alertmanager", health_path="/-/ready", ports={"cluster": 9094}
        ),
        Component("loki", 3100, "loki", health_path="/ready", ports={"grpc": 9096}),
        Component(
            "jaeger",
            16686,
            "jaeger",
            health_path="/status",
            ports={
                "metrics": 14269,
                "health": 13134,
                "query-grpc": 16685,
                "otlp-grpc": 4317,
                "otlp-http": 4318,
            },
        ),
        Component(
            "otel-collector",
            4318,  # OTLP over HTTP, where the services send
            "otel-collector",
            health_path="/",
            ports={"metrics": 8888, "health": 13133, "otlp-grpc": 4317, "exported-metrics": 8889},
        ),
        Component("grafana", 3000, "grafana", health_path="/api/health"),
        Component("exporter", 9410, naming.JOB_EXPORTER, token=SCRAPE_TOKEN),
        Component("kpis", 9411, naming.JOB_KPIS, token=SCRAPE_TOKEN),
        Component("demo", 8000, naming.JOB_API),
        Component("oncall-sink", 9095, None),
        Component("node-exporter", 9100, naming.JOB_NODE, health_path="/"),
        Component("cadvisor", 8080, naming.JOB_CADVISOR, health_path="/healthz"),
        # The highly available variant (obsstack up --ha, docker-compose.ha.yml): a second
        # Prometheus scraping the same targets, two more Alertmanager peers, and the store both
        # replicas remote-write into (natively a Prometheus receiving remote writes).
        Component("prometheus-1", 9091, "prometheus", health_path="/-/ready"),
        Component("alertmanager-1", 9193, "alertmanager", "/-/ready", ports={"cluster": 9194}),
        Component("alertmanager-2", 9293, "alertmanager", "/-/ready", ports={"cluster": 9294}),
        Component("store", 9490, None, health_path="/-/ready"),
    )
}
# The Prometheus replicas and the Alertmanager peers of the HA variant, in their order.
PROMETHEUS_REPLICAS = ("prometheus", "prometheus-1")
ALERTMANAGER_PEERS = ("alertmanager", "alertmanager-1", "alertmanager-2")
HA_COMPONENTS = frozenset({*PROMETHEUS_REPLICAS[1:], *ALERTMANAGER_PEERS[1:], "store"})
# The job of the metrics the Collector re-exports for Prometheus (its `prometheus` exporter).
COLLECTOR_EXPORTED_JOB = "otel-collector-exported"


@dataclass(frozen=True)
class Topology:
    """Host and ports of every running component, plus paths as the processes see them."""

    name: str  # "compose" or "native"
    hosts: dict[str, str]  # component -> host name
    ports: dict[str, int] = field(default_factory=dict)  # overrides: "name" or "name:which"
    rules_dir: str = "/etc/prometheus/rules"
    templates_dir: str = "/etc/alertmanager/templates"
    secrets_dir: str = "/run/secrets"  # the PagerDuty and Opsgenie keys
    tokens_dir: str = "/run/obsstack"  # the stack's own tokens (obsstack.stack.tokens)
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    remote_write_path: str = "/api/v1/write"  # where the store takes remote writes
    # Alertmanager's --cluster.peer-timeout (its default): the n-th peer of a cluster waits n
    # times this long before it sends a notification no other peer has sent.
    peer_timeout: str = "15s"

    def runs(self, component: str) -> bool:
        return component in self.hosts

    def port(self, component: str, which: str = "") -> int:
        """The main port of ``component``, or its port named ``which`` (Component.ports);
        ``ports`` overrides them as ``component`` and ``component:which``."""
        key = f"{component}:{which}" if which else component
        if key in self.ports:
            return self.ports[key]
        return COMPONENTS[component].ports[which] if which else COMPONENTS[component].port

    def listen_ports(self, component: str) -> dict[str, int]:
        """Every port ``component`` listens on, by name ("" for the main one)."""
        names = ["", *COMPONENTS[component].ports]
        if not self.ha:
            names = [which for which in names if which != "cluster"]
        return {which: self.port(component, which) for which in names}

    @property
    def ha(self) -> bool:
        """Whether this is the highly available variant: a second replica runs."""
        return self.runs(PROMETHEUS_REPLICAS[1])

    def replicas(self) -> list[str]:
        """The Prometheus replicas that run (one outside the HA variant)."""
        return [name for name in PROMETHEUS_REPLICAS if self.runs(name)]

    def peers(self) -> list[str]:
        """The Alertmanager peers that run (one outside the HA variant)."""
        return [name for name in ALERTMANAGER_PEERS if self.runs(name)]

    def address(self, component: str, which: str = "") -> str:
        return f"{self.hosts[component]}:{self.port(component, which)}"

    def url(self, component: str, path: str = "", which: str = "") -> str:
        return f"http://{self.address(component, which)}{path}"

    def metrics_address(self, component: str) -> str:
        which = "metrics" if "metrics" in COMPONENTS[component].ports else ""
        return self.address(component, which)

    def health_url(self, component: str) -> str:
        which = "health" if "health" in COMPONENTS[component].ports else ""
        return self.url(component, COMPONENTS[component].health_path, which)


COMPOSE = Topology(
    name="compose",
    hosts={name: name for name in COMPONENTS if name not in HA_COMPONENTS},
    # compose/generated is mounted as a directory (a single-file mount keeps the old file when
    # `obsstack generate` renames a new one over it).
    templates_dir="/etc/alertmanager/generated/templates",
)

# compose/docker-compose.ha.yml: each container has its own address, so every replica and peer
# listens on the usual ports; the store is Thanos Receive (its default remote-write port and
# path: thanos cmd/thanos/receive.go and pkg/receive/handler.go at the pinned tag).
COMPOSE_HA = replace(
    COMPOSE,
    name="compose-ha",
    hosts={**{name: name for name in COMPONENTS}, "store": "thanos-receive"},
    ports={
        "prometheus-1": COMPONENTS["prometheus"].port,
        **{peer: COMPONENTS["alertmanager"].port for peer in ALERTMANAGER_PEERS},
        **{
            f"{peer}:cluster": COMPONENTS["alertmanager"].ports["cluster"]
            for peer in ALERTMANAGER_PEERS
        },
        "store": 19291,
    },
    remote_write_path="/api/v1/receive",
)
