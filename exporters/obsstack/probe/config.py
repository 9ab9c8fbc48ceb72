"""The exporter's configuration file: server settings, defaults and the dependencies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obsstack.core.server_config import Auth, read_server
from obsstack.core.spec import ConfigError, Secrets, Section, open_document
from obsstack.probe.kinds import NAMES, kind

VERSION = "obsstack/v1"
DEFAULT_LISTEN = "127.0.0.1:9410"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# Upper bounds, checked when the file is read (documented in exporters/CONFIGURATION.md).
MAX_ATTEMPTS = 10
MAX_FAILURE_THRESHOLD = 1000
MAX_TIMEOUT = 300.0  # a probe's timeout and the scrape budget
MAX_BACKOFF = 60.0
MAX_COOLDOWN = 86400.0
MAX_STALE_AFTER = 86400.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 2
    initial_backoff: float = 0.1
    max_backoff: float = 1.0


@dataclass(frozen=True)
class CircuitPolicy:
    failure_threshold: int = 3
    cooldown: float | None = None  # least time between trials while open; None: every scrape


@dataclass(frozen=True)
class Dependency:
    name: str
    kind: str
    critical: bool
    timeout: float
    retry: RetryPolicy
    circuit: CircuitPolicy
    settings: Any
    description: str = ""


@dataclass(frozen=True)
class Config:
    file: str
    listen: str
    scrape_budget: float
    stale_after: float
    log_level: str
    log_levels: dict[str, str]
    auth: Auth | None
    dependencies: tuple[Dependency, ...]
    secrets: Secrets

    def dependency(self, name: str) -> Dependency | None:
        return next((d for d in self.dependencies if d.name == name), None)


def _retry(section: Section, base: RetryPolicy) -> RetryPolicy:
    retries = section.section("retries", optional=True)
    policy = RetryPolicy(
        attempts=retries.integer("attempts", base.attempts, minimum=1, maximum=MAX_ATTEMPTS),
        initial_backoff=retries.duration(
            "initial_backoff", base.initial_backoff, maximum=MAX_BACKOFF
        ),
        max_backoff=retries.duration("max_backoff", base.max_backoff, maximum=MAX_BACKOFF),
    )
    retries.close()
    return policy


def _circuit(section: Section, base: CircuitPolicy) -> CircuitPolicy:
    breaker = section.section("circuit_breaker", optional=True)
    policy = CircuitPolicy(
        failure_threshold=breaker.integer(
            "failure_threshold", base.failure_threshold, minimum=1, maximum=MAX_FAILURE_THRESHOLD
        ),
        cooldown=breaker.duration("cooldown", base.cooldown, maximum=MAX_COOLDOWN),
    )
    breaker.close()
    return policy


def _dependency(
    item: Section, timeout: float, retry: RetryPolicy, circuit: CircuitPolicy
) -> Dependency:
    name = item.string("name")
    if not _NAME.match(name):
        raise item.error("name", f"must match {_NAME.pattern} (got {name!r})")
    kind_name = item.string("kind", choices=NAMES)
    dependency = Dependency(
        name=name,
        kind=kind_name,
        critical=item.boolean("critical", False),
        timeout=item.duration("timeout", timeout, maximum=MAX_TIMEOUT),
        retry=_retry(item, retry),
        circuit=_circuit(item, circuit),
        description=item.string("description", ""),
        settings=kind(kind_name).read_settings(item),
    )
    item.close()
    return dependency


def read_config(document: Section) -> Config:
    """Map a parsed configuration document to a validated Config."""
    version = document.string("version", VERSION)
    if version != VERSION:
        raise document.error("version", f"must be {VERSION} (got {version!r})")
    server = document.section("server", optional=True)
    settings = read_server(server, DEFAULT_LISTEN)
    scrape_budget = server.duration("scrape_budget", 10.0, maximum=MAX_TIMEOUT)
    stale_after = server.duration("stale_after", 60.0, maximum=MAX_STALE_AFTER)
    server.close()

    defaults = document.section("defaults", optional=True)
    timeout = defaults.duration("timeout", 3.0, maximum=MAX_TIMEOUT)
    retry = _retry(defaults, RetryPolicy())
    circuit = _circuit(defaults, CircuitPolicy())
    defaults.close()

    dependencies = document.each(
        "dependencies", lambda item: _dependency(item, timeout, retry, circuit)
    )
    if not dependencies:
        raise document.error("dependencies", "must list at least one dependency")
    seen: dict[str, int] = {}
    for index, dependency in enumerate(dependencies):
        if dependency.name in seen:
            raise document.error(
                f"dependencies[{index}].name",
                f"duplicate name {dependency.name!r} (also dependencies[{seen[dependency.name]}])",
            )
        seen[dependency.name] = index
    document.close()
    return Config(
        file=document.file,
        listen=settings.listen,
        scrape_budget=scrape_budget,
        stale_after=stale_after,
        log_level=settings.log_level,
        log_levels=settings.log_levels,
        auth=settings.auth,
        dependencies=tuple(dependencies),
        secrets=document.secrets,
    )


def load_config(path: Path | str, env: dict[str, str] | None = None) -> Config:
    """Load and validate an exporter configuration file; raises ConfigError."""
    return read_config(open_document(path, env=env))


__all__ = ["Config", "ConfigError", "Dependency", "load_config"]
