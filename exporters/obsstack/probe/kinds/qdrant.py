"""Qdrant: ``/readyz`` (503 until shards are ready) and ``/healthz``, which need no API key;
with an API key, ``GET /collections`` for the collection count."""

from __future__ import annotations

from dataclasses import dataclass

from obsstack.core import naming
from obsstack.core.spec import Section
from obsstack.probe.kinds import web
from obsstack.probe.model import Kept, ProbeFailure, Report

NAME = "qdrant"


@dataclass(frozen=True)
class Settings:
    endpoint: web.Endpoint
    count_collections: bool


def read_settings(section: Section) -> Settings:
    endpoint = web.read_endpoint(section, api_key_header=("api-key", ""))
    return Settings(endpoint, "api-key" in endpoint.headers)


async def probe(settings: Settings, budget: float, report: Report, kept: Kept) -> None:
    base = settings.endpoint.url
    async with web.client(settings.endpoint, budget) as http:
        health = await web.fetch(http, "GET", f"{base}/healthz")
        web.expect_status(health, 200)
        ready = await web.fetch(http, "GET", f"{base}/readyz")
        report.set(naming.DEPENDENCY_QDRANT_READY, ready.status_code == 200)
        if ready.status_code == 503:
            raise ProbeFailure(naming.REASON_UNHEALTHY, "not ready: /readyz answered 503")
        web.expect_status(ready, 200)
        if settings.count_collections:
            listing = await web.fetch(http, "GET", f"{base}/collections")
            web.expect_status(listing, 200)
            collections = web.field_of(web.json_body(listing), "result", "collections", kind=list)
            report.set(naming.DEPENDENCY_QDRANT_COLLECTIONS, len(collections))
