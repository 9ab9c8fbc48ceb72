"""The database role the shipped KPIs run as: ``reader_role.sql``, applied idempotently."""

from __future__ import annotations

from importlib import resources

import asyncpg

ROLE = "obsstack_kpi_reader"
SCHEMA = "obsstack_demo"  # the demo platform's schema, which platform.yaml reads
PASSWORD_SETTING = "obsstack.kpi_reader_password"


def sql() -> str:
    """The SQL that creates the role and grants it SELECT on the shipped KPIs' tables."""
    return resources.files("obsstack.kpis").joinpath("reader_role.sql").read_text()


async def apply(dsn: str, password: str | None = None, timeout: float = 10.0) -> None:
    """Create the role (or keep it) in the database of ``dsn`` and grant it what it reads.

    ``dsn`` names the schema's owner or a superuser; the schema must exist. The password goes
    to the server as a bound parameter, never inside a statement's text.
    """
    connection = await asyncpg.connect(dsn, timeout=timeout)
    try:
        if password:
            await connection.execute("SELECT set_config($1, $2, false)", PASSWORD_SETTING, password)
        await connection.execute(sql())
    finally:
        await connection.close()
