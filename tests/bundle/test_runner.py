"""``obsstack up`` brings the native stack up from the Debian binaries and this checkout;
``obsstack down`` stops exactly what it started."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from obsstack.stack.topology import COMPONENTS as TOPOLOGY
from tests.support.processes import OBSSTACK, free_port, require_binary, wait_until
from tests.support.servers import PrivatePostgres

COMPONENTS = ("prometheus", "alertmanager", "exporter", "oncall-sink", "demo", "kpis")
NODE_EXPORTER_DEFAULT_PORT = 9100


def obsstack(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OBSSTACK, *argv],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv and "pytest" not in argv:
            found.append(argv)
    return found


@pytest.fixture
def demo_database() -> Iterator[dict[str, str]]:
    """The demo's database on a private PostgreSQL: `up` creates a role, global to a cluster."""
    postgres = PrivatePostgres().start()
    try:
        dsn = f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres"
        yield {"OBSSTACK_DEMO_POSTGRES_DSN": dsn}
    finally:
        postgres.destroy()


def test_up_then_down(tmp_path: Path, demo_database: dict[str, str]):
    state = tmp_path / "state"
    ports = {name: free_port() for name in COMPONENTS}
    args = [
        "--state-dir",
        str(state),
        "--scrape-interval",
        "1s",
        *(f"--port={name}={port}" for name, port in ports.items()),
    ]
    with socket.socket() as holder:
        # As Debian's own node-exporter service would: node-exporter, given no --port, moves.
        try:
            holder.bind(("127.0.0.1", NODE_EXPORTER_DEFAULT_PORT))
            holder.listen()
        except OSError:
            pass  # something holds it already
        started = obsstack("up", *args, env=demo_database)
    try:
        assert started.returncode == 0, started.stderr
        out = started.stdout
        assert f"prometheus     http://127.0.0.1:{ports['prometheus']}/" in out
        assert "grafana        skipped: no grafana or grafana-server on PATH" in out
        assert "loki           skipped" in out and "jaeger         skipped" in out
        node_exporter = re.search(r"node-exporter  http://127\.0\.0\.1:(\d+)/", out)
        assert node_exporter and int(node_exporter[1]) != NODE_EXPORTER_DEFAULT_PORT, out
        records = [json.loads(p.read_text()) for p in (state / "run").glob("*.json")]
        assert {r["name"] for r in records} == {
            *COMPONENTS,
            "node-exporter",
            "traffic",
            "dashboards",
        }
        assert all((state / "logs" / f"{r['name']}.log").exists() for r in records)

        prometheus = f"http://127.0.0.1:{ports['prometheus']}"

        def targets() -> dict[str, str]:
            body = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()
            return {
                f"{t['labels']['job']}/{t['labels'].get('dependency', '')}": t["health"]
                for t in body["data"]["activeTargets"]
            }

        wait_until(lambda: targets() and set(targets().values()) == {"up"}, 60, "every target up")
        assert set(targets()) == {
            "prometheus/",
            "alertmanager/",
            "obsstack-exporter/",
            "obsstack-probe/postgres",
            "obsstack-probe/redis",
            "obsstack-kpis/",
            "saas-api/",
            "node/",
        }

        # Every endpoint Prometheus scrapes (and the inbox's own) wants its generated token.
        secrets = state / "config" / "secrets"
        scrape = {"Authorization": f"Bearer {(secrets / 'scrape_token').read_text()}"}
        inbox = {"Authorization": f"Bearer {(secrets / 'oncall_token').read_text()}"}
        for name, path, headers in (
            ("exporter", "/metrics", scrape),
            ("kpis", "/metrics", scrape),
            ("oncall-sink", "/events", inbox),
            ("oncall-sink", "/", inbox),
        ):
            url = f"http://127.0.0.1:{ports[name]}{path}"
            assert httpx.get(url, timeout=10).status_code == 401, url
            assert httpx.get(url, headers=headers, timeout=10).status_code == 200, url
        assert f"tokens: {secrets}/" in out
        # The KPI exporter runs as the reader role `up` created, and its queries succeed.
        kpis = f"http://127.0.0.1:{ports['kpis']}"
        wait_until(
            lambda: httpx.get(f"{kpis}/ready", headers=scrape, timeout=5).status_code == 200,
            60,
            "every KPI query to succeed",
        )
        assert "obsstack_kpi_reader" in (state / "config" / "kpis.yaml").read_text()

        again = obsstack("up", *args, env=demo_database)
        assert again.returncode == 1
        assert again.stderr.startswith("obsstack up: already running (")
    finally:
        stopped = obsstack("down", "--state-dir", str(state))
    assert stopped.returncode == 0
    renderer = next(r["pid"] for r in records if r["name"] == "dashboards")
    assert stopped.stdout.splitlines()[0] == f"stopped dashboards (pid {renderer})"  # last started
    assert processes_mentioning(str(state)) == []
    for record in records:
        assert (
            not Path(f"/proc/{record['pid']}").exists()
            or Path(f"/proc/{record['pid']}/stat").read_text().split(") ")[1][0] == "Z"
        )
    assert list((state / "run").glob("*.json")) == []
    assert obsstack("down", "--state-dir", str(state)).stdout.startswith("nothing to stop")


