"""``obsstack generate [--check]``: write or verify every generated artifact."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exporters import artifacts

# Packages only the generators import: the `generate` extra, left out of the runtime image.
GENERATOR_ONLY = ("grafanalib",)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate rules, rule tests, dashboards and docs from code and the SLO spec",
        description="Generate rules, rule tests, dashboards and METRICS.md. Nothing is written "
        "unless every generator succeeds.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files on disk differ from what would be generated",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=artifacts.REPO_ROOT,
        help="root the artifact paths are relative to (default: the source tree)",
    )
    parser.add_argument(
        "--slos",
        type=Path,
        default=None,
        help="SLO spec file (default: alerts/slos.yaml)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = artifacts.GenerateContext(slo_spec=args.slos)
    try:
        produced = artifacts.produce(context)
    except ModuleNotFoundError as missing:
        if missing.name not in GENERATOR_ONLY:
            raise
        print(
            f"obsstack generate: {missing.name} is not installed: the generators need "
            "pip install 'obsstack[generate]' (the exporters and servers do not)",
            file=sys.stderr,
        )
        return 2
    owned = artifacts.owned_dirs()
    if args.check:
        problems = artifacts.drift(produced, args.output_dir, owned)
        for problem in problems:
            print(problem)
        if problems:
            print("generated files are out of date: run `obsstack generate`", file=sys.stderr)
            return 1
        print(f"{len(produced)} generated files up to date")
        return 0
    changed = artifacts.write_all(produced, args.output_dir, owned)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(produced)} files generated, {len(changed)} changed")
    return 0
