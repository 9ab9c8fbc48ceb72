"""Running the suite on parallel workers (pytest-xdist, ``--dist loadgroup``).

Every test goes to whichever worker is free, except those that share a fixture set up once per
module or session (a private Prometheus with its history, a PostgreSQL cluster, a built wheel):
those stay together on one worker, so the fixture is set up once, as in a serial run.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        for name, definitions in info.name2fixturedefs.items():
            fixture = definitions[-1]
            if not fixture.func.__module__.startswith("tests."):
                continue  # pytest's own and plugins' fixtures are cheap
            if fixture.scope == "module":
                item.add_marker(pytest.mark.xdist_group(fixture.func.__module__))
                break
            if fixture.scope == "session":
                item.add_marker(pytest.mark.xdist_group(name))
                break
