"""``obsstack oncall-sink``: the local on-call inbox."""

from __future__ import annotations

import argparse
from pathlib import Path

from obsstack.core.secret_files import SecretFileProblem, read_secret
from obsstack.core.spec import ConfigError

SINK_SERVICE_NAME = "obsstack-oncall-sink"  # service.name of the inbox's logs over OTLP


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
    sink.add_argument(
        "--token-file",
        type=Path,
        help="require the token in this file (Authorization: Bearer, or as the password of "
        "basic auth) on /webhook/*, /events and /",
    )
    sink.add_argument(
        "--dashboards-dir",
        type=Path,
        help="serve the dashboards `obsstack dashboards render` writes here at /dashboards/, "
        "linked from /",
    )
    sink.set_defaults(run=run_sink)


def read_secret_file(path: Path, option: str) -> str:
    """The secret in the file given as ``option``; a ConfigError naming the option if bad."""
    try:
        return read_secret(path)
    except SecretFileProblem as problem:
        raise ConfigError(option, "", problem.reason) from None


def run_sink(args: argparse.Namespace) -> int:
    from obsstack.core import __version__
    from obsstack.core.logs import configure_logging
    from obsstack.core.serving import ServerLimits, listen_address, serve
    from obsstack.inbox.server import create_app

    routing_key = read_secret_file(args.pagerduty_routing_key_file, "--pagerduty-routing-key-file")
    api_key = read_secret_file(args.opsgenie_api_key_file, "--opsgenie-api-key-file")
    token = read_secret_file(args.token_file, "--token-file") if args.token_file else None
    listen = listen_address(args.listen)
    secrets = [value for value in (routing_key, api_key, token) if value]

    def scrub(text: str) -> str:
        for value in secrets:
            text = text.replace(value, "<redacted>")
        return text

    configure_logging("info", scrub, service_name=SINK_SERVICE_NAME, service_version=__version__)
    # PagerDuty accepts events of up to 512 KB: the inbox takes at least as much.
    app = create_app(routing_key, api_key, token, args.dashboards_dir)
    serve(app, listen, ServerLimits(max_body_size=1024 * 1024))
    return 0
