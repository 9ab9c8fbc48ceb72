"""``compose/generated/``: the bundle's Prometheus and Alertmanager configuration."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import yaml

from obsstack.core.artifacts import HEADER, Artifact, GenerateContext
from obsstack.core.spec import ConfigError, Section, load_yaml
from obsstack.probe.config import read_config
from obsstack.stack import configs, replicas
from obsstack.stack.alerting import load_alerting
from obsstack.stack.topology import COMPOSE, COMPOSE_HA

OUTPUT = "compose/generated"
HA_OUTPUT = f"{OUTPUT}/ha"  # the replicas of compose/docker-compose.ha.yml
EXPORTER_CONFIG = "compose/exporter/exporter.yaml"
ALERTING = configs.ALERTING_FILE
COMPOSE_FILE = "compose/docker-compose.yml"
HA_COMPOSE_FILE = "compose/docker-compose.ha.yml"  # laid over COMPOSE_FILE
# The users the bundle's containers run as: Prometheus and Alertmanager (nobody), the obsstack
# image (10001), Grafana (472), Loki and Jaeger (10001). None owns the checkout.
CONTAINER_USERS = "nobody, 10001, 472"


class _AnyEnvironment(dict[str, str]):
    """Resolves every ``${VAR}``: enough to read a config's structure without its secrets."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return "unset"


def dependency_names(exporter_config: Path) -> list[str]:
    """The dependency names of an exporter configuration, validated, secrets not needed.

    ``server.auth`` is left out: its token file exists only where the exporter runs (the
    bundle's is generated at its first start).
    """
    data = load_yaml(exporter_config)
    if isinstance(data, dict) and isinstance(data.get("server"), dict):
        data["server"].pop("auth", None)
    # Read as written, where written: relative *_file paths resolve next to the file.
    config = read_config(Section(data, str(exporter_config), env=_AnyEnvironment()))
    return [d.name for d in config.dependencies]


def mounted_sources(root: Path) -> list[Path]:
    """The files and directories of this checkout the compose files (the bundle and its HA
    overlay) bind-mount or pass as secrets (with their defaults), as paths under ``root``."""
    compose_dir = (root / COMPOSE_FILE).parent
    sources: list[str] = []
    for name in (COMPOSE_FILE, HA_COMPOSE_FILE):
        if not (root / name).is_file():
            continue
        # The project's own compose files, with the anchors and aliases Compose files use: not
        # the strict reader of user configuration.
        document = yaml.safe_load((root / name).read_text())
        for service in (document.get("services") or {}).values():
            for volume in service.get("volumes") or []:
                if isinstance(volume, dict):
                    source = volume.get("source", "")
                else:
                    source = volume.split(":")[0]
                if source.startswith("."):
                    sources.append(source)
        for secret in (document.get("secrets") or {}).values():
            # ${NAME:-default}: the default, what a fresh compose/.env leaves.
            sources.append(re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(secret.get("file", ""))))
    return [(compose_dir / source).resolve() for source in sources]


def check_readable_by_containers(root: Path) -> None:
    """Raise ConfigError for a mounted file the containers cannot read.

    Bind mounts keep the host's modes, and the containers run as other users than the one who
    cloned the repository: with a umask such as 077 every file is 0600 and Prometheus, Grafana
    or the Collector fail on their first read.
    """
    for source in mounted_sources(root):
        if not source.exists():
            continue
        paths = [source, *sorted(source.rglob("*"))] if source.is_dir() else [source]
        for path in paths:
            mode = path.stat().st_mode
            needed = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
            if mode & needed != needed:
                shown = path.relative_to(root) if path.is_relative_to(root) else path
                raise ConfigError(
                    str(shown),
                    "",
                    f"mode {stat.S_IMODE(mode):04o}: the bundle's containers (users "
                    f"{CONTAINER_USERS}) cannot read it; run `chmod -R a+rX {shown}` (a umask "
                    "such as 077 at checkout makes files private)",
                )


def generate(context: GenerateContext) -> list[Artifact]:
    from obsstack.alerts import load_spec

    root = context.source_root
    if (root / COMPOSE_FILE).is_file():
        check_readable_by_containers(root)
    spec = load_spec(context.spec)
    alerting = load_alerting(root / ALERTING)
    dependencies = dependency_names(root / EXPORTER_CONFIG)
    header = (
        f"{HEADER}: edit {ALERTING} or the code in compose/obsstack/stack, "
        "then run `obsstack generate`"
    )
    stack = alerting.stack_name
    ha = [
        Artifact(
            f"{HA_OUTPUT}/{replicas.config_name(replica)}",
            configs.dump(replicas.replica_config(COMPOSE_HA, dependencies, stack, replica), header),
        )
        for replica in COMPOSE_HA.replicas()
    ]
    # The peers' own: the heartbeat's repeat interval depends on how many peers there are.
    ha.append(
        Artifact(
            f"{HA_OUTPUT}/alertmanager.yml",
            configs.dump(configs.alertmanager_config(alerting, COMPOSE_HA, spec), header),
        )
    )
    return [
        *ha,
        Artifact(
            f"{OUTPUT}/prometheus.yml",
            configs.dump(
                configs.prometheus_config(COMPOSE, dependencies, alerting.stack_name), header
            ),
        ),
        Artifact(
            f"{OUTPUT}/alertmanager.yml",
            configs.dump(configs.alertmanager_config(alerting, COMPOSE, spec), header),
        ),
        Artifact(
            f"{OUTPUT}/templates/{configs.NOTIFICATION_TEMPLATE}",
            configs.notification_template(alerting, header),
        ),
    ]
