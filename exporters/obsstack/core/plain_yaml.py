"""Configuration files read as plain YAML data, within limits.

Every file obsstack reads (exporter and KPI configs, SLO specs, the alerting file, secret
files) goes through :func:`read_text`: a regular file of at most :data:`MAX_FILE_BYTES`, opened
without blocking, so a FIFO, a device or a directory is refused before anyone waits on it.

:func:`documents` turns the text into Python data from the parser's events, with no YAML
constructor in between: mappings with string keys, lists, strings, numbers, booleans and null,
nested at most :data:`MAX_DEPTH` levels, :data:`MAX_VALUES` values in all. Everything else
(tags such as ``!!python/object``, aliases, so no billion laughs, merge keys ``<<``, keys that
are not strings, a key given twice, control characters) is refused with the line and the key
path where it occurs. Timestamps stay strings. libyaml parses when PyYAML was built with it: a
file at the limits is refused in about half a second.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml import events

MAX_FILE_BYTES = 1024 * 1024  # configs and specs: the largest shipped one has 4 KiB
MAX_SECRET_BYTES = 64 * 1024  # *_file secrets: a key, a token, a DSN or a certificate
MAX_DEPTH = 32  # the deepest shipped format (OpenSLO) nests 9 levels
MAX_VALUES = 100_000  # scalars, lists and mappings: the largest shipped file has 155

_PARSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_SCALARS = {
    f"{_TAG}str": lambda node: node.value,
    f"{_TAG}null": _CONSTRUCTOR.construct_yaml_null,
    f"{_TAG}bool": _CONSTRUCTOR.construct_yaml_bool,
    f"{_TAG}int": _CONSTRUCTOR.construct_yaml_int,
    f"{_TAG}float": _CONSTRUCTOR.construct_yaml_float,
}
# Implicitly resolved, kept as the text written: dates and times, and the "=" value key.
_AS_TEXT = {f"{_TAG}timestamp", f"{_TAG}value"}
_MERGE = f"{_TAG}merge"
# What YAML 1.1 allows in a stream (tab, line breaks, printable Unicode).
_NOT_ALLOWED = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class FileProblem(Exception):
    """Why a file cannot be read: ``reason`` follows the file's name (``is a directory, ...``),
    or is the OS error text when ``os_error``."""

    def __init__(self, reason: str, *, os_error: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.os_error = os_error


class DataProblem(Exception):
    """What in the text is not plain YAML data: where (key path, line; 0 when the reason
    names the lines) and why."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.line = line
        self.reason = reason


