"""The secrets the bundle's own services share, generated where they are missing.

Prometheus sends ``scrape_token`` to the probe and KPI exporters, Alertmanager sends
``oncall_token`` to the on-call inbox's webhooks, and the KPI exporter logs in to PostgreSQL
with ``kpi_db_password``. Nothing outside the stack needs them, so they are random and made on
the first start (``obsstack up``, or the compose bundle's ``tokens`` service); existing files are
kept, so a restart keeps the tokens a browser or a script may hold.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from obsstack.core.secret_files import read_secret

SCRAPE_TOKEN = "scrape_token"
ONCALL_TOKEN = "oncall_token"
KPI_DB_PASSWORD = "kpi_db_password"
TOKENS = (SCRAPE_TOKEN, ONCALL_TOKEN, KPI_DB_PASSWORD)


def ensure_tokens(directory: Path, mode: int = 0o600) -> list[Path]:
    """Create each missing token file in ``directory`` (made if needed); returns those created.

    A token is 43 URL-safe characters with no trailing newline. ``mode`` is the files' mode:
    0600 when every service runs as the same user, 0644 when containers of other users read
    them (the directory is then the boundary).
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = []
    for name in TOKENS:
        path = directory / name
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32))
        os.chmod(path, mode)  # whatever the umask
        created.append(path)
    return created


def read_token(directory: Path, name: str) -> str:
    return read_secret(directory / name)
