"""Probe kinds: one module per protocol, each with ``NAME``, ``read_settings`` and ``probe``."""

from __future__ import annotations

from exporters.probe.kinds import elasticsearch, http, neo4j, postgres, qdrant, redis
from exporters.probe.model import Kind

KINDS: dict[str, Kind] = {
    module.NAME: module for module in (postgres, redis, neo4j, qdrant, elasticsearch, http)
}
