"""Heartbeat spacing of the generated Alertmanager configuration, with the shipped timings.

The Watchdog is posted the way Prometheus posts an always-firing alert (again every 1m resend
delay, ``endsAt`` 4 minutes ahead) to two real Alertmanagers (the Debian package) side by side:

- the configuration ``obsstack generate`` writes from ``compose/alerting.yaml``
  (heartbeat route: ``group_interval`` = ``heartbeat_interval`` = 1m, ``repeat_interval`` 30s);
- the same configuration with ``repeat_interval`` = ``group_interval`` = 1m, as generated before.

A webhook double records when each heartbeat arrives. The generated configuration passes when
every spacing is the heartbeat interval within 5 s.

Run: ``.venv/bin/python -m benchmarks.heartbeat [--minutes 10]``; prints a Markdown report
(write-up: ``benchmarks/heartbeat.md``); exit 1 if a spacing is out of bounds.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from obsstack.core import naming
from obsstack.core.spec import parse_duration
from obsstack.stack.alerting import load_alerting
from tests.bundle.conftest import (
    GENIE_KEY,
    ROUTING_KEY,
    destinations,
    render,
    start_alertmanager,
)
from tests.support.alert_sender import Alert, AlertSender
from tests.support.paging_apis import PagingApis
from tests.support.paths import ALERTING
from tests.support.processes import Process, require_binary

TOLERANCE = 5.0  # seconds
PROMETHEUS_RESEND_DELAY = 60.0  # --rules.alert.resend-delay default
EVALUATION_INTERVAL = 15.0  # the bundle's Prometheus


def start(workdir: Path, apis: PagingApis, name: str, before: bool) -> tuple[Process, str]:
    """An Alertmanager with the shipped timings and its heartbeat on the double's ``name``."""
    alerting = load_alerting(ALERTING)
    state, options = render(
        workdir,
        {"alertmanager"},
        group_wait=alerting.group_wait,
        group_interval=alerting.group_interval,
        repeat_interval=alerting.repeat_interval,
        heartbeat_interval=alerting.heartbeat_interval,
        **destinations(apis, heartbeat=name),
    )
    if before:
        path = state.config / "alertmanager.yml"
        config = yaml.safe_load(path.read_text())
        for route in config["route"]["routes"]:
            if route["receiver"] == "heartbeat":
                route["repeat_interval"] = route["group_interval"]
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    process = start_alertmanager(state, options)
    return process, f"http://127.0.0.1:{options.ports['alertmanager']}"


def heartbeat_route(config_file: Path) -> str:
    config = yaml.safe_load(config_file.read_text())
    route = next(r for r in config["route"]["routes"] if r["receiver"] == "heartbeat")
    return f"group_interval {route['group_interval']}, repeat_interval {route['repeat_interval']}"


def arrivals(apis: PagingApis, name: str) -> list[float]:
    return [w.received_at for w in apis.webhooks(name)]


def spacings(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def row(label: str, times: list[float], interval: float) -> str:
    gaps = spacings(times)
    if not gaps:
        return f"| {label} | {len(times)} | | | | |"
    within = sum(abs(g - interval) <= TOLERANCE for g in gaps)
    return (
        f"| {label} | {len(times)} | {min(gaps):.2f} | {statistics.median(gaps):.2f} | "
        f"{max(gaps):.2f} | {within} of {len(gaps)} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    interval = parse_duration(load_alerting(ALERTING).heartbeat_interval)
    version = subprocess.run(
        [require_binary("prometheus-alertmanager"), "--version"], capture_output=True, text=True
    )
    apis = PagingApis(ROUTING_KEY, GENIE_KEY)
    processes: list[Process] = []
    with tempfile.TemporaryDirectory(prefix="obsstack-heartbeat-") as tmp:
        try:
            urls = []
            for name, before in (("generated", False), ("before", True)):
                process, url = start(Path(tmp) / name, apis, name, before)
                processes.append(process)
                urls.append(url)
            routes = {
                name: heartbeat_route(Path(tmp, name, "state", "config", "alertmanager.yml"))
                for name in ("generated", "before")
            }
            sender = AlertSender(urls, PROMETHEUS_RESEND_DELAY, EVALUATION_INTERVAL, 900.0)
            watchdog = Alert(
                {
                    "alertname": naming.ALERT_WATCHDOG,
                    naming.SEVERITY_LABEL: naming.SEVERITY_NONE,
                    naming.TIER_LABEL: naming.TIER_HEARTBEAT,
                    naming.STACK_LABEL: "benchmark",
                }
            )
            started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            sender.fire(watchdog)
            time.sleep(args.minutes * 60 + TOLERANCE)
            sender.close()
        finally:
            for process in processes:
                process.stop()
            apis.close()
    generated, previous = arrivals(apis, "generated"), arrivals(apis, "before")
    print(f"run of {started}, {args.minutes:g} minutes, heartbeat_interval {interval:g} s")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.platform()}; "
        f"{version.stdout.splitlines()[0] if version.stdout else 'alertmanager ?'}\n"
    )
    print(
        "| configuration | heartbeats | min spacing (s) | median | max | "
        f"within {interval:g} s ± {TOLERANCE:g} s |"
    )
    print("|---|---|---|---|---|---|")
    print(row(f"generated ({routes['generated']})", generated, interval))
    print(row(f"before ({routes['before']})", previous, interval))
    for name, times in (("generated", generated), ("before", previous)):
        print(f"\nspacings (s), {name}: " + ", ".join(f"{g:.2f}" for g in spacings(times)))
    gaps = spacings(generated)
    ok = bool(gaps) and all(abs(g - interval) <= TOLERANCE for g in gaps)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
