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


BUILT = {"obsstack:local"}  # images the bundle builds (compose/Dockerfile)


def test_images_are_pinned_to_patch_releases():
    for name, service in services().items():
        image = service["image"]
        if image in BUILT:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image else ""
        # PostgreSQL numbers its releases major.minor: 17.6 is a patch release of 17.
        patch = r"\d+\.\d+" if image.startswith("postgres:") else r"v?\d+\.\d+\.\d+"
        assert re.fullmatch(patch, tag), f"{name}: {image} is not a patch release"
    base = re.search(r"^FROM (\S+)", (COMPOSE_DIR / "Dockerfile").read_text(), re.M)
    assert base is not None
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base[1]), base[1]


def test_each_built_image_has_one_build_owner():
    """Compose builds every service that has a `build:`; two building one tag race and fail
    ("image already exists"). One service builds it, the others only name it."""
    builders: dict[str, list[str]] = {}
    for name, service in services().items():
        if "build" in service:
            builders.setdefault(service["image"], []).append(name)
    assert builders == {"obsstack:local": ["tokens"]}
    # The others only name it: Compose builds before it creates any container, and does not
    # pull an image another service of the project builds.
    users = [n for n, s in services().items() if s["image"] == "obsstack:local"]
    assert len(users) > 1


def test_published_ports_are_bound_to_localhost():
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) of each volume, short or long syntax."""
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            out.append((volume["source"], volume["target"], bool(volume.get("read_only"))))
        else:
            parts = volume.split(":")
            out.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return out


def test_every_mounted_file_exists():
    for name, service in services().items():
        for source, _target, _ro in mounts(service):
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source}"
    for name, secret in compose()["secrets"].items():
        assert (COMPOSE_DIR / interpolate(secret["file"])).is_file(), name
    assert (REPO / services()["tokens"]["build"]["context"].replace("..", ".")).is_dir()


def test_host_paths_are_mounted_read_only():
    for name, service in services().items():
        for source, target, read_only in mounts(service):
            if source.startswith(("/", ".")):
                assert read_only, f"{name}: {source} -> {target} is writable"


def test_data_lives_in_named_volumes_with_retention():
    volumes = set(compose()["volumes"])
    data = {
        "prometheus": "/prometheus",
        "loki": "/loki",
        "alertmanager": "/alertmanager",
        "grafana": "/var/lib/grafana",
        "otel-collector": "/var/lib/otelcol",  # filelog's read offsets
    }
    for name, path in data.items():
        named = [source for source, target, _ro in mounts(services()[name]) if target == path]
        assert named and named[0] in volumes, name
    assert any(
        a.startswith("--storage.tsdb.retention.time=") for a in services()["prometheus"]["command"]
    )
    loki = yaml.safe_load((COMPOSE_DIR / "loki/loki.yaml").read_text())
    assert loki["compactor"]["retention_enabled"] is True
    assert loki["limits_config"]["retention_period"]


ONE_SHOT = {"tokens", "kpi-role"}  # run to completion on every start


def test_healthchecks_and_start_order():
    without_shell = {"loki", "otel-collector"}  # images without a shell or HTTP client
    clients = {"traffic"}  # serve no endpoint
    for name, service in services().items():
        assert "mem_limit" in service, f"{name}: no memory limit"
        if name not in without_shell | clients | ONE_SHOT:
            assert "healthcheck" in service, f"{name}: no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            expected = (
                "service_started"
                if dependency in without_shell
                else "service_completed_successfully"
                if dependency in ONE_SHOT
                else "service_healthy"
            )
            assert condition["condition"] == expected, f"{name} -> {dependency}"
    for name in ONE_SHOT:
        assert services()[name]["restart"] == "no", name


TOKENS = "obsstack-tokens:/run/obsstack"


def test_the_obsstack_services_ask_for_generated_tokens():
    """Each obsstack server wants a token the tokens service generates, and whatever calls it
    (Prometheus, Alertmanager) mounts the same volume read-only and is started after it."""
    all_services = services()
    assert all_services["tokens"]["command"][:3] == ["tokens", "--dir", "/run/obsstack"]
    assert f"{TOKENS}" in all_services["tokens"]["volumes"]
    readers = {"prometheus", "alertmanager", "exporter", "oncall-sink", "kpis", "kpi-role"}
    for name in readers:
        assert f"{TOKENS}:ro" in all_services[name]["volumes"], name
        assert "tokens" in all_services[name]["depends_on"] or name == "kpis", name
    assert "obsstack-tokens" in compose()["volumes"]
    exporter = yaml.safe_load((COMPOSE_DIR / "exporter/exporter.yaml").read_text())
    assert exporter["server"]["auth"] == {"bearer_token_file": "/run/obsstack/scrape_token"}
    assert "--bearer-token-file=/run/obsstack/scrape_token" in all_services["kpis"]["command"]
    assert "--token-file=/run/obsstack/oncall_token" in all_services["oncall-sink"]["command"]
    generated = (COMPOSE_DIR / "generated/prometheus.yml").read_text()
    generated += (COMPOSE_DIR / "generated/alertmanager.yml").read_text()
    for path in re.findall(r"credentials_file: (/run/obsstack/\S+)", generated):
        assert path.rsplit("/", 1)[1] in ("scrape_token", "oncall_token"), path


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


def test_generated_files_are_mounted_as_directories_not_copied():
    """`obsstack generate` renames a new file over the old one: a single-file bind mount would
    keep showing the old inode, a directory mount shows the new file (see test_reload)."""
    prometheus = services()["prometheus"]
    assert "../alerts/generated:/etc/prometheus/rules:ro" in prometheus["volumes"]
    assert "./generated:/etc/prometheus/generated:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/generated/prometheus.yml" in prometheus["command"]
    alertmanager = services()["alertmanager"]
    assert "./generated:/etc/alertmanager/generated:ro" in alertmanager["volumes"]
    assert "--config.file=/etc/alertmanager/generated/alertmanager.yml" in alertmanager["command"]
    generated = yaml.safe_load((COMPOSE_DIR / "generated/alertmanager.yml").read_text())
    assert generated["templates"] == ["/etc/alertmanager/generated/templates/*.tmpl"]
    assert (
        "../dashboards/generated:/var/lib/grafana/dashboards:ro" in services()["grafana"]["volumes"]
    )
    for name, service in services().items():
        for source, _target, _ro in mounts(service):
            if source.startswith("."):
                assert (COMPOSE_DIR / source).is_dir() or "generated" not in source, (name, source)


@pytest.mark.parametrize("service", ["alertmanager", "oncall-sink"])
def test_on_call_keys_are_mounted_as_files(service):
    assert set(services()[service]["secrets"]) == {"pagerduty_routing_key", "opsgenie_api_key"}


def test_kpi_exporter_reads_the_bundle_database_as_the_reader_role(tmp_path):
    """The compose service runs the shipped KPI file; its environment and options point it at
    the bundle's PostgreSQL as obsstack_kpi_reader (never the database's owner), and the same
    file without them reads this host's."""
    from obsstack.kpis import reader_role
    from obsstack.kpis.commands import with_password_file
    from obsstack.kpis.config import load_config

    service = services()["kpis"]
    mount = next(v for v in service["volumes"] if v.endswith(":/etc/obsstack/kpis.yaml:ro"))
    path = COMPOSE_DIR / mount.split(":")[0]
    env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
    assert "--database-password-file=/run/obsstack/kpi_db_password" in service["command"]
    (tmp_path / "kpi_db_password").write_text("generated")
    config = with_password_file(load_config(path, env=env), tmp_path / "kpi_db_password")
    bundle = config.database.connection
    assert (bundle.host, bundle.database, bundle.user, bundle.password) == (
        "postgres",
        "platform",
        reader_role.ROLE,
        "generated",
    )
    assert not config.database.allow_privileged_role
    native = load_config(path, env={}).database.connection
    assert (native.host, native.database, native.user) == ("127.0.0.1", "test", reader_role.ROLE)


