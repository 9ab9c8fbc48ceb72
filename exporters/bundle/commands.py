"""``obsstack oncall-sink``, ``obsstack up`` and ``obsstack down``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exporters.secret_files import SecretFileProblem, read_secret
from exporters.spec import ConfigError

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
    sink.set_defaults(run=run_sink)
    tokens = subparsers.add_parser(
        "tokens",
        help="write the bundle's missing access tokens (random) into a directory",
        description="Create each token file the bundle's services share that does not exist "
        "yet: the scrape token of the exporters, the on-call inbox token and the KPI reader's "
        "database password. Existing files are kept.",
    )
    tokens.add_argument("--dir", type=Path, required=True, help="where the token files live")
    tokens.add_argument(
        "--mode",
        default="600",
        help="octal mode of the files (default 600; 644 where containers of other users read them)",
    )
    tokens.set_defaults(run=run_tokens)
    register_runner(subparsers)


def read_secret_file(path: Path, option: str) -> str:
    """The secret in the file given as ``option``; a ConfigError naming the option if bad."""
    try:
        return read_secret(path)
    except SecretFileProblem as problem:
        raise ConfigError(option, "", problem.reason) from None


def run_sink(args: argparse.Namespace) -> int:
    from exporters import __version__
    from exporters.bundle.oncall import create_app
    from exporters.logs import configure_logging
    from exporters.serving import ServerLimits, listen_address, serve

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
    serve(create_app(routing_key, api_key, token), listen, ServerLimits(max_body_size=1024 * 1024))
    return 0


def run_tokens(args: argparse.Namespace) -> int:
    from exporters.bundle.tokens import ensure_tokens

    text = args.mode
    if not (1 <= len(text) <= 4 and all(c in "01234567" for c in text)) or int(text, 8) > 0o777:
        raise ConfigError("--mode", "", f"must be an octal mode such as 600 (got {text!r})")
    mode = int(text, 8)
    for path in ensure_tokens(args.dir, mode):
        print(f"created {path}")
    return 0


def _port(text: str) -> tuple[str, int]:
    """``NAME=N`` (a component's main port) or ``NAME:WHICH=N`` (another port it listens on)."""
    from exporters.bundle.topology import COMPONENTS

    key, _, port = text.partition("=")
    name, _, which = key.partition(":")
    component = COMPONENTS.get(name)
    if component is None or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"expected NAME=PORT or NAME:WHICH=PORT with NAME one of {', '.join(COMPONENTS)} "
            f"(got {text!r})"
        )
    if which and which not in component.ports:
        known = ", ".join(component.ports) or "none"
        raise argparse.ArgumentTypeError(
            f"{name} has no port {which!r} (its other ports: {known}; got {text!r})"
        )
    return key, int(port)


def _runner_arguments(parser: argparse.ArgumentParser) -> None:
    from exporters.bundle.runner import DEFAULT_STATE_DIR

    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"where configs, data, logs and PIDs live (default {DEFAULT_STATE_DIR})",
    )


def register_runner(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser(
        "up",
        help="start the stack natively (Prometheus and Alertmanager from PATH)",
        description="Start the stack as background processes and print its URLs. Loki, Jaeger, "
        "the Collector and Grafana run when their binaries are on PATH.",
    )
    _runner_arguments(up)
    up.add_argument(
        "--port",
        type=_port,
        action="append",
        default=[],
        metavar="NAME[:WHICH]=PORT",
        help="listen port of a component, or another of its ports such as jaeger:health "
        "(repeatable; every port is checked free before anything starts)",
    )
    up.add_argument("--exporter-config", type=Path, help="probe exporter configuration")
    up.add_argument("--scrape-interval", default="15s", help="Prometheus scrape and rule interval")
    up.add_argument(
        "--no-demo",
        action="store_true",
        help="without the demo platform, its traffic and the KPI exporter",
    )
    up.set_defaults(run=run_up)
    down = subparsers.add_parser("down", help="stop what `obsstack up` started")
    _runner_arguments(down)
    down.set_defaults(run=run_down)


def run_up(args: argparse.Namespace) -> int:
    from exporters.bundle.runner import NATIVE_EXPORTER_CONFIG, Options, RunnerError, up

    options = Options(
        state_dir=args.state_dir.resolve(),
        ports=dict(args.port),
        exporter_config=args.exporter_config or NATIVE_EXPORTER_CONFIG,
        scrape_interval=args.scrape_interval,
        evaluation_interval=args.scrape_interval,
        with_demo=not args.no_demo,
    )
    try:
        lines = up(options)
    except RunnerError as exc:
        print(f"obsstack up: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def run_down(args: argparse.Namespace) -> int:
    from exporters.bundle.runner import Options, down

    print("\n".join(down(Options(state_dir=args.state_dir.resolve()))))
    return 0
