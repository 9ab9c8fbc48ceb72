"""The compose bundle, checked statically: no Docker engine runs on this machine, so the file
is validated against the Compose Specification schema and by ``docker-compose config``, and
what it mounts, publishes and requires is checked for the properties its users rely on."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.processes import require_binary

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
SCHEMA = REPO / "tests/data/schemas/compose/compose-spec.json"
ENV = {"GRAFANA_ADMIN_PASSWORD": "x", "POSTGRES_PASSWORD": "y", "REDIS_PASSWORD": "z"}


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}`` with the defaults (what a fresh .env leaves)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def test_validates_against_the_compose_specification():
    schema = json.loads(SCHEMA.read_text())
    errors = [
        f"{e.json_path}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(compose())
    ]
    assert errors == []


def test_docker_compose_config_accepts_it():
    result = subprocess.run(
        [require_binary("docker-compose"), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        cwd=COMPOSE_DIR,
    )
    assert result.returncode == 0, result.stderr


def test_a_missing_password_stops_compose_with_a_clear_message():
    env = {k: v for k, v in {**os.environ, **ENV}.items() if k != "GRAFANA_ADMIN_PASSWORD"}
    result = subprocess.run(
        [require_binary("docker-compose"), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=COMPOSE_DIR,
    )
    assert result.returncode != 0
    assert "set GRAFANA_ADMIN_PASSWORD in compose/.env" in result.stderr


def test_every_component_is_there():
    expected = {
        "prometheus",
        "alertmanager",
        "loki",
        "jaeger",
        "otel-collector",
        "grafana",
        "exporter",
        "oncall-sink",
        "postgres",
        "redis",
    }
    assert expected <= set(services())


def test_images_are_pinned():
    for name, service in services().items():
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image else ""
        assert tag and tag != "latest", f"{name}: {image}"
        if "build" not in service:
            assert re.match(r"^v?\d+\.\d+", tag), f"{name}: {image} is not a release tag"


def test_published_ports_are_bound_to_localhost():
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_every_mounted_file_exists():
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source}"
    for name, secret in compose()["secrets"].items():
        assert (COMPOSE_DIR / interpolate(secret["file"])).is_file(), name
    assert (REPO / services()["exporter"]["build"]["context"].replace("..", ".")).is_dir()


def test_data_lives_in_named_volumes_with_retention():
    volumes = set(compose()["volumes"])
    data = {
        "prometheus": "/prometheus",
        "loki": "/loki",
        "alertmanager": "/alertmanager",
        "grafana": "/var/lib/grafana",
    }
    for name, path in data.items():
        mounts = {v.split(":")[0]: v.split(":")[1] for v in services()[name]["volumes"]}
        named = [source for source, target in mounts.items() if target == path]
        assert named and named[0] in volumes, name
    assert any(
        a.startswith("--storage.tsdb.retention.time=") for a in services()["prometheus"]["command"]
    )
    loki = yaml.safe_load((COMPOSE_DIR / "loki/loki.yaml").read_text())
    assert loki["compactor"]["retention_enabled"] is True
    assert loki["limits_config"]["retention_period"]


def test_healthchecks_and_start_order():
    without_shell = {"loki", "jaeger", "otel-collector"}  # images without a shell or HTTP client
    clients = {"traffic"}  # serve no endpoint
    for name, service in services().items():
        assert "mem_limit" in service, f"{name}: no memory limit"
        if name not in without_shell | clients:
            assert "healthcheck" in service, f"{name}: no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_started" if dependency in without_shell else "service_healthy"
            assert condition["condition"] == expected, f"{name} -> {dependency}"


def test_no_default_credentials():
    grafana = services()["grafana"]["environment"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert ":?" in grafana["GF_SECURITY_ADMIN_PASSWORD"]
    for name in ("postgres", "redis", "exporter"):
        values = " ".join(str(v) for v in services()[name].get("environment", {}).values())
        assert "_PASSWORD:?" in values, name
    example = (COMPOSE_DIR / ".env.example").read_text()
    for variable in ("GRAFANA_ADMIN_PASSWORD", "POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        assert re.search(rf"^{variable}=$", example, re.M), f"{variable} has a value"


def test_every_variable_the_file_uses_is_documented():
    used = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE_FILE.read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (COMPOSE_DIR / ".env.example").read_text(), re.M))
    assert used <= documented, used - documented


def test_generated_files_are_mounted_not_copied():
    prometheus = services()["prometheus"]["volumes"]
    assert "../alerts/generated:/etc/prometheus/rules:ro" in prometheus
    assert "./generated/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus
    assert (
        "../dashboards/generated:/var/lib/grafana/dashboards:ro" in services()["grafana"]["volumes"]
    )


@pytest.mark.parametrize("service", ["alertmanager", "oncall-sink"])
def test_on_call_keys_are_mounted_as_files(service):
    assert set(services()[service]["secrets"]) == {"pagerduty_routing_key", "opsgenie_api_key"}


def test_kpi_exporter_reads_the_bundle_database():
    """The compose service runs the shipped KPI file; its environment points it at the bundle's
    PostgreSQL, and the same file without that environment reads this host's."""
    from exporters.kpis.config import load_config

    service = services()["kpis"]
    mount = next(v for v in service["volumes"] if v.endswith(":/etc/obsstack/kpis.yaml:ro"))
    path = COMPOSE_DIR / mount.split(":")[0]
    env = {
        k: interpolate(str(v)).replace(
            "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in compose/.env}", "pw"
        )
        for k, v in service["environment"].items()
    }
    bundle = load_config(path, env=env).database.connection
    assert (bundle.host, bundle.database, bundle.user, bundle.password) == (
        "postgres",
        "platform",
        "platform",
        "pw",
    )
    native = load_config(path, env={}).database.connection
    assert (native.host, native.database, native.user) == ("127.0.0.1", "test", "postgres")
