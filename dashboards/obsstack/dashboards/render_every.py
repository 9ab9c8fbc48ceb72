"""``obsstack dashboards render --every DURATION``: the dashboards drawn again and again, for a
stack without Grafana (``obsstack up`` runs it so).

Each round is a whole ``render`` (written into a temporary directory and renamed into place,
so a reader of ``--out`` never sees half a round). Bad flags stop it at once, exit 2; a round
that fails because the data source is gone (Prometheus restarting, say) is said once on
stderr and tried again at the next tick, until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from obsstack.core.spec import ConfigError, parse_duration


def every_seconds(text: str) -> float:
    """``--every``: a duration longer than 0s."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration like 60s (got {text!r})") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be longer than 0s")
    return seconds


def run_render_every(args: argparse.Namespace) -> int:
    """Render every ``args.every`` seconds until stopped."""
    import httpx

    from obsstack.core.root import find_root
    from obsstack.dashboards.commands import GENERATED
    from obsstack.dashboards.render_command import (
        load_directory,
        require_matplotlib,
        run_render,
        select,
        time_range,
    )
    from obsstack.dashboards.render_data import SourceProblem

    # The caller's mistakes (flags, files) are said once, exit 2; only the rounds are retried.
    require_matplotlib()
    time_range(args)
    select(load_directory(args.dashboards_dir or find_root(args.root) / GENERATED), args.dashboard)
    signal.signal(signal.SIGTERM, _stop)  # unwinds a round: its temporary directory goes too
    said = ""
    while True:
        started = time.monotonic()
        try:
            run_render(args)
            said = ""
        except (ConfigError, SourceProblem, httpx.HTTPError, OSError) as problem:
            if str(problem) != said:
                print(f"obsstack dashboards render: {problem} (trying again every {args.every:g}s)",
                      file=sys.stderr)  # fmt: skip
                said = str(problem)
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(max(0.0, args.every - (time.monotonic() - started)))


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