def size_text(limit: int) -> str:
    """``1 MiB``, ``64 KiB``: a byte limit as the documentation states it."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def read_text(path: Path | str, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit`` bytes; else FileProblem.

    The file is looked at before it is opened, and opened non-blocking: a FIFO, a device or a
    directory is refused without reading (a FIFO would block until a writer comes).
    """
    check_file(path, limit)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise FileProblem(exc.strerror or str(exc), os_error=True) from None
    try:
        _check_stat(os.fstat(fd), limit)  # what was opened, should the path have changed since
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise FileProblem(exc.strerror or str(exc), os_error=True) from None
    finally:
        os.close(fd)
    if len(data) > limit:  # grew after fstat
        raise FileProblem(f"is larger than {size_text(limit)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem("is not UTF-8 text") from None


def check_file(path: Path | str, limit: int = MAX_FILE_BYTES) -> None:
    """Raise FileProblem unless ``path`` is a regular file of at most ``limit`` bytes (looked
    at, not opened)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise FileProblem(exc.strerror or str(exc), os_error=True) from None
    _check_stat(info, limit)


def _check_stat(info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode))
        raise FileProblem(f"is {kind}, not a regular file" if kind else "is not a regular file")
    if info.st_size > limit:
        raise FileProblem(f"is larger than {size_text(limit)}")


def documents(text: str) -> list[Any]:
    """Every document of ``text`` as plain data (an empty document is None); else DataProblem
    or yaml.YAMLError for what the parser itself refuses."""
    bad = _NOT_ALLOWED.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise DataProblem(
            "", line, f"control character U+{ord(bad.group()):04X} (is this a text file?)"
        )
    builder = _Builder()
    for event in yaml.parse(text, Loader=_PARSER):
        builder.add(event)
    return builder.documents


@dataclass
class _Open:
    """A mapping or list being filled; for a mapping, the key whose value comes next."""

    value: dict[str, Any] | list[Any]
    path: str
    key: str | None = None
    lines: dict[str, int] = field(default_factory=dict)


class _Builder:
    """Builds Python data from parser events, refusing whatever is not plain data."""

    def __init__(self) -> None:
        self.documents: list[Any] = []
        self.stack: list[_Open] = []
        self.has_root = False
        self.values = 0

    def add(self, event: events.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, events.NodeEvent) and not isinstance(event, events.AliasEvent):
            self.values += 1
            if self.values > MAX_VALUES:
                raise DataProblem("", line, f"more than {MAX_VALUES} values in one file")
        if isinstance(event, events.ScalarEvent):
            self._scalar(event, line)
        elif isinstance(event, events.DocumentStartEvent):
            self.has_root = False
        elif isinstance(event, events.DocumentEndEvent):
            if not self.has_root:
                self.documents.append(None)
        elif isinstance(event, events.AliasEvent):
            raise DataProblem(
                self._path(), line, f"aliases (*{event.anchor}) are not supported: write it out"
            )
        elif isinstance(event, events.CollectionStartEvent):
            self._start(event, line)
        elif isinstance(event, events.CollectionEndEvent):
            self.stack.pop()

    def _path(self) -> str:
        """The key path of the value that comes next."""
        if not self.stack:
            return ""
        top = self.stack[-1]
        if isinstance(top.value, list):
            return f"{top.path}[{len(top.value)}]"
        if top.key is None:
            return top.path
        return f"{top.path}.{top.key}" if top.path else top.key

    def _expects_key(self) -> bool:
        return (
            bool(self.stack)
            and isinstance(self.stack[-1].value, dict)
            and (self.stack[-1].key is None)
        )

    def _place(self, value: Any) -> None:
        if not self.stack:
            self.documents.append(value)
            self.has_root = True
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        else:
            assert top.key is not None
            top.value[top.key] = value
            top.key = None

    def _scalar(self, event: events.ScalarEvent, line: int) -> None:
        tag = event.tag
        if tag in (None, "!"):
            tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        if self._expects_key():
            self._key(event.value, tag, line)
            return
        if tag in _AS_TEXT or tag == _MERGE:
            value: Any = event.value
        elif tag in _SCALARS:
            try:
                value = _SCALARS[tag](yaml.ScalarNode(tag, event.value))
            except ValueError:  # e.g. more digits than Python converts, or !!int "x"
                raise DataProblem(
                    self._path(), line, f"cannot read {_short(event.value)} as {_tag(tag)}"
                ) from None
        else:
            raise self._tag_problem(tag, line)
        self._place(value)

    def _key(self, text: str, tag: str, line: int) -> None:
        top = self.stack[-1]
        if tag == _MERGE:
            raise DataProblem(
                top.path, line, "merge keys (<<) are not supported: write the keys out"
            )
        if tag not in (f"{_TAG}str", *_AS_TEXT):
            if tag not in _SCALARS:
                raise self._tag_problem(tag, line)
            raise DataProblem(
                top.path, line, f"key {_short(text)} is not a string: quote it if it is a name"
            )
        assert isinstance(top.value, dict)
        if text in top.value:
            path = f"{top.path}.{text}" if top.path else text
            raise DataProblem(path, 0, f"duplicate key (lines {top.lines[text]} and {line})")
        top.key = text
        top.lines[text] = line

    def _start(self, event: events.CollectionStartEvent, line: int) -> None:
        mapping = isinstance(event, events.MappingStartEvent)
        kind = "map" if mapping else "seq"
        if event.tag not in (None, "!", f"{_TAG}{kind}"):
            raise self._tag_problem(event.tag, line)
        if self._expects_key():
            what = "a mapping" if mapping else "a list"
            raise DataProblem(self.stack[-1].path, line, f"a key must be a string, not {what}")
        path = self._path()
        if len(self.stack) >= MAX_DEPTH:
            raise DataProblem(path, line, f"nested more than {MAX_DEPTH} levels deep")
        value: dict[str, Any] | list[Any] = {} if mapping else []
        self._place(value)
        self.stack.append(_Open(value, path))

    def _tag_problem(self, tag: str | None, line: int) -> DataProblem:
        return DataProblem(
            self._path(), line, f"tag {_tag(tag or '')} is not supported: plain YAML data only"
        )


def _tag(tag: str) -> str:
    return f"!!{tag.removeprefix(_TAG)}" if tag.startswith(_TAG) else tag


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
