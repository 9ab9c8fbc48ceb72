"""``obsstack kpis --config FILE``: run the business-KPI exporter (``--check`` to validate)."""

from __future__ import annotations

import argparse
from pathlib import Path

from exporters.kpis.config import SHIPPED, Config, load_config
from exporters.probe.config import parse_listen
from exporters.spec import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kpis",
        help="run the business-KPI exporter (SQL queries against PostgreSQL)",
        description="Run every KPI query of the configuration on its own interval and serve "
        "the results on /metrics. The shipped queries for the platform are in "
        f"{SHIPPED.name} beside the exporter's code.",
    )
    parser.add_argument(
        "--config", type=Path, default=SHIPPED, help=f"KPI configuration (default: {SHIPPED})"
    )
    parser.add_argument("--listen", help="HOST:PORT to bind (default: server.listen, :9411)")
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    parser.set_defaults(run=run)


def _listen(config: Config, override: str | None) -> tuple[str, int]:
    try:
        return parse_listen(override or config.listen)
    except ValueError as exc:
        raise ConfigError("--listen", "", str(exc)) from None


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    host, port = _listen(config, args.listen)
    if args.check:
        print(f"{config.file}: ok ({len(config.kpis)} KPI queries, listen {host}:{port})")
        return 0

    import uvicorn

    from exporters.kpis.engine import KpiEngine
    from exporters.kpis.server import create_app
    from exporters.logs import configure_logging

    configure_logging(config.log_level, config.secrets.scrub, levels=config.log_levels)
    uvicorn.run(
        create_app(KpiEngine(config)),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    return 0
