"""The whole alert path with real binaries: Prometheus and Alertmanager (Debian packages) with
the generated rules and configuration, ``obsstack serve`` probing a private Redis, and the
on-call inbox (``obsstack oncall-sink``), which implements the PagerDuty Events API v2 and the
Opsgenie Alert API and rejects any request those APIs would reject.

Redis is killed: DependencyDown pages once per group through PagerDuty and Opsgenie; Redis comes
back: both are resolved with the same keys. The Watchdog reaches the heartbeat receiver. (The
redis availability SLO may page too: on a Prometheus only minutes old, its 1h window holds little
besides the outage, so it can fire a moment before DependencyDown could inhibit it.)
The rules are used unchanged (DependencyDown has ``for: 2m``), so this test takes ~3 minutes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsstack.core import naming
from obsstack.stack import native_exporters
from tests.bundle.conftest import Stack, render, start_alertmanager, start_sink
from tests.support.processes import OBSSTACK, Process, http_ok, require_binary, wait_until
from tests.support.servers import PrivateRedis

HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Stack, PrivateRedis]]:
    state, options = render(tmp_path, {"prometheus", "alertmanager", "exporter", "oncall-sink"})
    redis = PrivateRedis(tmp_path).start()
    exporter_config = tmp_path / "exporter.yaml"
    exporter_config.write_text(
        yaml.safe_dump(
            {
                "dependencies": [
                    {"name": "postgres", "kind": "postgres", "database": "test", "critical": True},
                    {
                        "name": "redis",
                        "kind": "redis",
                        "port": redis.port,
                        "critical": True,
                        "retries": {"attempts": 1},
                        "circuit_breaker": {"cooldown": "2s"},
                    },
                ]
            }
        )
    )
    processes = [start_sink(state, options)]
    try:
        processes.append(start_alertmanager(state, options))
        exporter_port = options.ports["exporter"]
        processes.append(
            Process(
                [
                    *OBSSTACK,
                    "serve",
                    "--config",
                    # as `obsstack up` runs it: with the scrape token Prometheus sends
                    str(native_exporters.exporter_config(state.config, exporter_config)),
                    "--listen",
                    f"127.0.0.1:{exporter_port}",
                ],
                state.logs / "exporter.log",
            )
        )
        wait_until(http_ok(f"http://127.0.0.1:{exporter_port}/health"), 20, "exporter")
        prometheus_port = options.ports["prometheus"]
        processes.append(
            Process(
                [
                    require_binary("prometheus"),
                    f"--config.file={state.config / 'prometheus.yml'}",
                    f"--storage.tsdb.path={state.data / 'prometheus'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    # short test intervals: an alert dropped before Alertmanager was discovered is
                    # re-sent within seconds, not the default minute
                    "--rules.alert.resend-delay=2s",
                ],
                state.logs / "prometheus.log",
            )
        )
        wait_until(http_ok(f"http://127.0.0.1:{prometheus_port}/-/ready"), 30, "prometheus")
        yield Stack(state, options, processes), redis
    finally:
        for process in reversed(processes):
            process.stop()
        redis.stop()


def events(stack: Stack, api: str, action: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in stack.sink_events()["events"]
        if e["api"] == api and (action is None or e["action"] == action)
    ]


def redis_pages(stack: Stack, api: str, action: str) -> list[dict[str, Any]]:
    def about_redis(event: dict[str, Any]) -> bool:
        text = str(event["body"])
        return naming.ALERT_DEPENDENCY_DOWN in text and "redis" in text

    return [
        e for e in events(stack, api, action) if action in ("resolve", "close") or about_redis(e)
    ]


def test_dependency_down_pages_once_and_resolves(stack):
    stack, redis = stack
    # The dead man's switch reaches the heartbeat receiver first.
    wait_until(lambda: bool(events(stack, "webhook:heartbeat")), 60, "the Watchdog heartbeat")
    heartbeat = events(stack, "webhook:heartbeat")[0]["body"]
    assert heartbeat["commonLabels"]["alertname"] == naming.ALERT_WATCHDOG

    redis.stop()
    wait_until(
        lambda: (
            redis_pages(stack, "pagerduty", "trigger") and redis_pages(stack, "opsgenie", "create")
        ),
        200,
        "DependencyDown to reach PagerDuty and Opsgenie",
    )
    time.sleep(6)  # three group intervals: a second notification would have arrived by now
    [trigger] = redis_pages(stack, "pagerduty", "trigger")
    [create] = redis_pages(stack, "opsgenie", "create")

    body = trigger["body"]
    # The inbox accepted the routing key read from routing_key_file, and shows it redacted.
    assert body["routing_key"] == "<redacted>"
    assert HEX_SHA256.match(body["dedup_key"])  # sha256 of the group key
    payload = body["payload"]
    assert payload["severity"] == "critical"
    assert payload["summary"].startswith("[FIRING:1] DependencyDown redis")
    assert payload["custom_details"]["num_firing"] == "1"
    runbook = payload["custom_details"]["runbook_url"]
    assert runbook.endswith("#dependencydown")
    assert {link["text"] for link in body["links"]} == {"Runbook", "Dashboard"}

    alert = create["body"]
    assert HEX_SHA256.match(alert["alias"])
    assert alert["alias"] == body["dedup_key"]  # both are the group key's hash
    assert alert["priority"] == "P1"
    assert alert["responders"] == [{"type": "team", "name": "platform-oncall"}]
    assert alert["message"].startswith("[FIRING:1] DependencyDown redis")
    assert "Runbook: " + runbook in alert["description"]

    redis.start()
    wait_until(
        lambda: (
            redis_pages(stack, "pagerduty", "resolve") and redis_pages(stack, "opsgenie", "close")
        ),
        120,
        "the resolve and the close after Redis came back",
    )
    [resolve] = redis_pages(stack, "pagerduty", "resolve")
    [close] = redis_pages(stack, "opsgenie", "close")
    assert resolve["key"] == body["dedup_key"]
    assert close["key"] == alert["alias"]
    open_keys = {key.split(":", 1)[1] for key in stack.sink_events()["open"]}
    assert body["dedup_key"] not in open_keys and alert["alias"] not in open_keys
    assert stack.sink_events()["rejected"] == []
