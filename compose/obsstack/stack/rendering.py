"""The dashboards of a stack without Grafana: ``obsstack up`` runs ``obsstack dashboards render
--every`` into the state directory (a child process, as every obsstack service is: this room
does not import the dashboards), and the on-call inbox serves what it draws at /dashboards/.

The drawing library is optional (``obsstack[render]``, which ``make setup`` installs); without
it ``up`` says so once and starts everything else.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from obsstack.stack.topology import Topology

NAME = "dashboards"  # the process, and its output directory in the state directory
EVERY = "60s"
# The last hour, not each dashboard's own range (up to 7 days): a picture cannot be zoomed into,
# and on a stack started minutes ago a week's range shows its data as a sliver at the edge.
WINDOW = "1h"
INDEX_PATH = "/dashboards/"  # where the inbox serves the index (obsstack.inbox.rendered)


def skipped_line() -> str | None:
    """The line ``up`` prints when the dashboards cannot be drawn here; None when they can."""
    if importlib.util.find_spec("matplotlib") is None:
        return (
            f"  {NAME:<14} skipped: matplotlib is not installed "
            "(pip install 'obsstack[render]'; make setup does)"
        )
    return None


def render_argv(obsstack: list[str], topology: Topology, out: Path, root: Path) -> list[str]:
    """``obsstack dashboards render --every``: the obsstack directory's dashboards drawn from
    the stack's Prometheus over the last WINDOW, into ``out``."""
    return [
        *obsstack,
        "dashboards",
        "render",
        "--every",
        EVERY,
        "--prometheus",
        topology.url("prometheus"),
        "--last",
        WINDOW,
        "--out",
        str(out),
        "--root",
        str(root),
    ]


def url_line(topology: Topology) -> str:
    """Where ``up`` tells the user to look at the dashboards."""
    return (
        f"dashboards: {topology.url('oncall-sink', INDEX_PATH)} (the last {WINDOW}, drawn from "
        f"Prometheus every {EVERY}; the inbox page's login)"
    )
