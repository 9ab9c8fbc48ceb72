"""Building KPI configurations for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest

from obsstack.kpis.config import Config, load_config
from obsstack.kpis.engine import KpiEngine
from obsstack.kpis.exposition import KpiCollector


def document(schema: str, kpis: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {
        "version": "obsstack/v1",
        "database": {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "test",
            "user": "postgres",
            "search_path": schema,
            # The tests own the schema they read: the shared database's superuser will do.
            "allow_privileged_role": True,
        },
        "kpis": kpis,
        **top,
    }


def kpi(name: str, sql: str, **fields: Any) -> dict[str, Any]:
    """A gauge KPI ``test_<name>`` reading ``sql``."""
    return {"name": name, "metric": f"test_{name}", "type": "gauge", "help": "Test KPI.",
            "sql": sql, **fields}  # fmt: skip


class Clock:
    """A wall clock that moves only when a test sets ``now``."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def write(directory: Path, data: dict[str, Any], name: str = "kpis.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def config(directory: Path, schema: str, kpis: list[dict[str, Any]], **top: Any) -> Config:
    return load_config(write(directory, document(schema, kpis, **top)))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll ``check`` without blocking the event loop; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def exposition(engine: KpiEngine) -> str:
    """What the exporter's /metrics renders from the engine's cache."""
    registry = CollectorRegistry()
    registry.register(KpiCollector(engine))
    return generate_latest(registry).decode()
