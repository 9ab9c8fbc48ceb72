"""``obsstack dashboards``: the commands that work with the generated Grafana dashboards.

What a command runs (the HTTP client of ``push``) is imported when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from obsstack.core.root import add_root_argument
from obsstack.dashboards.conventions import TAG

GENERATED = Path("dashboards") / "generated"  # in the obsstack directory
DEFAULT_FOLDER = TAG


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboards",
        help="work with the generated Grafana dashboards",
        description="Work with the generated Grafana dashboards (dashboards/generated).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    push = actions.add_parser(
        "push",
        help="upload the generated dashboards through Grafana's HTTP API",
        description="Upload every generated dashboard with POST /api/dashboards/db (overwrite, "
        "by uid) into a folder, for a Grafana that is not provisioned from files.",
    )
    push.add_argument(
        "--grafana-url", required=True, help="Grafana base URL, e.g. https://grafana:3000"
    )
    push.add_argument(
        "--token-file",
        type=Path,
        required=True,
        help="file holding a service account token with the Editor role",
    )
    push.add_argument(
        "--folder", default=DEFAULT_FOLDER, help=f"folder title (default: {DEFAULT_FOLDER})"
    )
    push.add_argument(
        "--dashboards-dir",
        type=Path,
        default=None,
        help=f"directory of dashboard JSON files (default: {GENERATED} in the obsstack directory)",
    )
    add_root_argument(push)
    push.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    push.set_defaults(run=_run_push)
    _register_render(actions)


DEFAULT_RENDER_OUT = "rendered-dashboards"
DEFAULT_COMPARE_OUT = "compared-dashboards"


def _register_render(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from obsstack.dashboards.render_every import every_seconds
    from obsstack.dashboards.render_flags import add_render_arguments

    render = actions.add_parser(
        "render",
        help="draw the generated dashboards as PNGs from a Prometheus, without Grafana",
        description="Query Prometheus as Grafana would for each generated dashboard and draw it "
        "into a PNG per dashboard, with index.html listing them and render.json recording what "
        "each panel shows.",
    )
    add_render_arguments(render, DEFAULT_RENDER_OUT)
    render.add_argument(
        "--dashboards-dir",
        type=Path,
        default=None,
        help=f"directory of dashboard JSON files (default: {GENERATED} in the obsstack directory)",
    )
    render.add_argument(
        "--every",
        type=every_seconds,
        default=None,
        metavar="DURATION",
        help="render again every DURATION (e.g. 60s) until stopped; a round that fails because "
        "Prometheus is gone is said once and tried again",
    )
    add_root_argument(render)
    render.set_defaults(run=_run_render)
    compare = actions.add_parser(
        "compare",
        help="render the dashboards of two git revisions side by side, changed panels marked",
        description="Render the generated dashboards of two git revisions of the obsstack "
        "directory (REV_B: the files on disk when omitted) from the same Prometheus over the "
        "same time range, into an HTML page showing each changed dashboard side by side with "
        "its added, removed and changed panels listed and outlined.",
    )
    compare.add_argument("rev_a", metavar="REV_A", help="the revision before, e.g. main or HEAD~1")
    compare.add_argument(
        "rev_b",
        metavar="REV_B",
        nargs="?",
        default=None,
        help="the revision after (default: the working tree)",
    )
    add_render_arguments(compare, DEFAULT_COMPARE_OUT)
    compare.add_argument(
        "--all", action="store_true", help="draw unchanged dashboards too (default: listed only)"
    )
    add_root_argument(compare)
    compare.set_defaults(run=_run_compare)


def _run_push(args: argparse.Namespace) -> int:
    from obsstack.dashboards.push import run_push

    return run_push(args)


def _run_render(args: argparse.Namespace) -> int:
    if args.every is not None:
        from obsstack.dashboards.render_every import run_render_every

        return run_render_every(args)
    from obsstack.dashboards.render_command import run_render

    return run_render(args)


def _run_compare(args: argparse.Namespace) -> int:
    from obsstack.dashboards.compare_command import run_compare

    return run_compare(args)
