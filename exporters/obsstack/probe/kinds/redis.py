"""Redis: ``PING`` with a socket timeout, then ``INFO`` for role, loading, clients and memory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from redis import exceptions as redis_errors
from redis.asyncio.connection import Connection, SSLConnection

from obsstack.core import naming
from obsstack.core.spec import Section
from obsstack.probe.model import ProbeFailure, Report

NAME = "redis"

# INFO field -> gauge; role and loading are handled apart.
_INFO_GAUGES = {
    "connected_clients": naming.DEPENDENCY_REDIS_CONNECTED_CLIENTS,
    "maxclients": naming.DEPENDENCY_REDIS_MAX_CLIENTS,
    "used_memory": naming.DEPENDENCY_REDIS_MEMORY_USED,
    "maxmemory": naming.DEPENDENCY_REDIS_MEMORY_MAX,
    "keyspace_hits": naming.DEPENDENCY_REDIS_KEYSPACE_HITS,
    "keyspace_misses": naming.DEPENDENCY_REDIS_KEYSPACE_MISSES,
}


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False


def read_settings(section: Section) -> Settings:
    return Settings(
        host=section.string("host", "127.0.0.1"),
        port=section.integer("port", 6379, minimum=1),
        db=section.integer("db", 0, minimum=0),
        username=section.string("username", None),
        password=section.secret("password"),
        tls=section.boolean("tls", False),
    )


def parse_info(text: str) -> dict[str, str]:
    """``INFO`` output as a flat mapping of field to raw value (section headers dropped)."""
    fields = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


async def probe(settings: Settings, budget: float, report: Report) -> None:
    connection_type = SSLConnection if settings.tls else Connection
    connection = connection_type(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        username=settings.username,
        password=settings.password,
        socket_timeout=budget,
        socket_connect_timeout=budget,
        client_name="obsstack-probe",
        decode_responses=True,
    )
    try:
        await connection.connect()  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        await connection.send_command("PING")
        if await connection.read_response() != "PONG":
            raise ProbeFailure(naming.REASON_PROTOCOL, "PING did not answer PONG")
        report.set(naming.DEPENDENCY_REDIS_PING_DURATION, time.perf_counter() - started)
        await connection.send_command("INFO")
        info = parse_info(str(await connection.read_response()))
    except redis_errors.AuthenticationError as exc:
        raise ProbeFailure(naming.REASON_AUTH, f"authentication failed: {exc}") from None
    except redis_errors.BusyLoadingError:
        report.set(naming.DEPENDENCY_REDIS_LOADING, 1)
        raise ProbeFailure(naming.REASON_UNHEALTHY, "loading the dataset into memory") from None
    except redis_errors.TimeoutError:
        raise ProbeFailure(naming.REASON_TIMEOUT, "no answer within the socket timeout") from None
    except redis_errors.ConnectionError as exc:
        raise ProbeFailure(
            naming.REASON_REFUSED, f"cannot connect: {exc}", transient=True
        ) from None
    except redis_errors.ResponseError as exc:
        reason = (
            naming.REASON_AUTH
            if "NOAUTH" in str(exc) or "NOPERM" in str(exc)
            else (naming.REASON_UNHEALTHY)
        )
        raise ProbeFailure(reason, f"error reply: {exc}") from None
    finally:
        await connection.disconnect(nowait=True)
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
