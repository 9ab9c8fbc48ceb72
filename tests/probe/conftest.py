"""Fixtures for the probe exporter: configs written to temp files, the app served in-process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from obsstack.probe.config import Config, load_config
from obsstack.probe.server import create_app

PG = {"kind": "postgres", "host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres"}
REDIS = {"kind": "redis", "host": "127.0.0.1", "port": 6379}


def write_config(directory: Path, dependencies: list[dict[str, Any]], **top: Any) -> Path:
    path = directory / "exporter.yaml"
    path.write_text(yaml.safe_dump({**top, "dependencies": dependencies}, sort_keys=False))
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """``make_config([deps...], server={...}, defaults={...}, env={...})`` -> loaded Config."""

    def make(
        dependencies: list[dict[str, Any]], env: dict[str, str] | None = None, **top: Any
    ) -> Config:
        return load_config(write_config(tmp_path, dependencies, **top), env=env or {})

    return make


class Exporter:
    """The exporter app behind an in-process HTTP client."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = create_app(config)
        self.prober = self.app.state.prober
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://exporter"
        )

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)

    async def metrics(self, **kwargs: Any) -> str:
        response = await self.get("/metrics", **kwargs)
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture
async def exporter_for() -> AsyncIterator[Callable[[Config], Exporter]]:
    made: list[Exporter] = []

    def make(config: Config) -> Exporter:
        made.append(Exporter(config))
        return made[-1]

    yield make
    for exporter in made:
        await exporter.client.aclose()
        await exporter.prober.aclose()  # probes that outlived their scrape


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in exposition text, or None when absent."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


@pytest.fixture
def probe_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="obsstack.probe")
    return caplog
