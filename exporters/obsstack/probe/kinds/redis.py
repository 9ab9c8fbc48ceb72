"""Redis: ``PING``, then ``INFO`` for role, loading, clients and memory.

It speaks the few commands it needs over asyncio streams itself (RESP2, with ``HELLO 2`` to
authenticate and name the client in one round trip): no client library is loaded. The
connection is kept between probes, so a probe is two round trips; every probe sends its
commands on it, any error closes it, a kept connection the server closed is replaced within
the same probe, and after ``connection_lifetime`` a fresh connect proves the connection path
(network, TLS, authentication, free client slots) again.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from obsstack.core import naming
from obsstack.core.spec import Section
from obsstack.probe.model import Kept, ProbeFailure, Report, read_lifetime

NAME = "redis"
CLIENT_NAME = "obsstack-probe"
# The most of one reply a probe reads (INFO is a few KiB), and how deeply replies may nest.
MAX_REPLY_BYTES = 1 << 20
_MAX_DEPTH = 4

# INFO field -> gauge; role and loading are handled apart.
_INFO_GAUGES = {
    "connected_clients": naming.DEPENDENCY_REDIS_CONNECTED_CLIENTS,
    "maxclients": naming.DEPENDENCY_REDIS_MAX_CLIENTS,
    "used_memory": naming.DEPENDENCY_REDIS_MEMORY_USED,
    "maxmemory": naming.DEPENDENCY_REDIS_MEMORY_MAX,
    "keyspace_hits": naming.DEPENDENCY_REDIS_KEYSPACE_HITS,
    "keyspace_misses": naming.DEPENDENCY_REDIS_KEYSPACE_MISSES,
}
_AUTH_ERRORS = ("WRONGPASS", "NOAUTH", "NOPERM", "ERR invalid password", "ERR invalid username")


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    connection_lifetime: float | None = 60.0  # None: a new connection for every probe


def read_settings(section: Section) -> Settings:
    return Settings(
        host=section.string("host", "127.0.0.1"),
        port=section.integer("port", 6379, minimum=1),
        db=section.integer("db", 0, minimum=0),
        username=section.string("username", None),
        password=section.secret("password"),
        tls=section.boolean("tls", False),
        connection_lifetime=read_lifetime(section),
    )


def parse_info(text: str) -> dict[str, str]:
    """``INFO`` output as a flat mapping of field to raw value (section headers dropped)."""
    fields = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


class _ErrorReply(Exception):
    """The server answered a command with an error reply."""


class _Lost(Exception):
    """The connection ended under a command."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def command(self, *words: str) -> Any:
        encoded = [word.encode() for word in words]
        request = [b"*%d\r\n" % len(encoded)]
        for word in encoded:
            request.append(b"$%d\r\n%s\r\n" % (len(word), word))
        try:
            self.writer.write(b"".join(request))
            await self.writer.drain()
            return await _read_reply(self.reader, 0)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise _Lost(type(exc).__name__) from None
        except (asyncio.LimitOverrunError, ValueError):
            raise ProbeFailure(naming.REASON_PROTOCOL, "not a Redis reply") from None

    def abort(self) -> None:
        self.writer.transport.abort()


