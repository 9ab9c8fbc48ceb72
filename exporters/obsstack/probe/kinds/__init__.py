"""Probe kinds: one module per protocol, each with ``NAME``, ``read_settings`` and ``probe``.

A kind's module, and its client library (asyncpg, httpx), is imported when a configuration
uses it: an exporter that probes PostgreSQL and Redis never loads an HTTP client.
"""

from __future__ import annotations

import importlib
from typing import cast

from obsstack.probe.model import Kind

NAMES = ("postgres", "redis", "neo4j", "qdrant", "elasticsearch", "http")


def kind(name: str) -> Kind:
    """The module of the kind ``name`` (one of :data:`NAMES`), imported on first use."""
    if name not in NAMES:
        raise KeyError(name)
    return cast(Kind, importlib.import_module(f"obsstack.probe.kinds.{name}"))
