"""prometheus-client multi-process mode, for services run with several workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set, every worker writes its samples to memory-mapped files in
that directory and ``/metrics`` (in any worker) merges them. The directory must be emptied when
the server starts, before the workers do, or the counters of an earlier run are added to this
one: call :func:`prepare_multiprocess_dir` in the parent (``obsstack demo serve --workers N``
does; with gunicorn use ``-c python:obsstack.instrumentation.gunicorn_hooks``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from prometheus_client import multiprocess

ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")


def multiprocess_dir() -> Path | None:
    """The multi-process directory when the mode is on, else None."""
    value = os.environ.get(ENV) or os.environ.get(ENV.lower())
    return Path(value) if value else None


def prepare_multiprocess_dir(path: Path | str | None = None) -> Path | None:
    """Create the directory or empty it; call once when the server starts, before any worker."""
    directory = Path(path) if path is not None else multiprocess_dir()
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
    return directory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers(path: Path | None = None) -> list[int]:
    """Drop the live gauges (e.g. requests in flight) of workers that are gone.

    Counters and histograms of dead workers are kept: their requests did happen.
    Returns the pids whose gauges were dropped.
    """
    directory = path or multiprocess_dir()
    if directory is None or not directory.is_dir():
        return []
    dead = set()
    for entry in directory.iterdir():
        match = _LIVE_GAUGE_FILE.match(entry.name)
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in sorted(dead):
        multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
    return sorted(dead)
