"""Fixtures for the dashboard tests: the committed dashboards and freshly built ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from obsstack.core.artifacts import GenerateContext
from obsstack.dashboards.generate import OUTPUT_DIR, build_all
from tests.support.paths import ROOT as REPO_ROOT


def committed_dashboards() -> list[dict[str, Any]]:
    """The dashboards as committed under dashboards/generated (what Grafana loads)."""
    paths = sorted((REPO_ROOT / OUTPUT_DIR).glob("*.json"))
    assert paths, f"no dashboards under {OUTPUT_DIR}: run `obsstack generate`"
    return [json.loads(p.read_text()) for p in paths]


@pytest.fixture(scope="session")
def dashboards() -> list[dict[str, Any]]:
    return committed_dashboards()


@pytest.fixture()
def fresh() -> list[dict[str, Any]]:
    """Dashboards built from the code now (mutable copies for mutation tests)."""
    return build_all(GenerateContext(REPO_ROOT))
