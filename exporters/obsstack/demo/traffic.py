"""A traffic generator for the demo platform: a steady, realistic mix of requests.

Requests arrive as a Poisson process at ``rate`` per second (an open loop: slow answers do
not slow the arrivals): AI queries across the agents and tenants (a few tenants make most of
the traffic), code reviews, logins with some wrong passwords and one account under a password
guessing attack (lockouts), usage reads, vulnerability scanners probing unknown paths, and now
and then a burst from a free-plan tenant that trips the rate limiter.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from obsstack.demo.catalogue import (
    AGENTS,
    TENANTS,
    USERS_PER_TENANT,
    user_email,
    user_password,
)
from obsstack.demo.settings import IDLE_CONNECTION_SECONDS

log = logging.getLogger("obsstack.demo.traffic")
SCANNER_PATHS = (
    "/wp-login.php", "/.env", "/admin/config.php", "/phpmyadmin/index.php", "/.git/config",
    "/api/v1/../../etc/passwd", "/actuator/health", "/cgi-bin/luci", "/v2/_catalog",
)  # fmt: skip
ATTACKED_ACCOUNT = ("wonka", 1)
PROMPTS = (
    "Refactor this function to remove the duplicated branches",
    "Which customers churned last quarter?",
    "Summarise the incident report of last night",
    "Translate the release notes into German",
    "Write unit tests for the invoice module",
)


@dataclass(frozen=True)
class TrafficSettings:
    target: str
    rate: float = 8.0  # requests per second, on average
    duration: float | None = None  # seconds; None = until interrupted
    requests: int | None = None  # stop after this many requests
    concurrency: int = 64  # most requests in flight; arrivals beyond it are skipped
    burst_every: float = 45.0  # seconds between rate-limit bursts, on average
    seed: int | None = None
    report_every: float = 10.0


Action = Callable[[httpx.AsyncClient], Coroutine[Any, Any, httpx.Response]]


class Traffic:
    """Picks requests and sends them; counts the answers by status code."""

    def __init__(self, settings: TrafficSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.statuses: Counter[str] = Counter()
        self.sent = 0
        self.skipped = 0

    def _tenant(self) -> str:
        return self.rng.choices([t.slug for t in TENANTS], [t.weight for t in TENANTS])[0]

    def _user(self, tenant: str) -> str:
        return user_email(tenant, self.rng.randint(1, USERS_PER_TENANT))

    def ai_query(self, tenant: str | None = None) -> Action:
        tenant = tenant or self._tenant()
        agent = self.rng.choices([a.name for a in AGENTS], [a.weight for a in AGENTS])[0]
        headers = {"x-tenant-id": tenant, "x-user": self._user(tenant)}
        body = {"prompt": self.rng.choice(PROMPTS)}
        return lambda c: c.post(f"/v1/agents/{agent}/query", json=body, headers=headers)

    def review(self) -> Action:
        tenant = self._tenant()
        headers = {"x-tenant-id": tenant, "x-user": self._user(tenant)}
        body = {"repository": f"{tenant}/service-{self.rng.randint(1, 8)}",
                "files": self.rng.randint(1, 60)}  # fmt: skip
        return lambda c: c.post("/v1/reviews", json=body, headers=headers)

    def login(self) -> Action:
        roll = self.rng.random()
        if roll < 0.06:
            tenant, number = ATTACKED_ACCOUNT
            password = f"guess-{self.rng.randint(0, 10**6)}"
        else:
            tenant, number = self._tenant(), self.rng.randint(1, USERS_PER_TENANT)
            password = user_password(tenant, number)
            if roll > 0.9:
                password += "-typo"
        body = {"email": user_email(tenant, number), "password": password}
        return lambda c: c.post("/v1/auth/login", json=body)

    def usage(self) -> Action:
        tenant = self._tenant()
        return lambda c: c.get(f"/v1/tenants/{tenant}/usage")

    def scanner(self) -> Action:
        path = self.rng.choice(SCANNER_PATHS)
        if self.rng.random() < 0.5:
            path += f"?id={self.rng.randint(1, 10**6)}"
        return lambda c: c.get(path)

    def pick(self) -> Action:
        choice = self.rng.choices(
            ("ai", "review", "login", "usage", "scanner"), (55, 12, 15, 8, 5)
        )[0]
        makers: dict[str, Callable[[], Action]] = {
            "ai": self.ai_query,
            "review": self.review,
            "login": self.login,
            "usage": self.usage,
            "scanner": self.scanner,
        }
        return makers[choice]()

    def burst(self) -> list[Action]:
        """A free-plan tenant sends more than its window allows: the rate limiter answers 429."""
        tenant = self.rng.choice([t.slug for t in TENANTS if t.plan == "free"])
        return [self.ai_query(tenant) for _ in range(30)]

    async def _send(self, client: httpx.AsyncClient, action: Action) -> None:
        try:
            response = await action(client)
            self.statuses[str(response.status_code)] += 1
        except httpx.HTTPError as exc:
            self.statuses[type(exc).__name__] += 1

    async def run(self) -> Counter[str]:
        """Send requests until the duration or the request count is reached."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + settings.duration if settings.duration else None
        next_report = started + settings.report_every
        next_burst = started + self.rng.expovariate(1 / settings.burst_every)
        in_flight: set[asyncio.Task[None]] = set()
        async with http_client(settings) as client:
            arrival = started
            while (deadline is None or loop.time() < deadline) and (
                settings.requests is None or self.sent < settings.requests
            ):
                actions = [self.pick()]
                if loop.time() >= next_burst:
                    actions += self.burst()
                    next_burst = loop.time() + self.rng.expovariate(1 / settings.burst_every)
                for action in actions:
                    if settings.requests is not None and self.sent >= settings.requests:
                        break
                    if len(in_flight) >= settings.concurrency:
                        self.skipped += 1
                        continue
                    task = asyncio.create_task(self._send(client, action))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    self.sent += 1
                if loop.time() >= next_report:
                    self.report(loop.time() - started)
                    next_report += settings.report_every
                arrival += self.rng.expovariate(settings.rate)
                await asyncio.sleep(max(0.0, arrival - loop.time()))
            if in_flight:
                await asyncio.wait(in_flight)
        self.report(loop.time() - started)
        return self.statuses

    def report(self, elapsed: float) -> None:
        log.info(
            "traffic",
            extra={
                "elapsed_seconds": round(elapsed, 1),
                "sent": self.sent,
                "skipped": self.skipped,
                "statuses": dict(sorted(self.statuses.items())),
            },
        )


def http_client(settings: TrafficSettings) -> httpx.AsyncClient:
    """The generator's client: up to ``concurrency`` connections, none reused once idle for
    IDLE_CONNECTION_SECONDS."""
    limits = httpx.Limits(
        max_connections=settings.concurrency, keepalive_expiry=IDLE_CONNECTION_SECONDS
    )
    return httpx.AsyncClient(base_url=settings.target, timeout=30.0, limits=limits)


def run_traffic(settings: TrafficSettings) -> Counter[str]:
    """Run the generator to completion (or Ctrl-C); the answers counted by status."""
    traffic = Traffic(settings)
    started = time.monotonic()
    try:
        return asyncio.run(traffic.run())
    finally:
        log.debug("traffic stopped", extra={"seconds": round(time.monotonic() - started, 1)})
