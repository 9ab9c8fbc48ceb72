"""The highly available stack on this host, with the real binaries: two Prometheus replicas,
three Alertmanager peers in a gossip cluster and the store, each started with the argv
``obsstack up --ha`` uses (obsstack.stack.replicas) and the configuration it renders.

Only the clocks are scaled down: scrape and rule evaluation every second, Alertmanager's short
timings (conftest.SHORT_TIMINGS) with a group interval of 4 s, Prometheus' resend delay at 1 s
(an alert a replica stops sending then expires in Alertmanager after 4 s instead of 4 min), and
the peer timeout at 0.5 s (the n-th peer waits n x the peer timeout before it sends what no
peer has sent). The ratios that matter are kept: the group interval (4 s) and the heartbeat's
repeat interval (1.5 s, generated for three peers) are longer than the last peer's wait (2 x
0.5 s here; 2 x 15 s against the shipped 5 min and 45 s). With a group interval shorter than
that wait, the last peer's flush, begun while the alert fired, outlasts the resolve another
peer sends in the meantime and re-opens the incident (a second trigger, then a second
resolve): measured with the 15 s default against a 2 s group interval. With a repeat interval
shorter than that wait, the last peer sends a second heartbeat after the first peer's.

The group wait (1.5 s) puts every flush half an evaluation away from the moments Prometheus
sends alerts. A group is created when its first alert arrives, just after an evaluation, so
with a group wait and a group interval that are whole evaluation intervals each flush falls
on the arrival of the next evaluation's alerts; when that arrival is the resolve, a peer
that flushed a few milliseconds before it sends a stale firing notification after the other
peer's resolve, and the incident opens again (Alertmanager issue #4008; seen here with a
1 s group wait: peers flushed 4 ms apart, the resolve between them). That race is not what
these tests are about; docs/scaling.md says what it means for a running cluster.

The rules are real rules on a real target: the Watchdog as the SLO compiler generates it
(alerts/generated/stack.rules.yml), and a page on the error ratio of ``BurnTarget``, a service
double whose request and error counters grow at the rate the test sets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from obsstack.alerts import load_default_spec
from obsstack.core import naming
from obsstack.stack import replicas
from obsstack.stack.alerting import load_alerting
from obsstack.stack.runner import Options, State, native_topology, render_configs
from obsstack.stack.topology import ALERTMANAGER_PEERS, HA_COMPONENTS, PROMETHEUS_REPLICAS
from tests.bundle.conftest import GENIE_KEY, ROUTING_KEY, SHORT_TIMINGS, destinations
from tests.support.doubles import HttpDouble, Reply, Request
from tests.support.paging_apis import PagingApis
from tests.support.paths import ALERTING, ROOT
from tests.support.processes import Process, free_port, http_ok, require_binary, wait_until

INTERVAL = "1s"
RESEND_DELAY = "1s"
PEER_TIMEOUT = "500ms"
GROUP_INTERVAL = "4s"
GROUP_WAIT = "1500ms"
BURN_SLO = {naming.SERVICE_LABEL: "api", naming.SLO_LABEL: "availability"}
REQUESTS = "synthetic_requests_total"
ERRORS = "synthetic_errors_total"


class BurnTarget:
    """A service's /metrics: requests at 100/s, the given fraction of them errors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ratio = 0.0
        self._requests = 0.0
        self._errors = 0.0
        self._last = time.monotonic()
        self.http = HttpDouble({("GET", "/metrics"): self._metrics})

    def burn(self, ratio: float) -> None:
        with self._lock:
            self._advance()
            self._ratio = ratio

    def _advance(self) -> None:
        now = time.monotonic()
        self._requests += 100 * (now - self._last)
        self._errors += 100 * (now - self._last) * self._ratio
        self._last = now

    def _metrics(self, _request: Request) -> Reply:
        with self._lock:
            self._advance()
            text = (
                f"# TYPE {REQUESTS} counter\n{REQUESTS} {self._requests}\n"
                f"# TYPE {ERRORS} counter\n{ERRORS} {self._errors}\n"
            )
        return Reply(200, text)


def rules() -> dict[str, Any]:
    """The generated Watchdog, and a page while more than half of the requests fail."""
    stack_rules = yaml.safe_load((ROOT / "alerts/generated/stack.rules.yml").read_text())
    watchdog = next(
        rule
        for group in stack_rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == naming.ALERT_WATCHDOG
    )
    burn = {
        "alert": naming.ALERT_SLO_BURN_RATE_PAGE,
        "expr": f"sum(rate({ERRORS}[5s])) / sum(rate({REQUESTS}[5s])) > 0.5",
        "labels": {
            **BURN_SLO,
            naming.TIER_LABEL: naming.TIER_PAGE,
            naming.SEVERITY_LABEL: naming.SEVERITY_PAGE,
        },
        "annotations": {"summary": "The api/availability SLO is burning its error budget fast"},
    }
    return {"groups": [{"name": "ha", "interval": INTERVAL, "rules": [watchdog, burn]}]}


