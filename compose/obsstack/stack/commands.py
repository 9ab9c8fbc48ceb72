"""``obsstack tokens``, ``obsstack up`` and ``obsstack down``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obsstack.core.root import add_root_argument, find_root
from obsstack.core.spec import ConfigError
from obsstack.stack import STATE_DIR

if TYPE_CHECKING:
    from obsstack.stack.runner import Options


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def run_tokens(args: argparse.Namespace) -> int:
    from obsstack.stack.tokens import ensure_tokens

    text = args.mode
    if not (1 <= len(text) <= 4 and all(c in "01234567" for c in text)) or int(text, 8) > 0o777:
        raise ConfigError("--mode", "", f"must be an octal mode such as 600 (got {text!r})")
    mode = int(text, 8)
    for path in ensure_tokens(args.dir, mode):
        print(f"created {path}")
    return 0


def _port(text: str) -> tuple[str, int]:
    """``NAME=N`` (a component's main port) or ``NAME:WHICH=N`` (another port it listens on)."""
    from obsstack.stack.topology import COMPONENTS

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
    add_root_argument(parser)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"where configs, data, logs and PIDs live (default: {STATE_DIR} in the obsstack "
        "directory)",
    )


def _options(args: argparse.Namespace, **settings: Any) -> Options:
    from obsstack.stack.runner import Options

    root = find_root(args.root)
    if args.state_dir is not None:
        settings["state_dir"] = args.state_dir.resolve()
    return Options.at(root, **settings)


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
    up.add_argument(
        "--ha",
        action="store_true",
        help="highly available: two Prometheus replicas, three Alertmanager peers in a gossip "
        "cluster, and a store both replicas remote-write into (docs/scaling.md)",
    )
    up.set_defaults(run=run_up)
    down = subparsers.add_parser("down", help="stop what `obsstack up` started")
    _runner_arguments(down)
    down.set_defaults(run=run_down)


def run_up(args: argparse.Namespace) -> int:
    from obsstack.stack.runner import RunnerError, up

    exporter_config = {"exporter_config": args.exporter_config} if args.exporter_config else {}
    options = _options(
        args,
        ports=dict(args.port),
        **exporter_config,
        scrape_interval=args.scrape_interval,
        evaluation_interval=args.scrape_interval,
        with_demo=not args.no_demo,
        ha=args.ha,
    )
    try:
        lines = up(options)
    except RunnerError as exc:
        print(f"obsstack up: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def run_down(args: argparse.Namespace) -> int:
    from obsstack.stack.runner import down

    print("\n".join(down(_options(args))))
    return 0
