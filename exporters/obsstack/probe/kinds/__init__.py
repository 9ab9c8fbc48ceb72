"""Probe kinds: one module per protocol, each with ``NAME``, ``read_settings`` and ``probe``."""

from __future__ import annotations

from obsstack.probe.kinds import elasticsearch, http, neo4j, postgres, qdrant, redis
from obsstack.probe.model import Kind

KINDS: dict[str, Kind] = {
    module.NAME: module for module in (postgres, redis, neo4j, qdrant, elasticsearch, http)
}
