"""``obsstack up`` and the services' logs: with the Collector running, every obsstack service
exports its logs to it over OTLP; without it, they stay in the state directory's logs/, and
``up`` says where in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from obsstack.stack.runner import OBSSTACK, Options, State, native_topology, plan
from tests.support import fake_collector
from tests.support.paths import ROOT
from tests.support.processes import free_port, require_binary, wait_until

SERVICES = {"oncall-sink", "exporter", "demo", "kpis", "traffic"}


@pytest.mark.parametrize("collector", [True, False])
def test_every_obsstack_service_gets_the_collectors_endpoint_when_it_runs(tmp_path, collector):
    options = Options.at(ROOT, state_dir=tmp_path)
    state = State(tmp_path)
    state.create()
    running = {"prometheus", "alertmanager", "exporter", "oncall-sink", "demo", "kpis"}
    if collector:
        running |= {"otel-collector", "loki", "jaeger"}
    topology = native_topology(options, running)
    binaries = {"prometheus": "prometheus", "alertmanager": "alertmanager"}
    processes = {p.name: p for p in plan(options, state, topology, binaries)}
    assert {name for name, p in processes.items() if p.argv[: len(OBSSTACK)] == OBSSTACK} == (
        SERVICES
    )
    for name in SERVICES:
        env = processes[name].env
        if collector:
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == topology.url("otel-collector"), name
            assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        else:
            assert not [key for key in env if key.startswith("OTEL_")], name
    assert processes["demo"].env.get("OTEL_SERVICE_NAME") == ("saas-api" if collector else None)
    for name in ("prometheus", "alertmanager"):
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in processes[name].env


def obsstack(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OBSSTACK, *argv], capture_output=True, text=True, timeout=180, env={**os.environ, **env}
    )


def test_up_sends_the_services_logs_to_the_collector(tmp_path: Path):
    """Loki and Jaeger are fakes answering health checks; the Collector is an OTLP receiver
    double that writes what it decodes (tests/support/fake_collector.py)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = Path(__file__).with_name("fake_component.py").read_text()
    for name in ("loki", "jaeger"):
        (bin_dir / name).write_text(f"#!{sys.executable}\n{fake}")
        (bin_dir / name).chmod(0o755)
    fake_collector.install(bin_dir)
    for name in ("prometheus", "prometheus-alertmanager"):
        (bin_dir / name).symlink_to(require_binary(name))
    records = tmp_path / "records"
    records.mkdir()
    state = tmp_path / "state"
    names = ("prometheus", "alertmanager", "exporter", "oncall-sink", "loki", "node-exporter")
    ports = [f"--port={name}={free_port()}" for name in (*names, "otel-collector")]
    env = {"PATH": f"{bin_dir}:{Path(sys.executable).parent}", "FAKE_RECORD_DIR": str(records)}
    started = obsstack("up", "--state-dir", str(state), "--no-demo", *ports, env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert (
            f"logs: {state / 'logs'}/ and Loki (the services send them to the Collector over "
            f"OTLP)   stop: obsstack down --state-dir {state}"
        ) in started.stdout.splitlines()
        received = records / "otlp-logs.jsonl"

        def services() -> set[str]:
            lines = received.read_text().splitlines() if received.exists() else []
            return {json.loads(line)["resource"]["service.name"] for line in lines}

        wait_until(
            lambda: {"obsstack-exporter", "obsstack-oncall-sink"} <= services(),
            15,
            "the services' logs at the Collector",
        )
        # ... and still in logs/, as JSON lines.
        assert "Application startup complete." in (state / "logs" / "exporter.log").read_text()
    finally:
        obsstack("down", "--state-dir", str(state), env=env)


def test_up_without_a_collector_says_the_logs_stay_in_the_state_directory(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("prometheus", "prometheus-alertmanager"):
        (bin_dir / name).symlink_to(require_binary(name))
    state = tmp_path / "state"
    names = ("prometheus", "alertmanager", "exporter", "oncall-sink", "node-exporter")
    ports = [f"--port={name}={free_port()}" for name in names]
    env = {"PATH": f"{bin_dir}:{Path(sys.executable).parent}"}
    started = obsstack("up", "--state-dir", str(state), "--no-demo", *ports, env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert (
            f"logs: {state / 'logs'}/ only (no Collector, so none reach Loki)   "
            f"stop: obsstack down --state-dir {state}"
        ) in started.stdout.splitlines()
    finally:
        obsstack("down", "--state-dir", str(state), env=env)
