"""The demo platform's tables, created idempotently in their own schema, and the seed data."""

from __future__ import annotations

import hashlib
import re

import asyncpg

from obsstack.demo.catalogue import TENANTS, USERS_PER_TENANT, user_email, user_password

DEFAULT_SCHEMA = "obsstack_demo"
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_HASH_ITERATIONS = 2_000  # a demo: cheap on purpose

TABLES = """
CREATE TABLE IF NOT EXISTS tenants (
    id serial PRIMARY KEY,
    slug text UNIQUE NOT NULL,
    plan text NOT NULL CHECK (plan IN ('free', 'pro', 'enterprise')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY,
    tenant_id int NOT NULL REFERENCES tenants (id),
    email text UNIQUE NOT NULL,
    password_hash text NOT NULL,
    failed_logins int NOT NULL DEFAULT 0,
    locked_until timestamptz,
    last_seen_at timestamptz
);
CREATE INDEX IF NOT EXISTS users_last_seen_at ON users (last_seen_at);
CREATE TABLE IF NOT EXISTS ai_queries (
    id bigserial PRIMARY KEY,
    tenant_id int NOT NULL REFERENCES tenants (id),
    user_id int REFERENCES users (id),
    agent_type text NOT NULL,
    status text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    duration_ms int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ai_queries_agent_type ON ai_queries (agent_type, status);
CREATE TABLE IF NOT EXISTS code_reviews (
    id bigserial PRIMARY KEY,
    tenant_id int NOT NULL REFERENCES tenants (id),
    repository text NOT NULL,
    result text NOT NULL CHECK (result IN ('approved', 'changes_requested', 'failed')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS login_events (
    id bigserial PRIMARY KEY,
    user_id int REFERENCES users (id),
    outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'lockout')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS rate_limit_rejections (
    id bigserial PRIMARY KEY,
    tenant_id int NOT NULL REFERENCES tenants (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS backups (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    status text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS graph_sync (
    entity text PRIMARY KEY,
    graph_nodes bigint NOT NULL,
    synced_at timestamptz NOT NULL
);
"""


def hash_password(password: str, salt: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _HASH_ITERATIONS)
    return f"pbkdf2_sha256${_HASH_ITERATIONS}${salt}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    _, iterations, salt, digest = stored.split("$")
    given = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return given.hex() == digest


async def ensure_schema(connection: asyncpg.Connection, schema: str) -> None:
    """Create the schema, its tables and the seed rows if missing; safe to run concurrently."""
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"schema must match {SCHEMA_NAME.pattern} (got {schema!r})")
    async with connection.transaction():
        # Two processes starting at once must not race on CREATE ... IF NOT EXISTS.
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", schema)
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await connection.execute(f"SET LOCAL search_path = {schema}")
        await connection.execute(TABLES)
        await connection.executemany(
            "INSERT INTO tenants (slug, plan) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING",
            [(tenant.slug, tenant.plan) for tenant in TENANTS],
        )
        existing = {row["email"] for row in await connection.fetch("SELECT email FROM users")}
        users = [
            (tenant.slug, user_email(tenant.slug, n), user_password(tenant.slug, n))
            for tenant in TENANTS
            for n in range(1, USERS_PER_TENANT + 1)
        ]
        await connection.executemany(
            "INSERT INTO users (tenant_id, email, password_hash) "
            "SELECT id, $2, $3 FROM tenants WHERE slug = $1 ON CONFLICT (email) DO NOTHING",
            [
                (slug, email, hash_password(password, email))
                for slug, email, password in users
                if email not in existing
            ],
        )
