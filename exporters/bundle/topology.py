"""Where each component of the stack listens: compose service names or 127.0.0.1 ports.

The same configuration generators serve both ways of running the stack; only the topology
differs, so the compose bundle and the native runner cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from exporters import naming
from exporters.bundle.tokens import SCRAPE_TOKEN


@dataclass(frozen=True)
class Component:
    """A process of the stack: its default port, scrape job and health path."""

    name: str
    port: int
    job: str | None  # Prometheus scrape job, None when it exports no metrics
    metrics_port: int | None = None  # when metrics are served apart from the main port
    health_path: str = "/health"  # answered without credentials
    token: str | None = None  # the token file (in tokens_dir) its scrapers must send


COMPONENTS = {
    c.name: c
    for c in (
        Component("prometheus", 9090, "prometheus", health_path="/-/ready"),
        Component("alertmanager", 9093, "alertmanager", health_path="/-/ready"),
        Component("loki", 3100, "loki", health_path="/ready"),
        Component("jaeger", 16686, "jaeger", metrics_port=14269, health_path="/"),
        Component("otel-collector", 4318, "otel-collector", metrics_port=8888, health_path="/"),
        Component("grafana", 3000, "grafana", health_path="/api/health"),
        Component("exporter", 9410, naming.JOB_EXPORTER, token=SCRAPE_TOKEN),
        Component("kpis", 9411, naming.JOB_KPIS, token=SCRAPE_TOKEN),
        Component("demo", 8000, naming.JOB_API),
        Component("oncall-sink", 9095, None),
        Component("node-exporter", 9100, naming.JOB_NODE, health_path="/"),
        Component("cadvisor", 8080, naming.JOB_CADVISOR, health_path="/healthz"),
    )
}
# Metrics the collector re-exports for Prometheus (its `prometheus` exporter).
COLLECTOR_EXPORTED_METRICS_PORT = 8889
COLLECTOR_EXPORTED_JOB = "otel-collector-exported"


@dataclass(frozen=True)
class Topology:
    """Host and ports of every running component, plus paths as the processes see them."""

    name: str  # "compose" or "native"
    hosts: dict[str, str]  # component -> host name
    ports: dict[str, int] = field(default_factory=dict)  # overrides of Component.port
    rules_dir: str = "/etc/prometheus/rules"
    templates_dir: str = "/etc/alertmanager/templates"
    secrets_dir: str = "/run/secrets"  # the PagerDuty and Opsgenie keys
    tokens_dir: str = "/run/obsstack"  # the stack's own tokens (exporters.bundle.tokens)
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"

    def runs(self, component: str) -> bool:
        return component in self.hosts

    def port(self, component: str) -> int:
        return self.ports.get(component, COMPONENTS[component].port)

    def address(self, component: str, port: int | None = None) -> str:
        return f"{self.hosts[component]}:{port or self.port(component)}"

    def url(self, component: str, path: str = "") -> str:
        return f"http://{self.address(component)}{path}"

    def metrics_address(self, component: str) -> str:
        return self.address(component, COMPONENTS[component].metrics_port)

    def with_ports(self, **ports: int) -> Topology:
        return replace(
            self, ports={**self.ports, **{k.replace("_", "-"): v for k, v in ports.items()}}
        )


COMPOSE = Topology(
    name="compose",
    hosts={name: name for name in COMPONENTS},
    # compose/generated is mounted as a directory (a single-file mount keeps the old file when
    # `obsstack generate` renames a new one over it).
    templates_dir="/etc/alertmanager/generated/templates",
)
