"""``compose/generated/``: the bundle's Prometheus and Alertmanager configuration."""

from __future__ import annotations

from pathlib import Path

from exporters.artifacts import HEADER, Artifact, GenerateContext
from exporters.bundle import configs
from exporters.bundle.alerting import load_alerting
from exporters.bundle.topology import COMPOSE
from exporters.probe.config import read_config
from exporters.spec import Section, load_yaml

OUTPUT = "compose/generated"
EXPORTER_CONFIG = "compose/exporter/exporter.yaml"
ALERTING = "compose/alerting.yaml"


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


def generate(context: GenerateContext) -> list[Artifact]:
    from alerts import load_default_spec, load_spec

    root = context.source_root
    spec = load_spec(context.slo_spec) if context.slo_spec else load_default_spec()
    alerting = load_alerting(root / ALERTING)
    dependencies = dependency_names(root / EXPORTER_CONFIG)
    header = (
        f"{HEADER}: edit {ALERTING} or the code in exporters/bundle, then run `obsstack generate`"
    )
    return [
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
