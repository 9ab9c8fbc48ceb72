"""gunicorn server hooks for multi-process metrics.

``gunicorn -c python:obsstack.instrumentation.gunicorn_hooks -k uvicorn.workers.UvicornWorker``
empties ``PROMETHEUS_MULTIPROC_DIR`` when the master starts and drops the live gauges of every
worker that exits.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import multiprocess as _multiprocess

from obsstack.instrumentation.multiprocess import multiprocess_dir, prepare_multiprocess_dir


def on_starting(server: Any) -> None:
    prepare_multiprocess_dir()


def child_exit(server: Any, worker: Any) -> None:
    directory = multiprocess_dir()
    if directory is not None:
        _multiprocess.mark_process_dead(worker.pid, str(directory))  # type: ignore[no-untyped-call]
