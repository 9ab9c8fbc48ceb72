"""PostgreSQL: run ``SELECT 1`` (or the configured ``query``) under a server-side
statement_timeout, then read the role and the connections in use.

The session is kept open between probes, like a client's pool, so a probe costs the server two
queries rather than a new backend. It never hides a failing server: every probe runs its
queries on it; on any error it is closed; a kept session the server has closed (terminated,
restarted, timed out) is replaced by a fresh connect within the same probe; and after
``connection_lifetime`` a fresh connect proves the login path (network, TLS, authentication,
free connection slots) again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from obsstack.core import naming
from obsstack.core.postgres_connection import Connection, connect_arguments, fields, read_connection
from obsstack.core.spec import Section
from obsstack.probe.model import Kept, ProbeFailure, Report, read_lifetime

NAME = "postgres"

_STATE_QUERY = """
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
       current_setting('max_connections')::int AS max
"""

# The server ended the session (not the query): a kept session is replaced, not failed for.
_SESSION_ENDED = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.IdleSessionTimeoutError,
    ConnectionError,
)


@dataclass(frozen=True)
class Settings(Connection):
    query: str = "SELECT 1"
    connection_lifetime: float | None = 60.0  # None: a new session for every probe


def read_settings(section: Section) -> Settings:
    query = section.string("query", "SELECT 1")
    return Settings(
        **fields(read_connection(section)),
        query=query,
        connection_lifetime=read_lifetime(section),
    )


class _SessionEnded(Exception):
    """The session broke under a query: lost, terminated or shut down by the server."""


async def probe(settings: Settings, budget: float, report: Report, kept: Kept) -> None:
    connection = kept.take(settings.connection_lifetime)
    if connection is not None and not connection.is_closed():
        try:
            await _queries(connection, settings.query, report)
        except Exception as exc:
            # The server ended the session (pg_terminate_backend, a restart, an idle timeout;
            # the driver may say so in several ways): connect afresh below. Anything else is
            # this probe's failure.
            ended = isinstance(exc, _SessionEnded) or connection.is_closed()
            kept.drop()
            if not ended:
                raise
        except BaseException:
            kept.drop()
            raise
        else:
            report.set(naming.DEPENDENCY_POSTGRES_CONNECT_DURATION, kept.connect_duration)
            return
    kept.drop()
    started = time.perf_counter()
    connection = await _connect(settings, budget)
    took = time.perf_counter() - started
    report.set(naming.DEPENDENCY_POSTGRES_CONNECT_DURATION, took)
    try:
        await _queries(connection, settings.query, report)
    except _SessionEnded as exc:
        connection.terminate()
        raise ProbeFailure(
            naming.REASON_PROTOCOL, f"connection lost: {exc}", transient=True
        ) from None
    except BaseException:
        # A failed or cancelled probe must not leave its session behind: close the socket now.
        connection.terminate()
        raise
    if settings.connection_lifetime is None:
        await connection.close(timeout=budget)
    else:
        kept.hold(connection, _terminate, took)


def _terminate(connection: asyncpg.Connection) -> None:
    connection.terminate()


async def _connect(settings: Settings, budget: float) -> asyncpg.Connection:
    # The server cancels a stuck statement itself, a little before our own deadline, so a
    # blocked query never outlives the probe on the server (e.g. waiting on a lock). A kept
    # session keeps this setting: later probes have the same budget (their first attempt).
    statement_timeout_ms = str(max(1, int(budget * 900)))
    try:
        return await asyncpg.connect(
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


async def _queries(connection: asyncpg.Connection, query: str, report: Report) -> None:
    started = time.perf_counter()
    try:
        await connection.fetch(query)
        report.set(naming.DEPENDENCY_POSTGRES_QUERY_DURATION, time.perf_counter() - started)
        state = await connection.fetchrow(_STATE_QUERY)
    except _SESSION_ENDED as exc:
        raise _SessionEnded(f"{type(exc).__name__}: {exc}") from None
    except asyncpg.QueryCanceledError:
        raise ProbeFailure(
            naming.REASON_TIMEOUT, "query exceeded statement_timeout (90 % of the probe timeout)"
        ) from None
    except asyncpg.PostgresError as exc:
        raise ProbeFailure(naming.REASON_UNHEALTHY, f"{type(exc).__name__}: {exc}") from None
    report.set(naming.DEPENDENCY_POSTGRES_IN_RECOVERY, state["in_recovery"])
    report.set(naming.DEPENDENCY_POSTGRES_CONNECTIONS, state["used"])
    report.set(naming.DEPENDENCY_POSTGRES_MAX_CONNECTIONS, state["max"])
