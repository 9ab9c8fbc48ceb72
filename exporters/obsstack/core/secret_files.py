"""Secret files: the one reader for every key, token and password obsstack takes from a file
(``*_file`` keys of the configuration files, ``--*-file`` options, the stack's own tokens).

A secret file is a regular file of at most 64 KiB of UTF-8 text; surrounding whitespace (the
newline an editor adds) is trimmed; what is left must not be empty or hold a control
character, which would end up in a header or a driver's error text out of reach of
scrubbing. A problem is one line that names the file and never shows what it holds.
"""

from __future__ import annotations

from pathlib import Path

from obsstack.core import plain_yaml


class SecretFileProblem(Exception):
    """Why a secret file cannot be used, as a phrase naming the file."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_secret(path: Path | str, shown: str | None = None) -> str:
    """The secret in ``path`` (named ``shown`` in problems, the path by default)."""
    name = str(path) if shown is None else shown
    try:
        text = plain_yaml.read_text(path, plain_yaml.MAX_SECRET_BYTES)
    except plain_yaml.FileProblem as problem:
        if problem.os_error:
            raise SecretFileProblem(f"cannot read {name}: {problem.reason}") from None
        raise SecretFileProblem(f"{name} {problem.reason}") from None
    value = text.strip()
    if not value:
        raise SecretFileProblem(f"{name} is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise SecretFileProblem(f"{name} holds a control character (a line break inside?)")
    return value
