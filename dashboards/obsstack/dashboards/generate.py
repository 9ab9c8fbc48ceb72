"""``dashboards/generated/*.json``: every dashboard, normalised, linted, one file each.

Registered in :data:`obsstack.core.artifacts.GENERATORS`, so ``obsstack generate`` writes them and
``obsstack generate --check`` fails when the committed JSON differs from the code. A dashboard
that fails :mod:`obsstack.dashboards.lint` is an error (exit 2): nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from obsstack.core.artifacts import Artifact, GenerateContext
from obsstack.core.spec import ConfigError
from obsstack.dashboards import business_kpis, dependencies, service_overview, slos, stack_health
from obsstack.dashboards.conventions import UID_PREFIX
from obsstack.dashboards.lint import lint, metric_allow_list
from obsstack.dashboards.normalise import normalise

OUTPUT_DIR = "dashboards/generated"
Json = dict[str, Any]

BUILDERS: tuple[Callable[[GenerateContext], Any], ...] = (
    lambda _context: service_overview.build(),
    lambda _context: dependencies.build(),
    lambda _context: business_kpis.build(),
    slos.build,
    lambda _context: stack_health.build(),
)


def build_all(context: GenerateContext) -> list[Json]:
    """Every dashboard as Grafana JSON, in menu order."""
    return [normalise(build(context)) for build in BUILDERS]


def path_of(dashboard: Json) -> str:
    """Where a dashboard is written: ``dashboards/generated/<uid without prefix>.json``."""
    return f"{OUTPUT_DIR}/{dashboard['uid'].removeprefix(UID_PREFIX)}.json"


def render(dashboard: Json) -> str:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate(context: GenerateContext) -> list[Artifact]:
    dashboards = build_all(context)
    allowed = metric_allow_list(context)
    for dashboard in dashboards:
        problems = lint(dashboard, allowed)
        if problems:
            raise ConfigError(path_of(dashboard), problems[0].where, problems[0].message)
    return [Artifact(path_of(d), render(d)) for d in dashboards]
