"""Access lines without a ``LogRecord``: uvicorn's ``uvicorn.access`` logger, made cheap.

Every request a server answers is one access line, and on a cheap route the standard library's
way to it (a ``LogRecord``, the logger hierarchy, the handler's filter and lock, then the
formatter) costs about as much as the route. When nothing but the JSON handler of
:func:`obsstack.core.logs.configure_logging` would see the record (no other handler, no filter
but its context filter, the formatter's default steps), the line is written straight to that
handler's stream: the same bytes, from the same fields. Otherwise, and for every call with
keyword arguments, the record takes the standard path, so a user's handlers, filters, levels and
the OTLP log export keep working.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from obsstack.core.logs import ContextFilter, ScrubbingJsonFormatter, request_context

ACCESS_LOGGER = "uvicorn.access"


class AccessLogger(logging.Logger):
    """A logger whose ``info`` writes the JSON line itself when only the JSON handler would."""

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if kwargs or not isinstance(msg, str) or (handler := self._direct_handler()) is None:
            super().info(msg, *args, **kwargs)
            return
        formatter: ScrubbingJsonFormatter = handler.formatter  # type: ignore[assignment]
        values: Any = args
        if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            values = args[0]  # as LogRecord takes a single mapping
        try:
            context = request_context()
            line = formatter.direct_line(
                time.time(),
                logging.getLevelName(logging.INFO),
                self.name,
                msg % values if args else msg,
                formatter.encode_extras(context, context),
            )
            with handler.lock:  # type: ignore[union-attr]
                handler.stream.write(line + handler.terminator)
                handler.stream.flush()
        except Exception:
            handler.handleError(logging.makeLogRecord({"name": self.name, "msg": msg}))

    def _direct_handler(self) -> logging.StreamHandler[Any] | None:
        """The one handler this record would reach, when its line can be written directly."""
        if self.filters or not self.isEnabledFor(logging.INFO):
            return None
        logger: logging.Logger | None = self
        while logger is not None and not logger.handlers and logger.propagate:
            logger = logger.parent
        if logger is None or len(logger.handlers) != 1:
            return None
        # Past the first logger with handlers: a parent's handlers would see the record too.
        if logger.propagate and _handlers_above(logger):
            return None
        handler = logger.handlers[0]
        if (
            type(handler) is not logging.StreamHandler
            or handler.level > logging.INFO
            or len(handler.filters) != 1
            or type(handler.filters[0]) is not ContextFilter
            or type(handler.formatter) is not ScrubbingJsonFormatter
            or not handler.formatter.direct_without_record
        ):
            return None
        return handler


def _handlers_above(logger: logging.Logger) -> bool:
    parent = logger.parent
    while parent is not None:
        if parent.handlers:
            return True
        if not parent.propagate:
            return False
        parent = parent.parent
    return False


def use_direct_access_lines() -> None:
    """Make ``uvicorn.access`` an :class:`AccessLogger` (a plain ``Logger`` only: a class a user
    chose is kept)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if type(logger) is logging.Logger:
        logger.__class__ = AccessLogger
