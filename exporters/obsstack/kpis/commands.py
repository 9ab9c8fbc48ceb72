"""``obsstack kpis --config FILE``: run the business-KPI exporter (``--check`` to validate)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
from pathlib import Path

from obsstack.core.secret_files import SecretFileProblem, read_secret
from obsstack.core.serving import listen_address, serve
from obsstack.core.spec import ConfigError
from obsstack.kpis.config import SHIPPED, Config, load_config

log = logging.getLogger("obsstack.kpis")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kpis",
        help="run the business-KPI exporter (SQL queries against PostgreSQL)",
        description="Run every KPI query of the configuration on its own interval and serve "
        "the results on /metrics. The shipped queries for the platform are in "
        f"{SHIPPED.name} beside the exporter's code. The exporter refuses to start as a "
        "database role that may do more than read, unless the configuration allows it.",
    )
    parser.add_argument(
        "--config", type=Path, default=SHIPPED, help=f"KPI configuration (default: {SHIPPED})"
    )
    parser.add_argument("--listen", help="HOST:PORT to bind (default: server.listen, :9411)")
    parser.add_argument(
        "--bearer-token-file",
        type=Path,
        help="require Authorization: Bearer with the token in this file on every endpoint "
        "but /health (instead of server.auth)",
    )
    parser.add_argument(
        "--database-password-file",
        type=Path,
        help="the database password, from this file (instead of database.password)",
    )
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    parser.set_defaults(run=run)


def _secret_file(config: Config, path: Path, option: str) -> str:
    """The secret in ``path``, remembered so that logs are scrubbed of it."""
    try:
        return config.secrets.add(read_secret(path))
    except SecretFileProblem as problem:
        raise ConfigError(option, "", problem.reason) from None


def with_token_file(config: Config, path: Path) -> Config:
    """``config`` requiring the bearer token read from ``path``."""
    from obsstack.core.server_config import Auth

    token = _secret_file(config, path, "--bearer-token-file")
    return dataclasses.replace(config, auth=Auth(bearer_token=token))


def with_password_file(config: Config, path: Path) -> Config:
    """``config`` logging in with the password read from ``path``."""
    option = "--database-password-file"
    if config.database.connection.dsn:
        raise ConfigError(option, "", f"{config.file} gives database.dsn: put the password there")
    password = _secret_file(config, path, option)
    connection = dataclasses.replace(config.database.connection, password=password)
    return dataclasses.replace(
        config, database=dataclasses.replace(config.database, connection=connection)
    )


def check_role(config: Config) -> None:
    """Refuse a role that may do more than read (ConfigError, exit 2), unless allowed.

    A database that cannot be reached now is no reason not to start: every new connection is
    checked again before it runs a query.
    """
    from obsstack.kpis.engine import KpiEngine
    from obsstack.kpis.privileges import PrivilegedRole

    key = "database.dsn" if config.database.connection.dsn else "database.user"
    try:
        found = asyncio.run(KpiEngine(config).check_role())
    except PrivilegedRole as exc:
        raise ConfigError(config.file, key, str(exc)) from None
    except Exception as exc:
        log.warning(
            "cannot check the database role now; every connection is checked before use",
            extra={"reason": f"{type(exc).__name__}: {exc}"},
        )
        return
    if found:
        log.warning(
            "running as a privileged database role, as database.allow_privileged_role allows",
            extra={"privileges": "; ".join(found)},
        )


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.bearer_token_file is not None:
        config = with_token_file(config, args.bearer_token_file)
    if args.database_password_file is not None:
        config = with_password_file(config, args.database_password_file)
    host, port = listen_address(args.listen or config.listen)
    if args.check:
        print(f"{config.file}: ok ({len(config.kpis)} KPI queries, listen {host}:{port})")
        return 0

    from obsstack.core import __version__, naming
    from obsstack.core.logs import configure_logging
    from obsstack.kpis.engine import KpiEngine
    from obsstack.kpis.server import create_app

    # Logs over OTLP too when OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT is set, named as its scrape job.
    configure_logging(
        config.log_level,
        config.secrets.scrub,
        levels=config.log_levels,
        service_name=naming.JOB_KPIS,
        service_version=__version__,
    )
    check_role(config)
    serve(create_app(KpiEngine(config)), (host, port))
    return 0
