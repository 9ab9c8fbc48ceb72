"""Strict reading of YAML documents into typed values, with exact error messages.

Every configuration and spec file of obsstack (exporter config, KPI queries, SLO specs) is
read through :class:`Section`: each accessor consumes one key, converts and checks it, and
:meth:`Section.close` rejects any key nobody asked for. Errors carry the file and the key path:
``exporter.yaml: dependencies[2].timeout: invalid duration "5 sec"``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from exporters.redaction import SecretMatcher

T = TypeVar("T")
_MISSING: Any = object()

# Prometheus' own duration syntax: whole numbers, units from the largest down, each once.
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DURATION_MILLIS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """Bad input in a file: ``file: key.path: reason``, one line."""

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file = file
        self.path = path
        self.reason = reason
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {reason}")


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration (``500ms``, ``2s``, ``1h30m``, ``30d``) into seconds.

    Raises ValueError on anything else, including zero-length strings.
    """
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"invalid duration {text!r}")
    units = ("y", "w", "d", "h", "m", "s", "ms")
    pairs = zip(match.groups(), units, strict=True)
    return sum(int(n) * _DURATION_MILLIS[u] for n, u in pairs if n) / 1000


def format_duration(seconds: float) -> str:
    """Render seconds as the shortest Prometheus duration (300 -> ``5m``, 2592000 -> ``30d``)."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise ValueError("duration must be positive")
    if millis % 1000:
        return f"{millis}ms"
    whole, out = millis // 1000, []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


class Secrets:
    """Every secret value read from a configuration, so that any text can be scrubbed of them.

    :meth:`scrub` finds them in the forms a dependency or a driver may echo them: in any case,
    URL-encoded, JSON- or repr-escaped, hex, base64 (alone or inside base64 of ``user:secret``)
    and cut short to a leading fragment (see :mod:`exporters.redaction`).
    """

    PLACEHOLDER = "<redacted>"

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._matcher: SecretMatcher | None = None

    def add(self, value: str) -> str:
        if value and value not in self._values:
            self._values.add(value)
            self._matcher = None  # rebuilt on the next scrub
        return value

    def scrub(self, text: str) -> str:
        """Replace every known secret, in any of its forms, and any DSN password in ``text``."""
        matcher = self._matcher
        if matcher is None:
            matcher = self._matcher = SecretMatcher(self._values)
        return scrub_dsn_passwords(matcher.sub(self.PLACEHOLDER, text))


_DSN_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@\s]*@", re.I)


def scrub_dsn_passwords(text: str) -> str:
    """Hide the password part of any ``scheme://user:password@host`` in ``text``."""
    return _DSN_PASSWORD.sub(rf"\g<scheme>\g<user>:{Secrets.PLACEHOLDER}@", text)


