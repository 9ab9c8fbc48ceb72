"""``obsstack dashboards render``: every generated dashboard as a PNG, and a page listing them.

Reads ``dashboards/generated/*.json`` of the obsstack directory (or ``--dashboards-dir``), asks
the Prometheus at ``--prometheus`` what each panel shows over the time range (the dashboard's
own unless ``--last`` or ``--from``/``--to`` say otherwise), and writes into ``--out``:
``<name>.png`` per dashboard, ``index.html`` listing them, and ``render.json`` recording what
each panel drew. Everything is written into a temporary directory beside ``--out`` and renamed
into place at the end: a failed run leaves the previous output as it was.

Bad input (unreachable Prometheus, bad time range, unknown uid, no dashboards) is one line
naming the flag or file, exit 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from obsstack.core.spec import ConfigError, parse_duration
from obsstack.dashboards.render_data import Prometheus, TimeRange, dashboard_range
from obsstack.dashboards.render_model import DashboardDrawn
from obsstack.dashboards.render_queries import Sources

Json = dict[str, Any]
Loaded = list[tuple[str, Json]]  # (file name, dashboard)
T = TypeVar("T")


def run_render(args: argparse.Namespace) -> int:
    """The ``render`` subcommand."""
    from obsstack.core.root import find_root
    from obsstack.dashboards.commands import GENERATED

    require_matplotlib()
    directory = args.dashboards_dir or find_root(args.root) / GENERATED
    dashboards = select(load_directory(directory), args.dashboard)
    window = time_range(args)
    sources = connect(args)
    started = time.monotonic()
    drawn = write_output(Path(args.out), lambda out: render_all(dashboards, out, sources, window))
    for board in drawn:
        shown = sum(1 for p in board.panels if p.drawn)
        print(f"{board.png}: {board.title} ({shown}/{len(board.panels)} panels with data)")
    print(f"{len(drawn)} dashboards rendered into {args.out} in {time.monotonic() - started:.1f}s")
    return 0


def require_matplotlib() -> None:
    """ConfigError saying how to install the drawing library when it is missing."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise ConfigError("matplotlib", "", "not installed: pip install 'obsstack[render]'")


def load_directory(directory: Path) -> Loaded:
    """Every ``*.json`` dashboard of ``directory``, by file name."""
    paths = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not paths:
        raise ConfigError(str(directory), "", "no dashboard JSON files here")
    return [(path.name, parse_dashboard(path.read_text(), str(path))) for path in paths]


def parse_dashboard(text: str, where: str) -> Json:
    """A dashboard's JSON, or ConfigError naming ``where``."""
    try:
        board = json.loads(text)
    except ValueError as exc:
        raise ConfigError(where, "", f"not JSON: {exc}") from None
    if not isinstance(board, dict) or not isinstance(board.get("panels"), list):
        raise ConfigError(where, "panels", "not a Grafana dashboard (no panels list)")
    return board


def select(dashboards: Loaded, uids: Sequence[str] | None) -> Loaded:
    """The dashboards named by ``--dashboard`` (all without it)."""
    if not uids:
        return dashboards
    known = {board.get("uid"): (name, board) for name, board in dashboards}
    for uid in uids:
        if uid not in known:
            choices = ", ".join(sorted(str(k) for k in known))
            raise ConfigError("--dashboard", "", f"unknown uid {uid!r} (known: {choices})")
    return [known[uid] for uid in dict.fromkeys(uids)]


def time_range(args: argparse.Namespace) -> TimeRange | None:
    """``--last`` or ``--from``/``--to`` as a range; None for each dashboard's own."""
    now = time.time()
    if args.last is not None:
        if args.start is not None or args.end is not None:
            raise ConfigError("--last", "", "cannot be combined with --from/--to")
        try:
            seconds = parse_duration(args.last)
        except ValueError:
            reason = f"not a duration like 1h or 30m (got {args.last!r})"
            raise ConfigError("--last", "", reason) from None
        if seconds <= 0:
            raise ConfigError("--last", "", "must be longer than 0s")
        return TimeRange(now - seconds, now)
    if args.start is None and args.end is None:
        return None
    if args.start is None:
        raise ConfigError("--to", "", "needs --from")
    start = moment(args.start, "--from", now)
    end = now if args.end is None else moment(args.end, "--to", now)
    if start >= end:
        raise ConfigError("--from", "", f"must be before --to ({args.start} is not)")
    return TimeRange(start, end)


def moment(text: str, flag: str, now: float) -> float:
    """Seconds since the epoch from ``now``, ``now-1h``, a number, or an ISO 8601 time."""
    if text == "now":
        return now
    if text.startswith("now-"):
        try:
            return now - parse_duration(text[4:])
        except ValueError:
            pass
    else:
        try:
            return float(text)
        except ValueError:
            pass
        try:
            parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.UTC)
            return parsed.timestamp()
    raise ConfigError(
        flag, "", f"not a time: use now, now-1h, seconds since 1970 or ISO 8601 (got {text!r})"
    )


def connect(args: argparse.Namespace) -> Sources:
    """The data sources, Prometheus checked to answer."""
    url = str(args.prometheus).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("--prometheus", "", f"must be an http:// or https:// URL (got {url!r})")
    prometheus = Prometheus(url, timeout=args.timeout)
    prometheus.check()
    scrape = args.scrape_interval
    if scrape is None:
        scrape = prometheus.scrape_interval()
    others = {kind: getattr(args, kind) for kind in ("loki", "jaeger") if getattr(args, kind)}
    return Sources(prometheus, scrape, others)


def render_all(
    dashboards: Loaded,
    out: Path,
    sources: Sources,
    window: TimeRange | None,
    changed: dict[str, frozenset[str]] | None = None,
    now: float | None = None,
) -> list[DashboardDrawn]:
    """Render each dashboard into ``out``; write ``index.html`` and ``render.json``. Without a
    ``window`` each dashboard is drawn over its own time range, ending ``now``; ``changed``
    names, per file, the panels (:func:`obsstack.dashboards.render.panel_key`) to outline."""
    from obsstack.dashboards.render import render_dashboard
    from obsstack.dashboards.render_html import index_page

    now = now or time.time()
    drawn = []
    for name, board in dashboards:
        span = window or dashboard_range(board, now)
        png = out / (Path(name).stem + ".png")
        marks = (changed or {}).get(name, frozenset())
        drawn.append(render_dashboard(board, name, png, sources, span, marks))
    (out / "index.html").write_text(index_page(drawn))
    records = [board.as_json() for board in drawn]
    (out / "render.json").write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    return drawn


def write_output(out: Path, produce: Callable[[Path], T]) -> T:
    """Run ``produce`` into a fresh directory beside ``out``, then rename it to ``out``."""
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", "", f"{out} exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        result = produce(staging)
        staging.chmod(0o755)
        # The swap is not interrupted: a SIGTERM or Ctrl-C arriving meanwhile (a stop, which
        # unwinds by an exception) is taken once it is done, ``out`` whole and nothing beside it.
        stops = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
                out.rename(old / "previous")
                staging.rename(out)
                shutil.rmtree(old)
            else:
                staging.rename(out)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, stops)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result
