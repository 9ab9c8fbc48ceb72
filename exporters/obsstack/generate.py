"""``obsstack generate [--check]``: write or verify every generated artifact."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from obsstack.core import artifacts
from obsstack.core.root import add_root_argument, find_root

# Packages only the generators import: the `generate` extra, left out of the runtime image.
GENERATOR_ONLY = ("grafanalib",)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate rules, rule tests, dashboards, configuration and docs from code and specs",
        description="Generate rules, rule tests, dashboards, METRICS.md, the compose bundle's "
        "configuration and the Kubernetes base. Nothing is written unless every generator "
        "succeeds.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files on disk differ from what would be generated",
    )
    add_root_argument(parser)
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="root the artifact paths are relative to (default: the obsstack directory)",
    )
    parser.add_argument(
        "--slos",
        type=Path,
        default=None,
        help="SLO spec file (default: alerts/slos.yaml in the obsstack directory)",
    )
    parser.set_defaults(run=run)


def generators() -> list[tuple[artifacts.Generator, str]]:
    """Every generator with the directory it owns entirely ("" for none), in run order."""
    # Imported here: only `generate` needs grafanalib, and every command builds this parser.
    from obsstack.alerts import generate as alerts
    from obsstack.core import metrics_doc
    from obsstack.dashboards import generate as dashboards
    from obsstack.kubernetes import generate as kubernetes
    from obsstack.stack import generate as stack

    return [
        (metrics_doc.generate, ""),
        (alerts.generate, "alerts/generated"),
        (dashboards.generate, "dashboards/generated"),
        (stack.generate, "compose/generated"),
        (kubernetes.generate, "kubernetes/generated"),
    ]


def run(args: argparse.Namespace) -> int:
    root = find_root(args.root)
    output = args.output_dir or root
    context = artifacts.GenerateContext(source_root=root, slo_spec=args.slos)
    try:
        registry = generators()
        produced = artifacts.produce([generate for generate, _ in registry], context)
    except ModuleNotFoundError as missing:
        if missing.name not in GENERATOR_ONLY:
            raise
        print(
            f"obsstack generate: {missing.name} is not installed: the generators need "
            "pip install 'obsstack[generate]' (the exporters and servers do not)",
            file=sys.stderr,
        )
        return 2
    owned = [directory for _generate, directory in registry if directory]
    if args.check:
        problems = artifacts.drift(produced, output, owned)
        for problem in problems:
            print(problem)
        if problems:
            print("generated files are out of date: run `obsstack generate`", file=sys.stderr)
            return 1
        print(f"{len(produced)} generated files up to date")
        return 0
    changed = artifacts.write_all(produced, output, owned)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(produced)} files generated, {len(changed)} changed")
    return 0
