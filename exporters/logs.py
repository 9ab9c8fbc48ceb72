"""JSON-lines logging on stderr, with every known secret scrubbed from every field."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from exporters.spec import scrub_dsn_passwords

Scrub = Callable[[str], str]


class ScrubbingJsonFormatter(JsonFormatter):
    """JSON formatter passing every string field (message, extras, traceback) through scrub."""

    def __init__(self, scrub: Scrub = scrub_dsn_passwords, **kwargs: Any) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            **kwargs,
        )
        self.scrub = scrub

    def process_log_record(self, log_record: dict[str, Any]) -> dict[str, Any]:
        return {key: _scrub_value(value, self.scrub) for key, value in log_record.items()}


def _scrub_value(value: Any, scrub: Scrub) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v, scrub) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v, scrub) for v in value]
    return value


def configure_logging(
    level: str | int = "INFO",
    scrub: Scrub = scrub_dsn_passwords,
    stream: Any = None,
) -> logging.Handler:
    """Send every log record (obsstack's, uvicorn's, libraries') as one JSON line to stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ScrubbingJsonFormatter(scrub))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
