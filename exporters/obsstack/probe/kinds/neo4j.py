"""Neo4j: a Cypher round trip (``RETURN 1``) through the transactional HTTP API.

``POST {url}/db/{database}/tx/commit`` answers ``{"results": [...], "errors": [...]}``; a
non-empty ``errors`` list means the query did not run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from obsstack.core import naming
from obsstack.core.spec import Section
from obsstack.probe.kinds import web
from obsstack.probe.model import Kept, ProbeFailure, Report

NAME = "neo4j"
QUERY = "RETURN 1 AS ok"


@dataclass(frozen=True)
class Settings:
    endpoint: web.Endpoint
    database: str


def read_settings(section: Section) -> Settings:
    return Settings(web.read_endpoint(section), section.string("database", "neo4j"))


async def probe(settings: Settings, budget: float, report: Report, kept: Kept) -> None:
    url = f"{settings.endpoint.url}/db/{settings.database}/tx/commit"
    body = {"statements": [{"statement": QUERY}]}
    async with web.client(settings.endpoint, budget) as http:
        started = time.perf_counter()
        response = await web.fetch(http, "POST", url, json=body)
        elapsed = time.perf_counter() - started
    web.expect_status(response, 200)
    document = web.json_body(response)
    errors = web.field_of(document, "errors", kind=list)
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str(first.get("code", "unknown"))
        reason = naming.REASON_AUTH if ".Security." in code else naming.REASON_UNHEALTHY
        raise ProbeFailure(reason, f"query failed: {code}")
    results = web.field_of(document, "results", kind=list)
    try:
        value = results[0]["data"][0]["row"][0]
    except (IndexError, KeyError, TypeError):
        raise ProbeFailure(naming.REASON_PROTOCOL, "response has no result row") from None
    if value != 1:
        raise ProbeFailure(naming.REASON_PROTOCOL, f"{QUERY} returned {value!r}")
    report.set(naming.DEPENDENCY_NEO4J_QUERY_DURATION, elapsed)
