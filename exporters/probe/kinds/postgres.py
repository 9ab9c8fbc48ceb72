"""PostgreSQL: connect, run ``SELECT 1`` (or the configured ``query``) under a server-side
statement_timeout, then read the role and the connections in use."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from exporters import naming
from exporters.probe.model import ProbeFailure, Report
from exporters.spec import Section

NAME = "postgres"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

_STATE_QUERY = """
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
       current_setting('max_connections')::int AS max
"""


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    database: str
    user: str
    password: str | None = field(default=None, repr=False)
    dsn: str | None = field(default=None, repr=False)
    sslmode: str | None = "prefer"  # None: the dsn's own sslmode (libpq default: prefer)
    query: str = "SELECT 1"


def read_settings(section: Section) -> Settings:
    query = section.string("query", "SELECT 1")
    sslmode = section.string("sslmode", None, choices=SSL_MODES)
    dsn = section.secret("dsn")
    if dsn is not None:
        # Without sslmode the dsn's own ?sslmode= applies: asyncpg reads it only when ssl=None.
        for key in ("host", "port", "database", "user", "password", "password_file"):
            if section.has(key):
                raise section.error(key, "set either dsn or the separate connection fields")
        for password in _dsn_passwords(dsn):
            section.secrets.add(password)  # the dsn is a secret; its password alone is one too
        return Settings("", 0, "", "", dsn=dsn, sslmode=sslmode, query=query)
    return Settings(
        host=section.string("host", "127.0.0.1"),
        port=section.integer("port", 5432, minimum=1),
        database=section.string("database", "postgres"),
        user=section.string("user", "postgres"),
        password=section.secret("password"),
        sslmode=sslmode or "prefer",
        query=query,
    )


def _dsn_passwords(dsn: str) -> list[str]:
    """The passwords a libpq URI carries, decoded: ``user:password@`` and ``?password=``."""
    try:
        parts = urlsplit(dsn)
        passwords = [unquote(parts.password)] if parts.password else []
    except ValueError:  # a malformed dsn: asyncpg reports it, without the dsn
        return []
    return passwords + parse_qs(parts.query).get("password", [])


async def probe(settings: Settings, budget: float, report: Report) -> None:
    started = time.perf_counter()
    # The server cancels a stuck statement itself, a little before our own deadline, so a
    # blocked query never outlives the probe on the server (e.g. waiting on a lock).
    statement_timeout_ms = str(max(1, int(budget * 900)))
    try:
        connection = await asyncpg.connect(
            dsn=settings.dsn,
            host=settings.host or None,
            port=settings.port or None,
            user=settings.user or None,
            password=settings.password,
            database=settings.database or None,
            ssl=settings.sslmode,
            timeout=budget,
            statement_cache_size=0,
            server_settings={
                "statement_timeout": statement_timeout_ms,
                "application_name": "obsstack-probe",
            },
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
