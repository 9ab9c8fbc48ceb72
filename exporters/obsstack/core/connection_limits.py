"""What keeps a slow or hostile client from stalling an obsstack server (see ServerLimits).

uvicorn bounds the size of a request head and closes keep-alive connections left silent, but
nothing stops a client that sends a request head or body a byte at a time, opens connections
until the process runs out of descriptors, or sends a body of any size. Here
:class:`LimitedH11Protocol`, uvicorn's h11 protocol with a deadline for each request head and
body, a connection limit that closes the oldest connection waiting for a request to make room,
and a body size limit (:class:`BodyLimit`: 413, the body left unread).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import weakref
from typing import Any

import h11
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from obsstack.core.server_loop import BoundedLog
from obsstack.core.serving import ServerLimits

log = logging.getLogger("obsstack.serving")


class BodyLimit:
    """ASGI wrapper: a request body over ``max_size`` bytes gets 413 and is not read.

    A declared Content-Length over the limit is refused before any of the body is read (and
    before ``100 Continue``); a chunked body as soon as it passes the limit. The 413 closes the
    connection, so the rest is never read. A client gone mid-body is no application error: the
    ``ClientDisconnect`` it raises in the app ends the request without a traceback.
    """

    def __init__(self, app: ASGIApp, max_size: int, refused: BoundedLog) -> None:
        self.app = app
        self.max_size = max_size
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and int(declared) > self.max_size:
            await self.refuse(send)
            return
        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_size:
                refused = True
                if not started:
                    await self.refuse(send)
                return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out instead, or the connection closes mid-response
            started = True
            await send(message)

        with contextlib.suppress(ClientDisconnect):
            await self.app(scope, limited_receive, tracked_send)

    async def refuse(self, send: Send) -> None:
        self.refused()
        body = f"request body over {self.max_size} bytes\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class Waiting(enum.Enum):
    """What a connection waits for from its client, under a deadline."""

    NOTHING = enum.auto()  # a request in progress, or the connection closing
    HEAD = enum.auto()  # a request head: a new connection, or between keep-alive requests
    BODY = enum.auto()


class ConnectionTable:
    """One server's connections waiting for a request head (oldest first), and its limits.

    Shared by the protocols of a server (one per connection) through uvicorn's ServerState,
    with the log lines about the connections the limits close.
    """

    _tables: weakref.WeakKeyDictionary[ServerState, ConnectionTable] = weakref.WeakKeyDictionary()

    def __init__(self, limits: ServerLimits, app: ASGIApp) -> None:
        self.limits = limits
        self.waiting_for_head: dict[LimitedH11Protocol, None] = {}
        limit = f"connection limit ({limits.max_connections}) reached"
        self.evicted = BoundedLog(log, logging.WARNING, f"{limit}: closed the oldest idle one")
        self.refused = BoundedLog(
            log, logging.WARNING, f"{limit}, every connection busy: closed the new one"
        )
        self.head_timeouts = BoundedLog(
            log,
            logging.INFO,
            f"closed a connection without a complete request head in {limits.header_timeout:g}s",
        )
        self.body_timeouts = BoundedLog(
            log,
            logging.INFO,
            f"closed a connection whose request body took over {limits.body_timeout:g}s",
        )
        oversized = BoundedLog(
            log, logging.INFO, f"413 for a request body over {limits.max_body_size} bytes"
        )
        self.app = BodyLimit(app, limits.max_body_size, oversized)

    @classmethod
    def of(cls, state: ServerState, limits: ServerLimits, app: ASGIApp) -> ConnectionTable:
        """The table of the server whose connections share ``state``."""
        table = cls._tables.get(state)
        if table is None:
            table = cls._tables[state] = cls(limits, app)
        return table

    def make_room(self, newcomer: LimitedH11Protocol) -> None:
        """Close the oldest connection waiting for a request head, or else ``newcomer``."""
        oldest = next(iter(self.waiting_for_head), newcomer)
        if oldest is newcomer:
            self.refused()
        else:
            self.evicted()
        oldest.close_connection()


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with head and body deadlines, a connection and a body limit.

    The state of the h11 connection tells what the client owes: a request head (the deadline
    runs from the connection's start, or from the end of the previous response, and data
    trickling in does not extend it), or the rest of a body (from the end of the head).
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ServerLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.table = ConnectionTable.of(server_state, limits, self.app)
        self.app = self.table.app
        self.waiting = Waiting.NOTHING
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.follow_client()
        if len(self.connections) > self.table.limits.max_connections:
            self.table.make_room(self)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.follow_client()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.follow_client()

    def connection_lost(self, exc: Exception | None) -> None:
        self.wait_for(Waiting.NOTHING)
        super().connection_lost(exc)

    def close_connection(self) -> None:
        """Close the connection, the request in progress, if any, with it."""
        self.wait_for(Waiting.NOTHING)  # at once: make_room may run again before connection_lost
        if not self.transport.is_closing():
            self.transport.close()

    def follow_client(self) -> None:
        """Arm the deadline of what the connection now waits for."""
        state = self.conn.their_state
        if self.transport.is_closing():
            self.wait_for(Waiting.NOTHING)
        elif state is h11.IDLE:
            self.wait_for(Waiting.HEAD)
        elif state is h11.SEND_BODY:
            self.wait_for(Waiting.BODY)
        else:
            self.wait_for(Waiting.NOTHING)

    def wait_for(self, waiting: Waiting) -> None:
        """Start the deadline of ``waiting``; a deadline already running for it goes on."""
        if waiting is self.waiting:
            return
        self.waiting = waiting
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        self.table.waiting_for_head.pop(self, None)
        limits = self.table.limits
        if waiting is Waiting.HEAD:
            self.table.waiting_for_head[self] = None
            self.deadline = self.loop.call_later(
                limits.header_timeout, self.expire, self.table.head_timeouts
            )
        elif waiting is Waiting.BODY:
            self.deadline = self.loop.call_later(
                limits.body_timeout, self.expire, self.table.body_timeouts
            )

    def expire(self, notice: BoundedLog) -> None:
        self.deadline = None
        notice()
        self.close_connection()
