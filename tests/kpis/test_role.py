"""The KPI exporter's database role. A read-only transaction is no sandbox for a privileged role:
the shipped reader role can only read, and the exporter refuses any role that may do more (exit
2 with one line at start, a failed run on any later connection) unless the configuration says
``allow_privileged_role: true``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from obsstack.kpis import reader_role
from obsstack.kpis.config import load_config
from obsstack.kpis.engine import KpiEngine
from obsstack.kpis.privileges import PrivilegedRole
from tests.kpis.conftest import ReaderCluster
from tests.kpis.helpers import write
from tests.support.processes import OBSSTACK, Process, free_port, http_ok, running, wait_until

ROOT = Path(__file__).resolve().parents[2]
ADVICE = (
    "connect as a role that may only read (see exporters/obsstack/kpis/reader_role.sql), "
    "or set database.allow_privileged_role: true"
)
SUPERUSER = (
    'database role "postgres" is a superuser (may write any table, run programs on the '
    f"server, read and write its files, end other sessions): {ADVICE}"
)


def document(database: dict[str, Any], sql: str = "SELECT count(*) AS value FROM tenants"):
    return {
        "version": "obsstack/v1",
        "database": database,
        "kpis": [
            {"name": "tenants", "metric": "test_tenants", "type": "gauge", "help": "Tenants.",
             "sql": sql, "interval": "1s", "timeout": "500ms"},
        ],
    }  # fmt: skip


@pytest.fixture
async def superuser(reader_cluster: ReaderCluster) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(reader_cluster.dsn())
    yield connection
    await connection.close()


@pytest.fixture
async def make_role(superuser) -> AsyncIterator[Any]:
    """A new login role that may read the tenants table, plus the grants a test asks for."""
    made: list[str] = []

    async def make(*grants: str) -> str:
        name = f"kpi_test_{uuid.uuid4().hex[:8]}"
        made.append(name)
        await superuser.execute(f"""
            CREATE ROLE {name} LOGIN PASSWORD 'pw';
            GRANT USAGE ON SCHEMA obsstack_demo TO {name};
            GRANT SELECT ON obsstack_demo.tenants TO {name};
        """)  # fmt: skip
        for grant in grants:
            await superuser.execute(grant.format(role=name))
        return name

    yield make
    for name in made:
        await superuser.execute(f"DROP OWNED BY {name}; DROP ROLE {name}")


async def test_the_reader_role_may_read_and_nothing_else(reader_cluster, superuser):
    reader = await asyncpg.connect(
        reader_cluster.dsn(reader_role.ROLE, reader_cluster.reader_password),
        server_settings={"search_path": reader_role.SCHEMA},
    )
    try:
        assert await reader.fetchval("SELECT count(*) FROM tenants") == 12
        victim = await superuser.fetchval("SELECT pg_backend_pid()")
        for statement in (
            "INSERT INTO tenants (slug, plan) VALUES ('evil', 'free')",
            "UPDATE users SET failed_logins = 0",
            "TRUNCATE backups",
            "CREATE TABLE planted (n int)",
            "CREATE SCHEMA planted",
            "COPY (SELECT 1) TO PROGRAM 'true'",
            "SELECT pg_read_file('/etc/hostname')",
            f"SELECT pg_terminate_backend({victim})",
            "SELECT * FROM pg_catalog.pg_authid",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.execute(statement)
        assert await superuser.fetchval("SELECT 1") == 1  # not terminated
    finally:
        await reader.close()


async def test_reader_role_sql_is_idempotent_and_sets_the_password(reader_cluster):
    cluster: ReaderCluster = reader_cluster
    await reader_role.apply(cluster.dsn())  # without a password: the password is kept
    await reader_role.apply(cluster.dsn(), "changed")
    connection = await asyncpg.connect(cluster.dsn(reader_role.ROLE, "changed"))
    await connection.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(cluster.dsn(reader_role.ROLE, cluster.reader_password))
    await reader_role.apply(cluster.dsn(), cluster.reader_password)
    connection = await asyncpg.connect(cluster.dsn(reader_role.ROLE, cluster.reader_password))
    await connection.close()


def run_kpis(config: Path, *args: str) -> Process:
    return Process(
        [*OBSSTACK, "kpis", "--config", str(config), *args],
        config.with_name("kpis.log"),
        cwd=ROOT,
    )


def test_the_exporter_refuses_to_start_as_a_superuser(tmp_path, reader_cluster):
    path = write(tmp_path, document(reader_cluster.database("postgres", reader_cluster.password)))
    process = run_kpis(path, "--listen", f"127.0.0.1:{free_port()}")
    assert process.popen.wait(30) == 2
    process.stop()
    assert process.output() == f"obsstack kpis: {path}: database.user: {SUPERUSER}\n"


def test_allow_privileged_role_starts_as_a_superuser_with_a_warning(tmp_path, reader_cluster):
    database = reader_cluster.database("postgres", reader_cluster.password)
    path = write(tmp_path, document({**database, "allow_privileged_role": True}))
    port = free_port()
    with running(run_kpis(path, "--listen", f"127.0.0.1:{port}")) as process:
        wait_until(http_ok(f"http://127.0.0.1:{port}/ready"), 30, "a good run")
    assert "running as a privileged database role" in process.output()
    assert reader_cluster.password not in process.output()


@pytest.mark.parametrize(
    ("grant", "found"),
    [
        (
            "GRANT INSERT, DELETE ON obsstack_demo.users TO {role}",
            "may write obsstack_demo.users (INSERT, DELETE)",
        ),
        (
            "GRANT UPDATE (failed_logins) ON obsstack_demo.users TO {role}",
            "may write obsstack_demo.users (UPDATE)",
        ),
        (
            "GRANT TRUNCATE ON ALL TABLES IN SCHEMA obsstack_demo TO {role}",
            "may write obsstack_demo.ai_queries (TRUNCATE); obsstack_demo.backups (TRUNCATE); "
            "obsstack_demo.code_reviews (TRUNCATE) and 5 more tables",
        ),
        ("GRANT CREATE ON SCHEMA obsstack_demo TO {role}", "may CREATE in schema obsstack_demo"),
        ("GRANT CREATE ON DATABASE postgres TO {role}", "may CREATE schemas in the database"),
        (
            "GRANT pg_execute_server_program TO {role}",
            "is a member of pg_execute_server_program (may run programs on the server)",
        ),
        (
            "GRANT pg_write_server_files TO {role}",
            "is a member of pg_write_server_files (may write the server's files)",
        ),
        (
            "GRANT pg_signal_backend TO {role}",
            "is a member of pg_signal_backend (may end other sessions)",
        ),
        ("ALTER ROLE {role} CREATEROLE", "may create roles (and grant itself the predefined ones)"),
        ("GRANT postgres TO {role}", "is a superuser (may write any table, run programs on the "
         "server, read and write its files, end other sessions) (through role postgres)"),
    ],
    ids=lambda value: value.split(" ")[1].lower() if value.startswith(("GRANT", "ALTER")) else "",
)  # fmt: skip
async def test_a_role_that_may_do_more_than_read_is_refused(
    tmp_path, reader_cluster, make_role, grant, found
):
    role = await make_role(grant)
    config = load_config(write(tmp_path, document(reader_cluster.database(role, "pw"))))
    with pytest.raises(PrivilegedRole) as refused:
        await KpiEngine(config).check_role()
    assert str(refused.value) == f'database role "{role}" {found}: {ADVICE}'


async def test_a_superuser_query_never_runs(tmp_path, reader_cluster, superuser):
    """Started without the start-up check (as when the database was down then), the engine
    still checks every connection before its first query: the victim session survives."""
    victim = await superuser.fetchval("SELECT pg_backend_pid()")
    database = reader_cluster.database("postgres", reader_cluster.password)
    sql = f"SELECT pg_terminate_backend({victim})::int AS value"
    engine = KpiEngine(load_config(write(tmp_path, document(database, sql))))
    await engine.start(schedule=False)
    try:
        await engine.run(engine.states["tenants"])
    finally:
        await engine.stop()
    assert engine.states["tenants"].last_error == SUPERUSER
    assert await superuser.fetchval("SELECT pg_backend_pid()") == victim


async def test_privileges_granted_after_start_are_refused_on_the_next_connection(
    tmp_path, reader_cluster, make_role, superuser
):
    role = await make_role()
    engine = KpiEngine(load_config(write(tmp_path, document(reader_cluster.database(role, "pw")))))
    assert await engine.check_role() == []
    await engine.start(schedule=False)
    try:
        await engine.run(engine.states["tenants"])
        assert engine.states["tenants"].success
        await superuser.execute(f"GRANT DELETE ON obsstack_demo.tenants TO {role}")
        assert engine.pool is not None
        await engine.pool.expire_connections()
        await engine.run(engine.states["tenants"])
    finally:
        await engine.stop()
    assert engine.states["tenants"].last_error == (
        f'database role "{role}" may write obsstack_demo.tenants (DELETE): {ADVICE}'
    )


def test_a_database_down_at_start_does_not_stop_the_exporter(tmp_path, reader_cluster):
    database = {**reader_cluster.database("postgres", "x"), "port": free_port()}
    path = write(tmp_path, document(database))
    port = free_port()
    with running(run_kpis(path, "--listen", f"127.0.0.1:{port}")) as process:
        wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 30, "the exporter to serve")
        assert httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 503
    assert "cannot check the database role now" in process.output()


def test_the_reader_logs_in_with_a_password_from_a_file(tmp_path, reader_cluster):
    """As the compose bundle runs it: the password the tokens service generated, by file."""
    database = reader_cluster.database(reader_role.ROLE, "unused")
    del database["password"]
    path = write(tmp_path, document(database))
    (tmp_path / "kpi_db_password").write_text(reader_cluster.reader_password)
    port = free_port()
    with running(
        run_kpis(
            path,
            "--listen",
            f"127.0.0.1:{port}",
            "--database-password-file",
            str(tmp_path / "kpi_db_password"),
        )
    ) as process:
        wait_until(http_ok(f"http://127.0.0.1:{port}/ready"), 30, "a good run")
    assert reader_cluster.reader_password not in process.output()
