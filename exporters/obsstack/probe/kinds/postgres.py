"""PostgreSQL: connect, run ``SELECT 1`` (or the configured ``query``) under a server-side
statement_timeout, then read the role and the connections in use."""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from obsstack.core import naming
from obsstack.core.postgres_connection import Connection, connect_arguments, fields, read_connection
from obsstack.core.spec import Section
from obsstack.probe.model import ProbeFailure, Report

NAME = "postgres"

_STATE_QUERY = """
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
       current_setting('max_connections')::int AS max
"""


@dataclass(frozen=True)
class Settings(Connection):
    query: str = "SELECT 1"


def read_settings(section: Section) -> Settings:
    query = section.string("query", "SELECT 1")
    return Settings(**fields(read_connection(section)), query=query)


async def probe(settings: Settings, budget: float, report: Report) -> None:
    started = time.perf_counter()
    # The server cancels a stuck statement itself, a little before our own deadline, so a
    # blocked query never outlives the probe on the server (e.g. waiting on a lock).
    statement_timeout_ms = str(max(1, int(budget * 900)))
    try:
        connection = await asyncpg.connect(
            **connect_arguments(
                settings,
                application_name="obsstack-probe",
                timeout=budget,
                server_settings={"statement_timeout": statement_timeout_ms},
            )
        )
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise ProbeFailure(naming.REASON_AUTH, f"authentication failed: {exc}") from None
    except (
        asyncpg.CannotConnectNowError,
        asyncpg.TooManyConnectionsError,
        asyncpg.InvalidCatalogNameError,
    ) as exc:
        raise ProbeFailure(naming.REASON_UNHEALTHY, f"server refuses sessions: {exc}") from None
    except (ConnectionError, OSError) as exc:
        if isinstance(exc, TimeoutError):
            raise
        raise ProbeFailure(
            naming.REASON_REFUSED, f"cannot connect: {exc}", transient=True
        ) from None
    except asyncpg.PostgresError as exc:
        raise ProbeFailure(naming.REASON_PROTOCOL, f"{type(exc).__name__}: {exc}") from None
    connected = time.perf_counter()
    report.set(naming.DEPENDENCY_POSTGRES_CONNECT_DURATION, connected - started)
    try:
        await _query(connection, settings.query, report, connected, statement_timeout_ms)
    except BaseException:
        # A failed or cancelled probe must not leave its session behind: close the socket now.
        connection.terminate()
        raise
    await connection.close(timeout=budget)


async def _query(
    connection: asyncpg.Connection,
    query: str,
    report: Report,
    connected: float,
    statement_timeout_ms: str,
) -> None:
    try:
        await connection.fetch(query)
        report.set(naming.DEPENDENCY_POSTGRES_QUERY_DURATION, time.perf_counter() - connected)
        state = await connection.fetchrow(_STATE_QUERY)
    except asyncpg.QueryCanceledError:
        raise ProbeFailure(
            naming.REASON_TIMEOUT, f"query exceeded statement_timeout ({statement_timeout_ms} ms)"
        ) from None
    except asyncpg.PostgresError as exc:
        raise ProbeFailure(naming.REASON_UNHEALTHY, f"{type(exc).__name__}: {exc}") from None
    except (ConnectionError, asyncpg.InterfaceError) as exc:
        raise ProbeFailure(
            naming.REASON_PROTOCOL, f"connection lost: {exc}", transient=True
        ) from None
    report.set(naming.DEPENDENCY_POSTGRES_IN_RECOVERY, state["in_recovery"])
    report.set(naming.DEPENDENCY_POSTGRES_CONNECTIONS, state["used"])
    report.set(naming.DEPENDENCY_POSTGRES_MAX_CONNECTIONS, state["max"])
