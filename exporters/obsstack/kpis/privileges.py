"""What the KPI exporter's database role may do beyond reading, found before any query runs.

A read-only transaction is no sandbox for a privileged role: a superuser can still run
``COPY ... TO PROGRAM``, write through ``dblink_exec`` and end other sessions, and a role that
may write tables or is a member of ``pg_execute_server_program`` can do part of that. The
exporter asks the server what its role may do on every new connection and refuses to run
queries as such a role unless the configuration allows it (``database.allow_privileged_role``).
"""

from __future__ import annotations

from typing import Any

READER_ROLE_SQL = "exporters/obsstack/kpis/reader_role.sql"
# Role attributes that reach past reading, and what each lets the role do.
ATTRIBUTES = {
    "rolsuper": "is a superuser (may write any table, run programs on the server, read and "
    "write its files, end other sessions)",
    "rolcreaterole": "may create roles (and grant itself the predefined ones)",
    "rolcreatedb": "may create databases",
    "rolreplication": "may stream replication",
    "rolbypassrls": "bypasses row-level security",
}
# Predefined roles that reach past reading (membership lets a role SET ROLE to them).
PREDEFINED = {
    "pg_execute_server_program": "run programs on the server",
    "pg_write_server_files": "write the server's files",
    "pg_read_server_files": "read the server's files",
    "pg_signal_backend": "end other sessions",
    "pg_write_all_data": "write every table",
    "pg_checkpoint": "force checkpoints",
    "pg_create_subscription": "create subscriptions",
}
WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
_SHOWN_TABLES = 3

# Every role the session may act as (itself, and the roles it may SET ROLE to).
_MEMBER_OF = "SELECT * FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER')"
# The session's own role first: a superuser is a member of every role.
_ATTRIBUTES_QUERY = (
    f"SELECT rolname, {', '.join(ATTRIBUTES)} FROM ({_MEMBER_OF}) AS r "
    "ORDER BY rolname <> current_user, rolname"
)
_WRITABLE_TABLES = f"""
SELECT relation, array_agg(privilege ORDER BY position) AS privileges
FROM (
    SELECT DISTINCT format('%I.%I', n.nspname, c.relname) AS relation, p.privilege, p.position
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    CROSS JOIN ({_MEMBER_OF}) AS r
    CROSS JOIN unnest($1::text[]) WITH ORDINALITY AS p(privilege, position)
    WHERE c.relkind IN ('r', 'p', 'v', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_(toast|temp_)'
      AND has_schema_privilege(r.oid, n.oid, 'USAGE')
      AND (has_table_privilege(r.oid, c.oid, p.privilege)
           OR (p.privilege IN ('INSERT', 'UPDATE')
               AND has_any_column_privilege(r.oid, c.oid, p.privilege)))
) AS writable
GROUP BY relation
ORDER BY relation
"""
_CREATE_IN_SCHEMAS = f"""
SELECT DISTINCT n.nspname
FROM pg_namespace AS n CROSS JOIN ({_MEMBER_OF}) AS r
WHERE n.nspname !~ '^pg_(toast|temp_)' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND has_schema_privilege(r.oid, n.oid, 'CREATE')
ORDER BY 1
"""
_CREATE_IN_DATABASE = (
    f"SELECT bool_or(has_database_privilege(r.oid, current_database(), 'CREATE')) "
    f"FROM ({_MEMBER_OF}) AS r"
)
_PREDEFINED_MEMBERSHIP = (
    "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) "
    "AND pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname"
)


class PrivilegedRole(Exception):
    """The exporter's role may do more than read; the message names it and what it may do."""


async def privileges(connection: Any) -> tuple[str, list[str]]:
    """(role name, what the role may do beyond reading); an empty list for a reader."""
    role = str(await connection.fetchval("SELECT current_user"))
    found: list[str] = []
    for row in await connection.fetch(_ATTRIBUTES_QUERY):
        via = "" if row["rolname"] == role else f" (through role {row['rolname']})"
        if row["rolsuper"]:  # says it all; the rest would list everything
            return role, [ATTRIBUTES["rolsuper"] + via]
        found += [f"{text}{via}" for attribute, text in ATTRIBUTES.items() if row[attribute]]
    for name in await connection.fetch(_PREDEFINED_MEMBERSHIP, list(PREDEFINED)):
        found.append(f"is a member of {name['rolname']} (may {PREDEFINED[name['rolname']]})")
    if await connection.fetchval(_CREATE_IN_DATABASE):
        found.append("may CREATE schemas in the database")
    schemas = [row["nspname"] for row in await connection.fetch(_CREATE_IN_SCHEMAS)]
    if schemas:
        found.append(f"may CREATE in schema {', '.join(schemas)}")
    tables = await connection.fetch(_WRITABLE_TABLES, list(WRITES))
    if tables:
        shown = "; ".join(
            f"{row['relation']} ({', '.join(row['privileges'])})" for row in tables[:_SHOWN_TABLES]
        )
        more = len(tables) - _SHOWN_TABLES
        found.append(f"may write {shown}" + (f" and {more} more tables" if more > 0 else ""))
    return role, found


def refusal(role: str, found: list[str]) -> str:
    """The one-line reason the exporter refuses to run as ``role``."""
    return (
        f'database role "{role}" {"; ".join(found)}: connect as a role that may only read '
        f"(see {READER_ROLE_SQL}), or set database.allow_privileged_role: true"
    )


async def check(connection: Any, allowed: bool) -> list[str]:
    """Raise PrivilegedRole unless the role only reads or ``allowed``; returns the findings."""
    role, found = await privileges(connection)
    if found and not allowed:
        raise PrivilegedRole(refusal(role, found))
    return found
