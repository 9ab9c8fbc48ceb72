"""``obsstack serve`` and ``obsstack check-config``."""

from __future__ import annotations

import argparse
from pathlib import Path

from obsstack.core.serving import listen_address, serve
from obsstack.probe.config import load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the dependency probe exporter",
        description="Serve /metrics, /probe?target=NAME, /ready, /health and / for the "
        "dependencies of the configuration file.",
    )
    serve.add_argument("--config", type=Path, required=True, help="exporter configuration (YAML)")
    serve.add_argument(
        "--listen", help="HOST:PORT to bind (default: server.listen of the config, 127.0.0.1:9410)"
    )
    serve.set_defaults(run=run_serve)

    check = subparsers.add_parser(
        "check-config",
        help="validate an exporter configuration file and exit",
        description="Exit 0 if the file is valid, 2 with a one-line error otherwise.",
    )
    check.add_argument("config", type=Path, help="exporter configuration (YAML)")
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    critical = sum(d.critical for d in config.dependencies)
    print(
        f"{config.file}: ok ({len(config.dependencies)} dependencies, {critical} critical, "
        f"listen {config.listen})"
    )
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from obsstack.core import __version__, naming
    from obsstack.core.logs import configure_logging
    from obsstack.probe.server import create_app

    config = load_config(args.config)
    listen = listen_address(args.listen or config.listen)
    # Logs over OTLP too when OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT is set, named as its scrape job.
    configure_logging(
        config.log_level,
        config.secrets.scrub,
        levels=config.log_levels,
        service_name=naming.JOB_EXPORTER,
        service_version=__version__,
    )
    serve(create_app(config), listen)
    return 0