def test_the_kpi_role_service_creates_the_reader_role_with_the_generated_password(tmp_path):
    """Its psql script, run by this host's psql against a private PostgreSQL with the demo's
    tables, the paths changed to where the files are here."""
    import asyncio

    import asyncpg

    from obsstack.demo.schema import ensure_schema
    from obsstack.kpis import reader_role
    from tests.support.servers import PrivatePostgres, _pg_binary

    service = services()["kpi-role"]
    mounts = dict(v.rsplit(":", 2)[:2][::-1] for v in service["volumes"] if v.startswith("."))
    script = (COMPOSE_DIR / mounts["/sql/kpi-role.psql"]).read_text()
    (tmp_path / "kpi_db_password").write_text("generated-password")
    script = script.replace("/run/obsstack/kpi_db_password", str(tmp_path / "kpi_db_password"))
    role_sql = COMPOSE_DIR / mounts["/sql/reader_role.sql"]
    script = script.replace("/sql/reader_role.sql", str(role_sql))
    (tmp_path / "kpi-role.psql").write_text(script)
    postgres = PrivatePostgres(password="owner").start()
    try:
        dsn = f"postgresql://postgres:owner@127.0.0.1:{postgres.port}/postgres"

        async def prepare() -> None:
            connection = await asyncpg.connect(dsn)
            await ensure_schema(connection, reader_role.SCHEMA)
            await connection.close()

        asyncio.run(prepare())
        argv = [_pg_binary("psql"), "--no-psqlrc", f"--file={tmp_path / 'kpi-role.psql'}", dsn]
        for _ in range(2):  # every start of the bundle runs it
            result = subprocess.run(argv, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
            assert "generated-password" not in result.stdout + result.stderr

        async def as_reader() -> int:
            connection = await asyncpg.connect(
                f"postgresql://{reader_role.ROLE}:generated-password@127.0.0.1:{postgres.port}"
                f"/postgres"
            )
            try:
                return int(await connection.fetchval("SELECT count(*) FROM obsstack_demo.tenants"))
            finally:
                await connection.close()

        assert asyncio.run(as_reader()) == 12
    finally:
        postgres.destroy()
