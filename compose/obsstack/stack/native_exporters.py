"""What ``obsstack up`` writes for the exporters it runs: their configuration with the stack's
tokens, and the KPI exporter's read-only role in the demo's database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from obsstack.core.artifacts import HEADER, write_atomic
from obsstack.core.secret_files import read_secret
from obsstack.stack.tokens import KPI_DB_PASSWORD, SCRAPE_TOKEN


class RunnerError(Exception):
    """``up``/``down`` could not do what was asked; the message says why, in one line."""


def _absolute_files(node: Any, base: Path) -> Any:
    """A configuration tree with every relative ``*_file`` path made absolute from ``base``."""
    if isinstance(node, dict):
        return {
            key: (
                str(base / value)
                if isinstance(key, str)
                and key.endswith("_file")
                and isinstance(value, str)
                and not value.startswith(("/", "${"))
                else _absolute_files(value, base)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_absolute_files(item, base) for item in node]
    return node


def exporter_config(config_dir: Path, source: Path) -> Path:
    """The probe exporter's configuration as ``up`` runs it: ``source`` with the scrape token
    as its ``server.auth`` (replacing any other) and its file paths made absolute."""
    from obsstack.core.spec import load_yaml

    data = _absolute_files(load_yaml(source), source.resolve().parent)
    if not isinstance(data, dict):
        raise RunnerError(f"{source}: not a mapping")
    server = data.get("server") or {}
    server["auth"] = {"bearer_token_file": str(config_dir / "secrets" / SCRAPE_TOKEN)}
    data["server"] = server
    path = config_dir / "exporter.yaml"
    write_atomic(path, f"# {HEADER}: {source} as `obsstack up` runs it\n" + yaml.safe_dump(data))
    return path


@dataclass(frozen=True)
class DemoDatabase:
    """The database the demo platform uses, as its DSN names it."""

    dsn: str
    host: str
    port: int
    database: str

    @classmethod
    def from_environment(cls) -> DemoDatabase:
        from obsstack.demo.settings import DemoSettings

        dsn = DemoSettings.from_environment().postgres_dsn
        parts = urlsplit(dsn)
        return cls(
            dsn,
            parts.hostname or "127.0.0.1",
            parts.port or 5432,
            unquote(parts.path.lstrip("/")) or unquote(parts.username or "") or "postgres",
        )


def kpis_config(config_dir: Path, database: DemoDatabase) -> Path:
    """The shipped KPI configuration pointed at the demo's database, as the reader role."""
    from obsstack.core.spec import load_yaml
    from obsstack.kpis import reader_role
    from obsstack.kpis.config import SHIPPED

    data = load_yaml(SHIPPED)
    data["database"] = {
        "host": database.host,
        "port": database.port,
        "database": database.database,
        "user": reader_role.ROLE,
        "password_file": str(config_dir / "secrets" / KPI_DB_PASSWORD),
        "search_path": reader_role.SCHEMA,
    }
    path = config_dir / "kpis.yaml"
    write_atomic(
        path, f"# {HEADER}: {SHIPPED.name} as `obsstack up` runs it\n" + yaml.safe_dump(data)
    )
    return path


def create_reader_role(config_dir: Path, database: DemoDatabase) -> None:
    """The KPI exporter's read-only role in the demo's database (idempotent)."""
    from obsstack.kpis import reader_role

    password = read_secret(config_dir / "secrets" / KPI_DB_PASSWORD)
    try:
        asyncio.run(reader_role.apply(database.dsn, password))
    except Exception as exc:
        raise RunnerError(
            f"cannot create the KPI exporter's role {reader_role.ROLE} in the demo's database "
            f"({database.host}:{database.port}/{database.database}): {type(exc).__name__}: {exc}"
        ) from None