@dataclasses.dataclass
class HaStack:
    apis: PagingApis
    target: BurnTarget
    options: Options
    processes: dict[str, Process]

    def url(self, component: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.options.ports[component]}{path}"

    def query(self, component: str, promql: str) -> list[dict[str, Any]]:
        response = httpx.get(self.url(component, "/api/v1/query"), params={"query": promql})
        response.raise_for_status()
        return list(response.json()["data"]["result"])

    def kill(self, component: str) -> None:
        """SIGKILL: the process is lost, it says goodbye to nobody."""
        self.processes[component].stop(sig=9)

    def notifications(self, peer: str, integration: str) -> float:
        """What Alertmanager ``peer`` counts as sent to ``integration``."""
        text = httpx.get(self.url(peer, "/metrics")).text
        prefix = f'alertmanager_notifications_total{{integration="{integration}"'
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))

    def firing(self, component: str, alertname: str) -> bool:
        alerts = httpx.get(self.url(component, "/api/v1/alerts")).json()["data"]["alerts"]
        return any(a["labels"]["alertname"] == alertname and a["state"] == "firing" for a in alerts)


def _ports() -> dict[str, int]:
    ports = {name: free_port() for name in (*PROMETHEUS_REPLICAS, *ALERTMANAGER_PEERS, "store")}
    ports |= {f"{peer}:cluster": free_port() for peer in ALERTMANAGER_PEERS}
    return ports


def _cluster_ready(url: str, peers: int) -> bool:
    cluster = httpx.get(f"{url}/api/v2/status").json()["cluster"]
    return bool(cluster["status"] == "ready" and len(cluster["peers"]) == peers)


@contextlib.contextmanager
def ha_stack(tmp_path: Path) -> Iterator[HaStack]:
    apis = PagingApis(ROUTING_KEY, GENIE_KEY)
    target = BurnTarget()
    processes: dict[str, Process] = {}
    try:
        options = Options.at(
            ROOT,
            state_dir=tmp_path / "state",
            ports={**_ports(), "demo": target.http.port},  # scraped as the API (saas-api)
            scrape_interval=INTERVAL,
            evaluation_interval=INTERVAL,
            ha=True,
        )
        state = State(options.state_dir)
        state.create()
        rules_dir = tmp_path / "rules"
        rules_dir.mkdir()
        (rules_dir / "ha.rules.yml").write_text(yaml.safe_dump(rules()))
        components = {*HA_COMPONENTS, "prometheus", "alertmanager", "demo"}
        topology = dataclasses.replace(
            native_topology(options, components),
            rules_dir=str(rules_dir),
            peer_timeout=PEER_TIMEOUT,
        )
        timings: dict[str, Any] = {
            **SHORT_TIMINGS,
            "group_wait": GROUP_WAIT,
            "group_interval": GROUP_INTERVAL,
        }
        alerting = dataclasses.replace(load_alerting(ALERTING), **{**timings, **destinations(apis)})
        spec = load_default_spec(ROOT)
        render_configs(state, topology, alerting, [], ROUTING_KEY, GENIE_KEY, spec)
        stack = HaStack(apis, target, options, processes)
        # Started in the runner's order: the peers, settled into a cluster, before the
        # replicas, so that every peer gets each alert at the same moment.
        binary = require_binary("prometheus-alertmanager")
        for peer in topology.peers():
            config = state.config / "alertmanager.yml"
            argv = replicas.alertmanager_argv(binary, config, state.data, topology, peer)
            processes[peer] = Process(argv, state.logs / f"{peer}.log")
        for peer in topology.peers():
            ready = functools.partial(_cluster_ready, stack.url(peer), 3)
            wait_until(ready, 60, f"{peer} in a cluster of 3")
        prometheus = require_binary("prometheus")
        for name in ("store", *topology.replicas()):
            argv = replicas.prometheus_argv(prometheus, state.config, state.data, topology, name)
            if name != "store":
                argv.append(f"--rules.alert.resend-delay={RESEND_DELAY}")
            processes[name] = Process(argv, state.logs / f"{name}.log")
            wait_until(http_ok(stack.url(name, "/-/ready")), 30, f"{name} ready")
        yield stack
    finally:
        for process in reversed(processes.values()):
            process.stop()
        target.http.close()
        apis.close()
