"""The ``obsstack`` command: ``main(argv) -> exit code``; results on stdout, logs on stderr.

Exit codes: 0 ok, 1 a problem was found (e.g. ``generate --check`` drift), 2 bad input.
Each subcommand lives in a small module exposing ``register(subparsers)``; the function it
sets as ``run`` takes the parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from obsstack import generate
from obsstack.core import __version__
from obsstack.core.spec import ConfigError
from obsstack.dashboards import commands as dashboards_commands
from obsstack.demo import commands as demo_commands
from obsstack.inbox import commands as inbox_commands
from obsstack.kpis import commands as kpis_commands
from obsstack.probe import commands as probe_commands
from obsstack.stack import commands as stack_commands

# Each registers its subcommands; what a command runs is imported when it runs.
COMMAND_MODULES = [
    probe_commands,
    generate,
    kpis_commands,
    demo_commands,
    dashboards_commands,
    inbox_commands,
    stack_commands,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="obsstack",
        description="Observability stack: dependency probes, SLO rules and dashboards as code.",
    )
    parser.add_argument("--version", action="version", version=f"obsstack {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help is 0, usage errors are 2
        return int(exc.code or 0)
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"obsstack {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
