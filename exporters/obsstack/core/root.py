"""The obsstack directory: the SLO spec, the stack's configuration and the generated files.

A checkout of the project is one; so is any directory laid out like it (``alerts/slos.yaml``,
``compose/``, ``dashboards/generated``, ``otel-collector/``). The commands that read or write
those files (``generate``, ``up``, ``down``, ``dashboards push``) take it from ``--root``, else
from ``OBSSTACK_ROOT``, else from the nearest directory at or above the working directory that
holds the marker ``compose/docker-compose.yml``. Nothing is guessed from where the code is
installed: a wheel in site-packages has no such directory.

The data files that ship with the code (the KPI exporter's ``platform.yaml``, the alert window
tables) are the other way round: :func:`packaged` finds them through ``importlib.resources``,
wherever the package is installed.
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path

from obsstack.core.spec import ConfigError

MARKER = Path("compose") / "docker-compose.yml"
ENVIRONMENT = "OBSSTACK_ROOT"
SLO_SPEC = Path("alerts") / "slos.yaml"


def find_root(explicit: Path | None = None, start: Path | None = None) -> Path:
    """The obsstack directory, or a one-line error saying how to name one."""
    if explicit is None and os.environ.get(ENVIRONMENT):
        explicit = Path(os.environ[ENVIRONMENT])
    if explicit is not None:
        if not (explicit / MARKER).is_file():
            raise ConfigError(str(explicit), "", f"not an obsstack directory (no {MARKER})")
        return explicit.resolve()
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / MARKER).is_file():
            return directory
    raise ConfigError(
        str(here),
        "",
        f"no obsstack directory here or above (none holds {MARKER}): "
        f"pass --root DIR or set {ENVIRONMENT}",
    )


def add_root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help=f"the obsstack directory (default: ${ENVIRONMENT}, else the nearest directory "
        f"at or above this one holding {MARKER})",
    )


def packaged(package: str, name: str) -> Path:
    """The data file ``name`` shipped inside ``package``, as a path on disk."""
    resource = resources.files(package).joinpath(name)
    if not isinstance(resource, Path):
        raise RuntimeError(f"{package} is not installed as files: {name} has no path")
    return resource
