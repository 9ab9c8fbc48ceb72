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


# Failure rates add up to about 0.45 % of AI queries: the shipped 99 % AI availability SLO is
# met by default, so a new stack pages nobody. PUT /internal/incident makes an agent burn it.
AGENTS = (
    Agent("code_assistant", 0.8, 0.004, 20),
    Agent("doc_search", 0.15, 0.001, 18),
    Agent("support_bot", 0.3, 0.002, 14),
    Agent("sql_agent", 0.6, 0.015, 10),  # the flaky one
    Agent("translator", 0.4, 0.002, 8),
    Agent("summarizer", 1.2, 0.004, 8),
    Agent("data_analyst", 1.0, 0.006, 7),
    Agent("test_writer", 1.5, 0.004, 6),
    Agent("security_scanner", 1.8, 0.008, 5),
    Agent("planner", 3.0, 0.006, 4),  # the slow one
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

# A failed review is a server error (500): rare enough for the 99.9 % API availability SLO.
REVIEW_RESULTS = (("approved", 60), ("changes_requested", 39.9), ("failed", 0.1))
MAX_FAILED_LOGINS = 5
LOCKOUT_SECONDS = 60


def user_email(tenant: str, number: int) -> str:
    return f"user{number}@{tenant}.example"


def user_password(tenant: str, number: int) -> str:
    """The demo users' passwords are derived, so the traffic generator can log in."""
    return f"demo-{tenant}-{number}"