class Section:
    """One mapping of a YAML document, read strictly.

    Accessors consume keys; :meth:`close` raises on keys that were never consumed.
    ``${NAME}`` references in strings are replaced from the environment.
    """

    def __init__(
        self,
        data: Any,
        file: str,
        path: str = "",
        secrets: Secrets | None = None,
        base_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(data, dict):
            raise ConfigError(file, path, f"must be a mapping (got {_kind(data)})")
        self.data: dict[Any, Any] = data
        self.file = file
        self.path = path
        self.secrets = secrets if secrets is not None else Secrets()
        self.base_dir = base_dir if base_dir is not None else Path(file).parent
        self.env = env if env is not None else dict(os.environ)
        self._used: set[str] = set()

    # -- navigation -------------------------------------------------------------------------
    def key_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | int | None, reason: str) -> ConfigError:
        return ConfigError(self.file, self.path if key is None else self.key_path(key), reason)

    def child(self, data: Any, path: str) -> Section:
        return Section(data, self.file, path, self.secrets, self.base_dir, self.env)

    def has(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> list[str]:
        """The keys of this mapping, in file order."""
        return [str(k) for k in self.data]

    def _take(self, key: str, default: Any) -> Any:
        self._used.add(key)
        if key not in self.data or self.data[key] is None:
            if default is _MISSING:
                raise self.error(key, "is required")
            return default
        return self.data[key]

    def close(self) -> None:
        """Reject every key that no accessor consumed."""
        for key in self.data:
            if str(key) not in self._used:
                raise self.error(str(key), "unknown key")

    # -- scalars ----------------------------------------------------------------------------
    def raw(self, key: str, default: Any = _MISSING) -> Any:
        return self._take(key, default)

    def string(self, key: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string (got {_kind(value)})")
        expanded = self._expand(key, value)
        if choices and expanded not in choices:
            # Show the value as written: an expanded ${VAR} may hold a secret.
            raise self.error(key, f"must be one of {', '.join(choices)} (got {value!r})")
        return expanded

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int | None = None) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer (got {_kind(value)})")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum} (got {value})")
        return value

    def float(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive: bool = False,
    ) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number (got {_kind(value)})")
        if (minimum is not None and (value < minimum or (exclusive and value == minimum))) or (
            maximum is not None and (value > maximum or (exclusive and value == maximum))
        ):
            raise self.error(
                key, f"must be {_range_text(minimum, maximum, exclusive)} (got {value:g})"
            )
        return float(value)

    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        value = self._take(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false (got {_kind(value)})")
        return value

    def duration(self, key: str, default: Any = _MISSING) -> Any:
        """A positive Prometheus-style duration, in seconds."""
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"must be a duration such as 5s or 1m (got {_kind(value)})")
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise self.error(
                key, f"invalid duration {value!r} (use e.g. 500ms, 5s, 1m, 30d)"
            ) from None
        if seconds <= 0:
            raise self.error(key, f"must be positive (got {value!r})")
        return seconds

    def str_list(self, key: str, default: Any = _MISSING) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a list of non-empty strings")
        return [self._expand(f"{key}[{i}]", v) for i, v in enumerate(value)]

    def str_map(self, key: str, default: Any = _MISSING) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
        ):
            raise self.error(key, "must be a mapping of names to strings")
        return {k: self._expand(f"{key}.{k}", str(v)) for k, v in value.items()}

    def secret(self, key: str, *, required: bool = False) -> str | None:
        """A secret given as ``key`` (usually ``${ENV}``) or read from the file ``key_file``.

        Both forms at once is an error; the value is remembered so it can be scrubbed from text.
        """
        file_key = f"{key}_file"
        inline, from_file = self.has(key), self.has(file_key)
        if inline and from_file:
            raise self.error(key, f"set either {key} or {file_key}, not both")
        if from_file:
            name = self.string(file_key)
            path = self.base_dir / name
            try:
                value = path.read_text().strip()
            except OSError as exc:
                raise self.error(file_key, f"cannot read {name}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise self.error(file_key, f"{name} is not UTF-8 text") from None
            if not value:
                raise self.error(file_key, f"{name} is empty")
            return self._checked_secret(file_key, value)
        if inline:
            if not isinstance(self.data[key], str):  # never echo what may be the secret itself
                self._used.add(key)
                raise self.error(
                    key, "must be a string (quote it, or use ${ENV} or the _file form)"
                )
            return self._checked_secret(key, self.string(key))
        self._used.update({key, file_key})
        if required:
            raise self.error(key, f"is required (or {file_key})")
        return None

    def _checked_secret(self, key: str, value: str) -> str:
        # A control character (say a newline left in an environment variable) would end up in
        # a header and in the driver's error text, escaped, out of reach of scrubbing.
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise self.error(key, "contains a control character (a trailing newline?)")
        return self.secrets.add(value)

    # -- nested -----------------------------------------------------------------------------
    def section(self, key: str, *, optional: bool = False) -> Section:
        """The mapping under ``key``; an empty one when ``optional`` and absent."""
        return self.child(self._take(key, {} if optional else _MISSING), self.key_path(key))

    def sections(self, key: str, default: Any = _MISSING) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list):
            raise self.error(key, f"must be a list (got {_kind(value)})")
        return [self.child(item, f"{self.key_path(key)}[{i}]") for i, item in enumerate(value)]

    def each(self, key: str, read: Callable[[Section], T]) -> list[T]:
        """Read every item of the list ``key`` with ``read``, closing each item afterwards."""
        out = []
        for item in self.sections(key):
            out.append(read(item))
            item.close()
        return out

    # -- environment ------------------------------------------------------------------------
    def _expand(self, key: str, value: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:  # ${NAME:-default}
                return default
            raise self.error(key, f"environment variable {name} is not set")

        return _ENV_REFERENCE.sub(replace, value)


def _yaml_error(name: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return ConfigError(name, "", f"{where}{getattr(exc, 'problem', None) or 'malformed YAML'}")


def _read(path: Path | str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "is not UTF-8 text") from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path | str) -> Any:
    """Load one YAML document; unreadable or malformed files become a ConfigError."""
    try:
        return yaml.load(_read(path), Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise _yaml_error(str(path), exc) from None


def load_all_yaml(path: Path | str) -> list[Any]:
    """Load every document of a multi-document YAML file (OpenSLO style)."""
    try:
        documents = yaml.load_all(_read(path), Loader=_StrictLoader)  # a SafeLoader subclass
        return [doc for doc in documents if doc is not None]
    except yaml.YAMLError as exc:
        raise _yaml_error(str(path), exc) from None


def open_document(path: Path | str, env: dict[str, str] | None = None) -> Section:
    """Load a YAML file whose top level is a mapping, as a strict Section."""
    return Section(load_yaml(path), str(path), env=env)


def _range_text(minimum: float | None, maximum: float | None, exclusive: bool) -> str:
    if minimum is not None and maximum is not None:
        return f"{'strictly ' if exclusive else ''}between {minimum:g} and {maximum:g}"
    if minimum is not None:
        return f"{'greater than' if exclusive else 'at least'} {minimum:g}"
    return f"{'less than' if exclusive else 'at most'} {maximum:g}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
