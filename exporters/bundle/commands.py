"""``obsstack oncall-sink``, ``obsstack up`` and ``obsstack down``."""

from __future__ import annotations

import argparse
from pathlib import Path

from exporters.spec import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sink = subparsers.add_parser(
        "oncall-sink",
        help="run the local on-call inbox (PagerDuty Events v2 and Opsgenie APIs)",
        description="Accept pages and tickets the way PagerDuty and Opsgenie do, validating "
        "each request, and show them at / and /events.",
    )
    sink.add_argument("--listen", default="127.0.0.1:9095", help="HOST:PORT to bind")
    sink.add_argument("--pagerduty-routing-key-file", type=Path, required=True)
    sink.add_argument("--opsgenie-api-key-file", type=Path, required=True)
    sink.set_defaults(run=run_sink)


def read_secret_file(path: Path, option: str) -> str:
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(option, "", f"cannot read {path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(option, "", f"{path} is empty")
    return value


def run_sink(args: argparse.Namespace) -> int:
    import uvicorn

    from exporters.bundle.oncall import create_app
    from exporters.logs import configure_logging
    from exporters.probe.config import parse_listen

    routing_key = read_secret_file(args.pagerduty_routing_key_file, "--pagerduty-routing-key-file")
    api_key = read_secret_file(args.opsgenie_api_key_file, "--opsgenie-api-key-file")
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        raise ConfigError("--listen", "", str(exc)) from None
    configure_logging(
        "info", lambda text: text.replace(routing_key, "<redacted>").replace(api_key, "<redacted>")
    )
    uvicorn.run(
        create_app(routing_key, api_key),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0