async def _read_reply(reader: asyncio.StreamReader, depth: int) -> Any:
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode(errors="replace")
    if kind == b"-":
        raise _ErrorReply(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind in (b"$", b"="):  # bulk and (RESP3) verbatim strings
        size = int(rest)
        if size < 0:
            return None
        if size > MAX_REPLY_BYTES:
            raise ProbeFailure(naming.REASON_PROTOCOL, f"reply larger than {MAX_REPLY_BYTES} bytes")
        data = (await reader.readexactly(size + 2))[:-2].decode(errors="replace")
        return data[4:] if kind == b"=" else data  # verbatim: "txt:" first
    if kind in (b"*", b"%", b"~"):  # arrays; maps and sets (a RESP3 server answering HELLO)
        count = int(rest) * (2 if kind == b"%" else 1)
        if depth >= _MAX_DEPTH or count > 1024:
            raise ProbeFailure(naming.REASON_PROTOCOL, "reply nested or long beyond reason")
        return [await _read_reply(reader, depth + 1) for _ in range(max(count, 0))]
    if kind == b"_":
        return None
    raise ProbeFailure(naming.REASON_PROTOCOL, "not a Redis reply")


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


async def _connect(settings: Settings) -> _Connection:
    try:
        reader, writer = await asyncio.open_connection(
            settings.host,
            settings.port,
            ssl=_tls_context() if settings.tls else None,
            limit=64 * 1024,
        )
    except ssl.SSLError as exc:
        raise ProbeFailure(naming.REASON_PROTOCOL, f"TLS handshake failed: {exc}") from None
    except OSError as exc:
        if isinstance(exc, TimeoutError):
            raise
        raise ProbeFailure(
            naming.REASON_REFUSED, f"cannot connect: {exc}", transient=True
        ) from None
    connection = _Connection(reader, writer)
    try:
        await _hello(connection, settings)
        if settings.db:
            await connection.command("SELECT", str(settings.db))
    except _Lost as exc:
        connection.abort()
        raise ProbeFailure(
            naming.REASON_REFUSED, f"cannot connect: connection closed ({exc})", transient=True
        ) from None
    except BaseException:
        connection.abort()
        raise
    return connection


async def _hello(connection: _Connection, settings: Settings) -> None:
    """Authenticate and name the client: HELLO 2 (Redis 6+), else AUTH and CLIENT SETNAME."""
    auth = []
    if settings.password is not None:
        auth = ["AUTH", settings.username or "default", settings.password]
    try:
        await connection.command("HELLO", "2", "SETNAME", CLIENT_NAME, *auth)
        return
    except _ErrorReply as exc:
        if not str(exc).startswith("ERR unknown command"):
            raise
    if settings.password is not None:
        credentials = [settings.username] if settings.username else []
        await connection.command("AUTH", *credentials, settings.password)
    await connection.command("CLIENT", "SETNAME", CLIENT_NAME)


async def probe(settings: Settings, budget: float, report: Report, kept: Kept) -> None:
    try:
        await _probe(settings, report, kept)
    except _ErrorReply as exc:
        text = str(exc)
        if text.startswith(_AUTH_ERRORS):
            raise ProbeFailure(naming.REASON_AUTH, f"authentication failed: {text}") from None
        if text.startswith("LOADING"):
            report.set(naming.DEPENDENCY_REDIS_LOADING, 1)
            raise ProbeFailure(naming.REASON_UNHEALTHY, "loading the dataset into memory") from None
        raise ProbeFailure(naming.REASON_UNHEALTHY, f"error reply: {text}") from None


async def _probe(settings: Settings, report: Report, kept: Kept) -> None:
    connection = kept.take(settings.connection_lifetime)
    if connection is not None:
        try:
            await _commands(connection, report)
        except _Lost:
            kept.drop()  # e.g. CLIENT KILL, a restart, an idle timeout: connect afresh below
        except BaseException:
            kept.drop()
            raise
        else:
            return
    started = time.perf_counter()
    connection = await _connect(settings)
    took = time.perf_counter() - started
    try:
        await _commands(connection, report)
    except _Lost as exc:
        connection.abort()
        raise ProbeFailure(
            naming.REASON_PROTOCOL, f"connection lost: {exc}", transient=True
        ) from None
    except BaseException:
        connection.abort()  # a failed or cancelled probe leaves no connection behind
        raise
    if settings.connection_lifetime is None:
        connection.abort()
    else:
        kept.hold(connection, _Connection.abort, took)


async def _commands(connection: _Connection, report: Report) -> None:
    started = time.perf_counter()
    if await connection.command("PING") != "PONG":
        raise ProbeFailure(naming.REASON_PROTOCOL, "PING did not answer PONG")
    report.set(naming.DEPENDENCY_REDIS_PING_DURATION, time.perf_counter() - started)
    _report_info(parse_info(str(await connection.command("INFO"))), report)


def _report_info(info: dict[str, str], report: Report) -> None:
    report.set(naming.DEPENDENCY_REDIS_IS_REPLICA, info.get("role") == "slave")
    report.set(naming.DEPENDENCY_REDIS_LOADING, info.get("loading") == "1")
    for key, spec in _INFO_GAUGES.items():
        if key in info:
            try:
                report.set(spec, float(info[key]))
            except ValueError:
                raise ProbeFailure(
                    naming.REASON_PROTOCOL, f"INFO field {key} is not a number"
                ) from None
    if info.get("loading") == "1":
        raise ProbeFailure(naming.REASON_UNHEALTHY, "loading the dataset into memory")
