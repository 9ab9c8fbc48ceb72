"""How obsstack reaches a PostgreSQL server, for the probe exporter's ``postgres`` kind and the
KPI exporter's ``database``: the connection keys of a configuration file, and asyncpg's
arguments from them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from obsstack.core.spec import Section

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
CONNECTION_KEYS = ("host", "port", "database", "user", "password", "password_file")


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    database: str
    user: str
    password: str | None = field(default=None, repr=False)
    dsn: str | None = field(default=None, repr=False)
    sslmode: str | None = "prefer"  # None: the dsn's own sslmode (libpq default: prefer)


def read_connection(section: Section) -> Connection:
    """``dsn`` (a secret), or ``host``, ``port``, ``database``, ``user`` and ``password``;
    ``sslmode`` with either."""
    sslmode = section.string("sslmode", None, choices=SSL_MODES)
    # The dsn is hidden whole; cut short, only its passwords are secrets: its leading part
    # (postgresql://postgres@) is not, and the word "postgres" stays readable in every text.
    dsn = section.secret("dsn", fragments=False)
    if dsn is not None:
        # Without sslmode the dsn's own ?sslmode= applies: asyncpg reads it only when ssl=None.
        for key in CONNECTION_KEYS:
            if section.has(key):
                raise section.error(key, "set either dsn or the separate connection fields")
        for password in _dsn_passwords(dsn):
            section.secrets.add(password)  # the dsn is a secret; its password alone is one too
        return Connection("", 0, "", "", dsn=dsn, sslmode=sslmode)
    return Connection(
        host=section.string("host", "127.0.0.1"),
        port=section.integer("port", 5432, minimum=1),
        database=section.string("database", "postgres"),
        user=section.string("user", "postgres"),
        password=section.secret("password"),
        sslmode=sslmode or "prefer",
    )


def connect_arguments(
    connection: Connection,
    application_name: str,
    timeout: float,
    server_settings: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``asyncpg.connect`` and ``create_pool``: no statement cache (a
    probe or KPI session runs few statements, and a pooler may sit in between), the session
    named ``application_name`` in pg_stat_activity, connecting within ``timeout`` seconds."""
    return {
        "dsn": connection.dsn,
        "host": connection.host or None,
        "port": connection.port or None,
        "user": connection.user or None,
        "password": connection.password,
        "database": connection.database or None,
        "ssl": connection.sslmode,
        "timeout": timeout,
        "statement_cache_size": 0,
        "server_settings": {"application_name": application_name, **(server_settings or {})},
    }


def fields(connection: Connection) -> dict[str, Any]:
    """The connection's fields, for a dataclass that extends it."""
    return {f.name: getattr(connection, f.name) for f in dataclasses.fields(Connection)}


def _dsn_passwords(dsn: str) -> list[str]:
    """The passwords a libpq URI carries, decoded: ``user:password@`` and ``?password=``."""
    try:
        parts = urlsplit(dsn)
        passwords = [unquote(parts.password)] if parts.password else []
    except ValueError:  # a malformed dsn: asyncpg reports it, without the dsn
        return []
    return passwords + parse_qs(parts.query).get("password", [])
