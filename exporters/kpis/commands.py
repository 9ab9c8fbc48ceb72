"""``obsstack kpis --config FILE``: run the business-KPI exporter (``--check`` to validate)."""

from __future__ import annotations

import argparse
from pathlib import Path

from exporters.kpis.config import SHIPPED, load_config
from exporters.serving import listen_address, serve


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


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    host, port = listen_address(args.listen or config.listen)
    if args.check:
        print(f"{config.file}: ok ({len(config.kpis)} KPI queries, listen {host}:{port})")
        return 0

    from exporters.kpis.engine import KpiEngine
    from exporters.kpis.server import create_app
    from exporters.logs import configure_logging

    configure_logging(config.log_level, config.secrets.scrub, levels=config.log_levels)
    serve(create_app(KpiEngine(config)), (host, port))
    return 0
