"""The event loop of an obsstack server: it stays responsive, and its log small, under abuse.

Failed accept() calls (out of descriptors) stop at the first failure and are logged at a
bounded rate, as are uvicorn's warnings about bad requests: no client can grow the log as fast
as it sends. :func:`new_event_loop` is passed to uvicorn as ``loop`` by
:func:`obsstack.core.serving.serve`, so every worker process has it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
from typing import Any

log = logging.getLogger("obsstack.serving")
LOG_INTERVAL = 10.0  # seconds between two lines about the same kind of event


class BoundedLog:
    """A kind of log line written at most once per ``interval``: the first at once.

    Occurrences within the interval are counted; at its end one line gives the count (also in
    the ``suppressed`` field) and opens the next interval, so a flood costs one line per
    interval. Called from the event loop only.
    """

    def __init__(
        self, logger: logging.Logger, level: int, message: str, interval: float = LOG_INTERVAL
    ) -> None:
        self.logger = logger
        self.level = level
        self.message = message
        self.interval = interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._window: asyncio.TimerHandle | None = None
        self._suppressed = 0
        self._last = ""

    def __call__(self, *args: object) -> None:
        """One occurrence, with the arguments of ``message``."""
        if self.admit(self.message % args if args else self.message):
            self.logger.log(self.level, self.message, *args)

    def admit(self, text: str) -> bool:
        """Whether the occurrence ``text`` is logged now; if not, it counts for the summary."""
        loop = asyncio.get_running_loop()
        if self._window is not None and self._loop is loop:
            self._suppressed += 1
            self._last = text
            return False
        self._loop = loop
        self._window = loop.call_later(self.interval, self._end_window, loop)
        return True

    def _end_window(self, loop: asyncio.AbstractEventLoop) -> None:
        self._window = None
        if not self._suppressed:
            return
        count, self._suppressed = self._suppressed, 0
        self._window = loop.call_later(self.interval, self._end_window, loop)
        self.logger.log(
            self.level,
            "%s (and %d more in the last %gs)",
            self._last,
            count,
            self.interval,
            extra={"suppressed": count},
        )


class WarningRateLimit(logging.Filter):
    """Each distinct warning of a logger at most once per interval (see :class:`BoundedLog`).

    uvicorn warns once per bad request ("Invalid HTTP request received.", unsupported
    upgrades): without this, any client could grow the log as fast as it sends.
    """

    def __init__(self) -> None:
        super().__init__()
        self._logs: dict[str, BoundedLog] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or hasattr(record, "suppressed"):
            return True
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return True
        key = str(record.msg)
        if key not in self._logs:
            logger = logging.getLogger(record.name)
            self._logs[key] = BoundedLog(logger, logging.WARNING, key)
        return self._logs[key].admit(record.getMessage())


_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class AcceptErrorLog:
    """Event loop exception handler: failed accept() calls logged at a bounded rate.

    asyncio logs each accept() that fails for lack of descriptors or memory, with a traceback,
    and retries a second later, so the server accepts again once descriptors are free; other
    exceptions go to asyncio's default handler.
    """

    def __init__(self) -> None:
        self._log = BoundedLog(
            log,
            logging.ERROR,
            "cannot accept connections: %s (RLIMIT_NOFILE %s); retrying every second",
        )

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if "socket" in context and isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES:
            self._log(exc.strerror, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        else:
            loop.default_exception_handler(context)


class ServerEventLoop(asyncio.SelectorEventLoop):
    """asyncio's event loop, accepting one connection per readiness of a listening socket.

    Python 3.11 goes on calling accept() after it failed for lack of descriptors, as many times
    as the listen backlog (2048 under uvicorn), each failure scheduling its own retry: the
    retries feed each other, the process spins and logs thousands of errors a second
    (CPython gh-151615). One accept() per readiness stops at the first failure; the loop's own
    retry, a second later, resumes accepting once descriptors are free.
    """

    def _accept_connection(
        self,
        protocol_factory: Any,
        sock: socket.socket,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super()._accept_connection(  # type: ignore[misc]
            protocol_factory, sock, sslcontext, server, 1, *args, **kwargs
        )

    def _start_serving(
        self, protocol_factory: Any, sock: socket.socket, *args: Any, **kwargs: Any
    ) -> None:
        if sock.fileno() == -1:
            return  # closed on shutdown while a retry after a failed accept() was pending
        super()._start_serving(protocol_factory, sock, *args, **kwargs)  # type: ignore[misc]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The event loop of an obsstack server (uvicorn's ``loop``), in each worker process."""
    loop = ServerEventLoop()
    loop.set_exception_handler(AcceptErrorLog())
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, WarningRateLimit) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(WarningRateLimit())
    return loop
