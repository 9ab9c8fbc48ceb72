"""Real Alertmanager, configured by the bundle's own generators, paging the on-call inbox or
the PagerDuty and Opsgenie double (``tests.support.paging_apis``)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from obsstack.alerts import load_default_spec
from obsstack.stack import configs
from obsstack.stack.alerting import load_alerting
from obsstack.stack.runner import Options, State, native_topology, render_configs
from obsstack.stack.tokens import ONCALL_TOKEN
from tests.support.alert_sender import AlertSender
from tests.support.paging_apis import PagingApis
from tests.support.paths import ALERTING, ROOT
from tests.support.processes import (
    OBSSTACK,
    Process,
    free_port,
    http_ok,
    require_binary,
    wait_until,
)

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
GENIE_KEY = "eb243592-faa2-4ba2-a551-1afdaaf2b9f5"


@dataclasses.dataclass
class Stack:
    """A rendered native configuration and the processes started from it."""

    state: State
    options: Options
    processes: list[Process]

    def url(self, component: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.options.ports[component]}{path}"

    def sink_events(self) -> dict[str, Any]:
        token = (self.state.config / "secrets" / ONCALL_TOKEN).read_text()
        headers = {"Authorization": f"Bearer {token}"}
        response = httpx.get(self.url("oncall-sink", "/events"), headers=headers, timeout=5)
        return dict(response.json())


SHORT_TIMINGS: dict[str, Any] = {
    "group_wait": "1s",
    "group_interval": "2s",
    "repeat_interval": "1h",
    "heartbeat_interval": "2s",
}


def render(tmp_path: Path, components: set[str], **settings: Any) -> tuple[State, Options]:
    """Configs for a stack on free ports, with short Alertmanager timings.

    ``settings`` replace fields of compose/alerting.yaml: timings, destination URLs.
    """
    ports = {name: free_port() for name in components}
    options = Options.at(
        ROOT,
        state_dir=tmp_path / "state",
        ports=ports,
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    state = State(options.state_dir)
    state.create()
    alerting = dataclasses.replace(load_alerting(ALERTING), **{**SHORT_TIMINGS, **settings})
    render_configs(
        state,
        native_topology(options, components),
        alerting,
        ["postgres", "redis"],
        ROUTING_KEY,
        GENIE_KEY,
        load_default_spec(ROOT),
    )
    return state, options


def start_sink(state: State, options: Options) -> Process:
    secrets = state.config / "secrets"
    process = Process(
        [
            *OBSSTACK,
            "oncall-sink",
            "--listen",
            f"127.0.0.1:{options.ports['oncall-sink']}",
            "--pagerduty-routing-key-file",
            str(secrets / configs.PAGERDUTY_KEY_FILE),
            "--opsgenie-api-key-file",
            str(secrets / configs.OPSGENIE_KEY_FILE),
            "--token-file",
            str(secrets / ONCALL_TOKEN),
        ],
        state.logs / "oncall-sink.log",
    )
    wait_until(http_ok(f"http://127.0.0.1:{options.ports['oncall-sink']}/health"), 20, "sink")
    return process


def start_alertmanager(state: State, options: Options) -> Process:
    port = options.ports["alertmanager"]
    process = Process(
        [
            require_binary("prometheus-alertmanager"),
            f"--config.file={state.config / 'alertmanager.yml'}",
            f"--storage.path={state.data / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            f"--web.external-url=http://127.0.0.1:{port}",
        ],
        state.logs / "alertmanager.log",
    )
    wait_until(http_ok(f"http://127.0.0.1:{port}/-/ready"), 20, "alertmanager")
    return process


@pytest.fixture
def spec():
    return load_default_spec()


@pytest.fixture
def alertmanager_stack(tmp_path: Path) -> Iterator[Stack]:
    state, options = render(tmp_path, {"alertmanager", "oncall-sink", "prometheus", "exporter"})
    processes = [start_sink(state, options)]
    try:
        processes.append(start_alertmanager(state, options))
        yield Stack(state, options, processes)
    finally:
        for process in reversed(processes):
            process.stop()


@dataclasses.dataclass
class Paging:
    """Alertmanager paging the PagerDuty and Opsgenie double, fed as Prometheus feeds it."""

    apis: PagingApis
    alertmanager_url: str
    sender: AlertSender


def destinations(apis: PagingApis, heartbeat: str = "heartbeat") -> dict[str, str]:
    """compose/alerting.yaml's destinations, every one on the PagerDuty and Opsgenie double."""
    return {
        "pagerduty_url": apis.pagerduty_url,
        "opsgenie_api_url": apis.opsgenie_url,
        "ticket_webhook_url": apis.webhook_url("ticket"),
        "heartbeat_url": apis.webhook_url(heartbeat),
        "default_webhook_url": apis.webhook_url("default"),
    }


@contextlib.contextmanager
def paging_stack(
    tmp_path: Path,
    *,
    resend_delay: float,
    evaluation_interval: float,
    resolved_retention: float,
    **settings: Any,
) -> Iterator[Paging]:
    """The generated Alertmanager configuration with every destination on the double."""
    apis = PagingApis(ROUTING_KEY, GENIE_KEY)
    try:
        state, options = render(tmp_path, {"alertmanager"}, **destinations(apis), **settings)
        alertmanager = start_alertmanager(state, options)
        url = f"http://127.0.0.1:{options.ports['alertmanager']}"
        sender = AlertSender([url], resend_delay, evaluation_interval, resolved_retention)
        try:
            yield Paging(apis, url, sender)
        finally:
            sender.close()
            alertmanager.stop()
    finally:
        apis.close()
