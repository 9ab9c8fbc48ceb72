"""The demo platform's fixed world: agents, tenants and users, shared by server and traffic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Agent:
    """An AI agent: the model API answers in about ``median`` seconds, fails at ``failure_rate``."""

    name: str
    median: float
    failure_rate: float
    weight: float  # share of the traffic


AGENTS = (
    Agent("code_assistant", 0.8, 0.02, 20),
    Agent("doc_search", 0.15, 0.005, 18),
    Agent("support_bot", 0.3, 0.01, 14),
    Agent("sql_agent", 0.6, 0.08, 10),  # the flaky one
    Agent("translator", 0.4, 0.01, 8),
    Agent("summarizer", 1.2, 0.02, 8),
    Agent("data_analyst", 1.0, 0.03, 7),
    Agent("test_writer", 1.5, 0.02, 6),
    Agent("security_scanner", 1.8, 0.04, 5),
    Agent("planner", 3.0, 0.03, 4),  # the slow one
)
AGENTS_BY_NAME = {agent.name: agent for agent in AGENTS}


@dataclass(frozen=True)
class Tenant:
    slug: str
    plan: str
    weight: float  # share of the traffic


# Requests per rate-limit window, by plan.
RATE_LIMITS = {"free": 20, "pro": 120, "enterprise": 600}
RATE_LIMIT_WINDOW_SECONDS = 10

TENANTS = (
    Tenant("acme", "enterprise", 30),
    Tenant("globex", "enterprise", 18),
    Tenant("initech", "pro", 12),
    Tenant("umbrella", "pro", 9),
    Tenant("hooli", "pro", 7),
    Tenant("stark", "pro", 6),
    Tenant("wayne", "free", 5),
    Tenant("wonka", "free", 4),
    Tenant("tyrell", "free", 3),
    Tenant("cyberdyne", "free", 3),
    Tenant("aperture", "free", 2),
    Tenant("soylent", "free", 1),
)
TENANTS_BY_SLUG = {tenant.slug: tenant for tenant in TENANTS}
USERS_PER_TENANT = 5
# The demo's tenant label cap: fewer than the tenants, so that ``other`` shows up.
TENANT_CAP = 8

REVIEW_RESULTS = (("approved", 60), ("changes_requested", 35), ("failed", 5))
MAX_FAILED_LOGINS = 5
LOCKOUT_SECONDS = 60


def user_email(tenant: str, number: int) -> str:
    return f"user{number}@{tenant}.example"


def user_password(tenant: str, number: int) -> str:
    """The demo users' passwords are derived, so the traffic generator can log in."""
    return f"demo-{tenant}-{number}"