def test_node_exporter_is_skipped_when_its_package_is_missing(tmp_path: Path):
    """Prometheus and Alertmanager found, no node-exporter: the stack starts without it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("prometheus", "prometheus-alertmanager"):
        (bin_dir / name).symlink_to(require_binary(name))
    state = tmp_path / "state"
    ports = [
        f"--port={name}={free_port()}"
        for name in ("prometheus", "alertmanager", "exporter", "oncall-sink")
    ]
    env = {"PATH": f"{bin_dir}:{Path(sys.executable).parent}"}
    started = obsstack("up", "--state-dir", str(state), "--no-demo", *ports, env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert (
            "  node-exporter  skipped: no prometheus-node-exporter or node_exporter on PATH "
            "(install the Debian package prometheus-node-exporter; make setup does)"
        ) in started.stdout.splitlines()
        config = (state / "config" / "prometheus.yml").read_text()
        assert "job_name: node" not in config
    finally:
        obsstack("down", "--state-dir", str(state))


def test_up_says_what_is_missing(tmp_path: Path):
    result = obsstack(
        "up", "--state-dir", str(tmp_path / "state"), env={"PATH": str(Path(sys.executable).parent)}
    )
    assert result.returncode == 1
    assert result.stderr == (
        "obsstack up: prometheus is not on PATH: install the Debian package "
        "prometheus (make setup does)\n"
    )
    assert not (tmp_path / "state" / "run").exists()


def fake_binaries(directory: Path, names: tuple[str, ...]) -> Path:
    """Executables named like the optional components, running fake_component.py."""
    source = Path(__file__).with_name("fake_component.py").read_text()
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    for name in names:
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{source}")
        path.chmod(0o755)
    return bin_dir


def test_optional_components_run_from_the_bundle_config_files(tmp_path: Path):
    """Loki, Jaeger, the Collector and Grafana are replaced by fakes that record their argv and
    environment and answer on the ports the real binaries serve."""
    bin_dir = fake_binaries(tmp_path, ("loki", "jaeger", "otelcol-contrib", "grafana"))
    records = tmp_path / "records"
    records.mkdir()
    state = tmp_path / "state"
    # Every port moved off its default, Jaeger's and the Collector's other ports too: each
    # one is used where `up` says (the fakes listen where config file and environment say).
    ports = {
        name: free_port()
        for name in (
            "prometheus",
            "alertmanager",
            "exporter",
            "oncall-sink",
            "grafana",
            "node-exporter",
            *(
                key
                for name in ("loki", "jaeger", "otel-collector")
                for key in (name, *(f"{name}:{which}" for which in TOPOLOGY[name].ports))
            ),
        )
    }
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_RECORD_DIR": str(records),
        "GRAFANA_ADMIN_PASSWORD": "not-a-default",
    }
    started = obsstack(
        "up",
        "--state-dir",
        str(state),
        "--no-demo",
        "--scrape-interval",
        "1s",
        *(f"--port={name}={port}" for name, port in ports.items()),
        env=env,
    )
    try:
        assert started.returncode == 0, started.stderr
        assert "skipped" not in started.stdout
        for name in ("loki", "jaeger", "otel-collector", "grafana"):
            assert f"  {name:<14} http://127.0.0.1:{ports[name]}/" in started.stdout

        def recorded(name: str) -> dict[str, Any]:
            return dict(json.loads((records / f"{name}.json").read_text()))

        repo = Path(__file__).resolve().parents[2]
        loki = recorded("loki")
        assert f"-config.file={repo}/compose/loki/loki.yaml" in loki["argv"]
        assert "-config.expand-env=true" in loki["argv"]
        assert loki["env"]["LOKI_DATA"] == str(state / "data" / "loki")
        jaeger = recorded("jaeger")
        assert f"--config={repo}/compose/jaeger/config.yaml" in jaeger["argv"]
        assert f"-server.grpc-listen-port={ports['loki:grpc']}" in loki["argv"]
        jaeger_otlp = f"127.0.0.1:{ports['jaeger:otlp-grpc']}"
        assert jaeger["env"]["JAEGER_OTLP_GRPC_ENDPOINT"] == jaeger_otlp
        collector = recorded("otelcol-contrib")
        assert f"--config={repo}/otel-collector/config.yaml" in collector["argv"]
        assert collector["env"]["JAEGER_OTLP_ENDPOINT"] == jaeger_otlp
        assert collector["env"]["COLLECTOR_OTLP_GRPC_ENDPOINT"] == (
            f"127.0.0.1:{ports['otel-collector:otlp-grpc']}"
        )
        assert collector["env"]["LOKI_OTLP_ENDPOINT"] == f"http://127.0.0.1:{ports['loki']}/otlp"
        grafana = recorded("grafana")["env"]
        assert grafana["OBSSTACK_PROMETHEUS_URL"] == f"http://127.0.0.1:{ports['prometheus']}"
        assert grafana["OBSSTACK_JAEGER_URL"] == f"http://127.0.0.1:{ports['jaeger']}"
        assert grafana["GF_PATHS_PROVISIONING"] == f"{repo}/compose/grafana/provisioning"
        assert grafana["OBSSTACK_DASHBOARDS_DIR"] == f"{repo}/dashboards/generated"
        assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"

        prometheus = f"http://127.0.0.1:{ports['prometheus']}"

        def jobs() -> dict[str, str]:
            body = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()
            return {t["labels"]["job"]: t["health"] for t in body["data"]["activeTargets"]}

        wait_until(
            lambda: (
                set(jobs().values()) == {"up"}
                and {"loki", "jaeger", "otel-collector", "otel-collector-exported", "grafana"}
                <= set(jobs())
            ),
            60,
            "the optional components scraped",
        )
    finally:
        stopped = obsstack("down", "--state-dir", str(state))
    assert "stopped grafana" in stopped.stdout and "stopped loki" in stopped.stdout
    assert processes_mentioning(str(bin_dir)) == []


def test_every_port_is_checked_before_anything_starts(tmp_path: Path):
    """A busy port of any component, the main one or another (Jaeger's health port), and a
    port given to two components are one-line errors; nothing is started."""
    bin_dir = fake_binaries(tmp_path, ("loki", "jaeger", "otelcol-contrib"))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_RECORD_DIR": str(tmp_path)}
    state = tmp_path / "state"
    same = free_port()
    given_twice = obsstack(
        "up", "--state-dir", str(state), "--no-demo",
        f"--port=jaeger:health={same}", f"--port=loki:grpc={same}", env=env,
    )  # fmt: skip
    assert given_twice.returncode == 1
    assert given_twice.stderr == (
        f"obsstack up: ports given twice: {same} (jaeger:health and loki:grpc) "
        "(see --port NAME[:PORT]=N)\n"
    )
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy_port = held.getsockname()[1]
        busy = obsstack(
            "up", "--state-dir", str(state), "--no-demo", f"--port=jaeger:health={busy_port}",
            env=env,
        )  # fmt: skip
    assert busy.returncode == 1
    # Other tests may hold some of the other default ports at the same time: they are listed too.
    in_use = re.fullmatch(
        r"obsstack up: ports in use: (.+) \(choose others with .*\)\n", busy.stderr
    )
    assert in_use is not None, busy.stderr
    assert f"jaeger:health={busy_port}" in in_use.group(1).split(", ")
    assert busy.stderr.count("\n") == 1
    assert not (state / "run").exists() or list((state / "run").glob("*.json")) == []
    assert processes_mentioning(str(bin_dir)) == []


def test_a_port_name_a_component_lacks_is_refused(tmp_path: Path):
    refused = obsstack("up", "--state-dir", str(tmp_path), "--port=prometheus:grpc=9999")
    assert refused.returncode == 2
    assert "prometheus has no port 'grpc' (its other ports: none" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_grafana_needs_a_password(tmp_path: Path):
    bin_dir = fake_binaries(tmp_path, ("grafana",))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "GRAFANA_ADMIN_PASSWORD": ""}
    state = tmp_path / "state"
    ports = [
        f"--port={name}={free_port()}"
        for name in ("prometheus", "alertmanager", "exporter", "oncall-sink", "node-exporter")
    ]
    started = obsstack("up", "--state-dir", str(state), "--no-demo", *ports, env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert (
            "grafana        skipped: set GRAFANA_ADMIN_PASSWORD to run it (there is no "
            "default password)"
        ) in started.stdout
    finally:
        obsstack("down", "--state-dir", str(state))
