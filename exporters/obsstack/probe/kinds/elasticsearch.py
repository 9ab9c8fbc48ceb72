"""Elasticsearch: ``GET /_cluster/health``: status, unassigned shards and node count."""

from __future__ import annotations

from dataclasses import dataclass

from obsstack.core import naming
from obsstack.core.spec import Section
from obsstack.probe.kinds import web
from obsstack.probe.model import Kept, ProbeFailure, Report

NAME = "elasticsearch"
STATUSES = tuple(naming.ELASTICSEARCH_STATUS_VALUES)


@dataclass(frozen=True)
class Settings:
    endpoint: web.Endpoint
    down_at: str


def read_settings(section: Section) -> Settings:
    endpoint = web.read_endpoint(section, api_key_header=("Authorization", "ApiKey "))
    # The cluster status from which the dependency counts as down: red by default.
    return Settings(endpoint, section.string("down_at", "red", choices=("yellow", "red")))


async def probe(settings: Settings, budget: float, report: Report, kept: Kept) -> None:
    async with web.client(settings.endpoint, budget) as http:
        response = await web.fetch(http, "GET", f"{settings.endpoint.url}/_cluster/health")
    web.expect_status(response, 200)
    health = web.json_body(response)
    status = web.field_of(health, "status", kind=str)
    if status not in naming.ELASTICSEARCH_STATUS_VALUES:
        raise ProbeFailure(naming.REASON_PROTOCOL, f"unknown cluster status {status!r}")
    report.set(naming.DEPENDENCY_ELASTICSEARCH_STATUS, naming.ELASTICSEARCH_STATUS_VALUES[status])
    report.set(
        naming.DEPENDENCY_ELASTICSEARCH_UNASSIGNED_SHARDS,
        web.field_of(health, "unassigned_shards", kind=int),
    )
    report.set(
        naming.DEPENDENCY_ELASTICSEARCH_NODES, web.field_of(health, "number_of_nodes", kind=int)
    )
    if (
        naming.ELASTICSEARCH_STATUS_VALUES[status]
        >= naming.ELASTICSEARCH_STATUS_VALUES[settings.down_at]
    ):
        raise ProbeFailure(naming.REASON_UNHEALTHY, f"cluster status is {status}")
