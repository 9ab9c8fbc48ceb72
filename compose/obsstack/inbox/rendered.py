"""The rendered dashboards, served read-only beside the inbox: ``/dashboards/`` is the
``index.html`` that ``obsstack dashboards render`` writes, and the pictures it links.

Only a plain file name directly in the render directory is served, and only of the types the
renderer writes (HTML, PNG, JSON): no slash, no leading dot (its temporary directories), no
symbolic link that leads out of the directory.
"""

from __future__ import annotations

import re
from pathlib import Path

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".json": "application/json",
}
INDEX = "index.html"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


def rendered_file(directory: Path, name: str) -> tuple[bytes, str] | None:
    """The bytes and content type of the file ``name`` (``index.html`` when empty) of the
    render ``directory``; None when there is no such file or the name is not one it serves."""
    name = name or INDEX
    content_type = CONTENT_TYPES.get(Path(name).suffix)
    if content_type is None or not _NAME.fullmatch(name):
        return None
    try:
        path = (directory / name).resolve(strict=True)
        if path.parent != directory.resolve(strict=True) or not path.is_file():
            return None
        return path.read_bytes(), content_type
    except OSError:  # not there (not rendered yet, or between two rounds), or unreadable
        return None
