"""Strict reading of YAML documents into typed values, with exact error messages.

Every configuration and spec file of obsstack (exporter config, KPI queries, SLO specs, the
alerting file) is read through :class:`Section`: each accessor consumes one key, converts and
checks it (numbers finite and within range, durations at most a year unless narrower), and
:meth:`Section.close` rejects any key nobody asked for. Errors carry the file and the key path:
``exporter.yaml: dependencies[2].timeout: invalid duration "5 sec"``. Files are read as plain
YAML data, within limits, by :mod:`obsstack.core.plain_yaml`.

An error message quotes a value only as written in the file: never what a ``${NAME}``
reference expanded to (the reference is shown), never a secret, never a URL's userinfo.
"""

from __future__ import annotations

import enum
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

import yaml

from obsstack.core import plain_yaml
from obsstack.core.redaction import SecretMatcher
from obsstack.core.secret_files import SecretFileProblem, read_secret

T = TypeVar("T")
D = TypeVar("D")  # what an accessor returns when the key is absent and a default is given


class _Missing(enum.Enum):
    """No default: the key is required."""

    MISSING = enum.auto()


_MISSING = _Missing.MISSING

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


# The userinfo of a URL (``user:password@``, ``token@``), up to the last @ of the word; kept
# only when it is nothing but ${NAME} references, which say where a secret comes from.
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)([^\s'\"]*)@", re.I)
_REFERENCES_ONLY = re.compile(r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*\}|:)*")
# What would end the line or fake another: C0 and C1 controls, DEL, line/paragraph separators.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MAX_PATH, _MAX_REASON = 300, 1000  # characters of a message's key path and reason: a guard
YEAR = 365 * 86400.0  # the longest duration any file may give, unless a key allows less
Seconds = float  # spelled apart: inside Section, `float` is the accessor
Number = float


def one_line(text: str, limit: int) -> str:
    """``text`` with URL userinfo hidden, control characters escaped, cut to ``limit``."""
    text = _USERINFO.sub(_hide_userinfo, text)
    text = _LINE_BREAKING.sub(lambda match: ascii(match.group())[1:-1], text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _hide_userinfo(match: re.Match[str]) -> str:
    if _REFERENCES_ONLY.fullmatch(match.group(2)):
        return match.group()
    return f"{match.group(1)}{Secrets.PLACEHOLDER}@"


class ConfigError(Exception):
    """Bad input in a file: ``file: key.path: reason``, one line.

    The path and the reason are shown with URL userinfo hidden and control characters escaped.
    """

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file = file
        self.path = one_line(path, _MAX_PATH)
        self.reason = one_line(reason, _MAX_REASON)
        where = f"{one_line(file, _MAX_PATH)}: {self.path}" if path else one_line(file, _MAX_PATH)
        super().__init__(f"{where}: {self.reason}")


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration (``500ms``, ``2s``, ``1h30m``, ``30d``) into seconds.

    Raises ValueError on anything else, including zero-length strings and numbers too long to
    mean anything (more than 12 digits).
    """
    match = _DURATION.match(text)
    if not text or match is None or any(len(n) > 12 for n in match.groups() if n):
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
    and cut short to a leading fragment (see :mod:`obsstack.core.redaction`).
    """

    PLACEHOLDER = "<redacted>"

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._whole: set[str] = set()  # found only whole: see SecretMatcher
        self._matcher: SecretMatcher | None = None

    def add(self, value: str, *, fragments: bool = True) -> str:
        """Remember ``value``; with ``fragments=False`` text is scrubbed of it only whole."""
        known = self._values if fragments else self._whole
        if value and value not in known:
            known.add(value)
            self._matcher = None  # rebuilt on the next scrub
        return value

    def scrub(self, text: str) -> str:
        """Replace every known secret, in any of its forms, and any DSN password in ``text``."""
        matcher = self._matcher
        if matcher is None:
            matcher = self._matcher = SecretMatcher(self._values, self._whole)
        return scrub_dsn_passwords(matcher.sub(self.PLACEHOLDER, text))


_DSN_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@\s]*@", re.I)


def scrub_dsn_passwords(text: str) -> str:
    """Hide the password part of any ``scheme://user:password@host`` in ``text``."""
    return _DSN_PASSWORD.sub(rf"\g<scheme>\g<user>:{Secrets.PLACEHOLDER}@", text)


class Environment:
    """Where ``${NAME}`` references are looked up, remembering every value handed out.

    :meth:`hide` puts the references back into a text, so that no message carries what a
    variable holds (a message shows ``${PD_URL}``, never the URL).
    """

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values: Mapping[str, str] = values if values is not None else dict(os.environ)
        self._references: dict[str, str] = {}  # a value handed out, and its form in messages
        self._pattern: re.Pattern[str] | None = None

    def lookup(self, name: str) -> str | None:
        """The value of variable ``name``, None when unset."""
        if name not in self.values:
            return None
        value = self.values[name]
        for form in (value, repr(value)[1:-1]):  # repr: how a message quotes it
            if form and form not in self._references:
                self._references[form] = f"${{{name}}}"
                self._pattern = None
        return value

    def hide(self, text: str) -> str:
        """``text`` with every value handed out replaced by its ``${NAME}`` reference."""
        if not self._references:
            return text
        if self._pattern is None:
            forms = sorted(self._references, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, forms)))
        return self._pattern.sub(lambda match: self._references[match.group()], text)


class Section:
    """One mapping of a YAML document, read strictly.

    Accessors consume keys; :meth:`close` raises on keys that were never consumed.
    ``${NAME}`` references in strings are replaced from the environment (see
    :class:`Environment`); :meth:`error` shows them as written and hides known secrets.
    """

    def __init__(
        self,
        data: Any,
        file: str,
        path: str = "",
        secrets: Secrets | None = None,
        base_dir: Path | None = None,
        env: Mapping[str, str] | Environment | None = None,
    ) -> None:
        if not isinstance(data, dict):
            raise ConfigError(file, path, f"must be a mapping (got {_kind(data, quote=False)})")
        self.data: dict[Any, Any] = data
        self.file = file
        self.path = path
        self.secrets = secrets if secrets is not None else Secrets()
        self.base_dir = base_dir if base_dir is not None else Path(file).parent
        self.env = env if isinstance(env, Environment) else Environment(env)
        self._used: set[str] = set()

    # -- navigation -------------------------------------------------------------------------
    def key_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | int | None, reason: str) -> ConfigError:
        """A ConfigError at ``key`` (this mapping when None); environment values and secrets in
        ``reason`` are replaced by their references and by ``<redacted>``."""
        path = self.path if key is None else self.key_path(key)
        return ConfigError(self.file, path, self.secrets.scrub(self.env.hide(reason)))

    def child(self, data: Any, path: str) -> Section:
        return Section(data, self.file, path, self.secrets, self.base_dir, self.env)

    def has(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> list[str]:
        """The keys of this mapping, in file order."""
        return [str(k) for k in self.data]

    def _take(self, key: str, default: object) -> Any:
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
        """The value as parsed, unchecked (the caller checks it)."""
        return self._take(key, default)

    @overload
    def string(self, key: str, *, choices: tuple[str, ...] = ()) -> str: ...
    @overload
    def string(self, key: str, default: D, *, choices: tuple[str, ...] = ()) -> str | D: ...
    def string(
        self, key: str, default: object = _MISSING, *, choices: tuple[str, ...] = ()
    ) -> object:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string (got {_kind(value)})")
        expanded = self._expand(key, value)
        if choices and expanded not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)} (got {_quoted(value)})")
        return expanded

    @overload
    def integer(
        self, key: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int: ...
    @overload
    def integer(
        self, key: str, default: D, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | D: ...
    def integer(
        self,
        key: str,
        default: object = _MISSING,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> object:
        """A whole number; within 32 bits unless narrower, and 1-65535 for every ``port``."""
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer (got {_kind(value)})")
        if key == "port":  # a port of any file is a TCP port, whichever reader asks for it
            minimum, maximum = 1, 65535
        low = -_INT32 if minimum is None else minimum
        high = _INT32 - 1 if maximum is None else maximum
        if not low <= value <= high:
            shown_low = low if minimum is not None or value < low else None
            shown_high = high if maximum is not None or value > high else None
            raise self.error(
                key, f"must be {_range_text(shown_low, shown_high, False)} (got {_number(value)})"
            )
        return value

    @overload
    def float(
        self,
        key: str,
        *,
        minimum: Number | None = None,
        maximum: Number | None = None,
        exclusive: bool = False,
    ) -> Number: ...
    @overload
    def float(
        self,
        key: str,
        default: D,
        *,
        minimum: Number | None = None,
        maximum: Number | None = None,
        exclusive: bool = False,
    ) -> Number | D: ...
    def float(
        self,
        key: str,
        default: object = _MISSING,
        *,
        minimum: Number | None = None,
        maximum: Number | None = None,
        exclusive: bool = False,
    ) -> object:
        """A finite number (NaN and infinities refused), within the bounds given."""
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number (got {_kind(value)})")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(key, f"must be a finite number (got {_number(value)})")
        number = _to_float(value)
        if (minimum is not None and (number < minimum or (exclusive and number == minimum))) or (
            maximum is not None and (number > maximum or (exclusive and number == maximum))
        ):
            raise self.error(
                key, f"must be {_range_text(minimum, maximum, exclusive)} (got {_number(value)})"
            )
        if not math.isfinite(number):  # an integer beyond any float
            raise self.error(key, f"is too large (got {_number(value)})")
        return number

    @overload
    def boolean(self, key: str) -> bool: ...
    @overload
    def boolean(self, key: str, default: D) -> bool | D: ...
    def boolean(self, key: str, default: object = _MISSING) -> object:
        value = self._take(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false (got {_kind(value)})")
        return value

    @overload
    def duration(self, key: str, *, maximum: Seconds = YEAR) -> Seconds: ...
    @overload
    def duration(self, key: str, default: D, *, maximum: Seconds = YEAR) -> Seconds | D: ...
    def duration(self, key: str, default: object = _MISSING, *, maximum: Seconds = YEAR) -> object:
        """A positive Prometheus-style duration of at most ``maximum`` seconds, in seconds."""
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"must be a duration such as 5s or 1m (got {_kind(value)})")
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise self.error(
                key, f"invalid duration {_quoted(value)} (use e.g. 500ms, 5s, 1m, 30d)"
            ) from None
        if seconds <= 0:
            raise self.error(key, f"must be positive (got {_quoted(value)})")
        if seconds > maximum:
            raise self.error(
                key, f"must be at most {format_duration(maximum)} (got {_quoted(value)})"
            )
        return seconds

    @overload
    def str_list(self, key: str) -> list[str]: ...
    @overload
    def str_list(self, key: str, default: D) -> list[str] | D: ...
    def str_list(self, key: str, default: object = _MISSING) -> object:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a list of non-empty strings")
        return [self._expand(f"{key}[{i}]", v) for i, v in enumerate(value)]

    @overload
    def str_map(self, key: str) -> dict[str, str]: ...
    @overload
    def str_map(self, key: str, default: D) -> dict[str, str] | D: ...
    def str_map(self, key: str, default: object = _MISSING) -> object:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, dict) or not all(
            isinstance(k, str)
            and isinstance(v, str | int | float)
            and not isinstance(v, bool)
            and (not isinstance(v, float) or math.isfinite(v))
            for k, v in value.items()
        ):
            raise self.error(key, "must be a mapping of names to strings")
        return {k: self._expand(f"{key}.{k}", str(v)) for k, v in value.items()}

    def secret(self, key: str, *, required: bool = False, fragments: bool = True) -> str | None:
        """A secret given as ``key`` (usually ``${ENV}``) or read from the file ``key_file``.

        Both forms at once is an error; the value is remembered so it can be scrubbed from text,
        whole and, unless ``fragments`` is false, cut short too (see :class:`Secrets`).
        A secret file must be a regular file of at most 64 KiB.
        """
        file_key = f"{key}_file"
        inline, from_file = self.has(key), self.has(file_key)
        if inline and from_file:
            raise self.error(key, f"set either {key} or {file_key}, not both")
        if from_file:
            name = self.string(file_key)
            try:
                value = read_secret(self.base_dir / name, name)
            except SecretFileProblem as problem:
                raise self.error(file_key, problem.reason) from None
            return self.secrets.add(value, fragments=fragments)
        if inline:
            if not isinstance(self.data[key], str):  # never echo what may be the secret itself
                self._used.add(key)
                raise self.error(
                    key, "must be a string (quote it, or use ${ENV} or the _file form)"
                )
            return self._checked_secret(key, self.string(key), fragments)
        self._used.update({key, file_key})
        if required:
            raise self.error(key, f"is required (or {file_key})")
        return None

    def _checked_secret(self, key: str, value: str, fragments: bool = True) -> str:
        # A control character (say a newline left in an environment variable) would end up in
        # a header and in the driver's error text, escaped, out of reach of scrubbing.
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise self.error(key, "contains a control character (a trailing newline?)")
        return self.secrets.add(value, fragments=fragments)

    # -- nested -----------------------------------------------------------------------------
    def section(self, key: str, *, optional: bool = False) -> Section:
        """The mapping under ``key``; an empty one when ``optional`` and absent."""
        return self.child(self._take(key, {} if optional else _MISSING), self.key_path(key))

    @overload
    def sections(self, key: str) -> list[Section]: ...
    @overload
    def sections(self, key: str, default: D) -> list[Section] | D: ...
    def sections(self, key: str, default: object = _MISSING) -> object:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list):
            raise self.error(key, f"must be a list (got {_kind(value, quote=False)})")
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
            found = self.env.lookup(name)
            if found is not None:
                return found
            if default is not None:  # ${NAME:-default}
                return default
            raise self.error(key, f"environment variable {name} is not set")

        return _ENV_REFERENCE.sub(replace, value)


# -- files ----------------------------------------------------------------------------------
def read_file(
    path: Path | str, limit: int = plain_yaml.MAX_FILE_BYTES, *, name: str | None = None
) -> str:
    """The text of a regular file of at most ``limit`` bytes; anything else is a ConfigError
    naming the file as ``name`` (default: ``path`` as given)."""
    try:
        return plain_yaml.read_text(path, limit)
    except plain_yaml.FileProblem as problem:
        reason = f"cannot read: {problem.reason}" if problem.os_error else problem.reason
        raise ConfigError(str(path) if name is None else name, "", reason) from None


def _documents(path: Path | str, name: str) -> list[Any]:
    text = read_file(path, name=name)
    try:
        return plain_yaml.documents(text)
    except plain_yaml.DataProblem as problem:
        if not problem.path:
            raise ConfigError(name, "", f"line {problem.line}: {problem.reason}") from None
        line = f" (line {problem.line})" if problem.line else ""
        raise ConfigError(name, problem.path, f"{problem.reason}{line}") from None
    except yaml.YAMLError as exc:
        raise _yaml_error(name, exc, text) from None


def _yaml_error(name: str, exc: yaml.YAMLError, text: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.encode()[: exc.position].count(b"\n") + 1
        return ConfigError(name, "", f"line {line}: {exc.reason}")
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return ConfigError(name, "", f"{where}{getattr(exc, 'problem', None) or 'malformed YAML'}")


def load_yaml(path: Path | str) -> Any:
    """Load a file of one YAML document (None when empty); see :mod:`obsstack.core.plain_yaml` for
    what is refused. Every problem is a ConfigError."""
    documents = _documents(path, str(path))
    if len(documents) > 1:
        raise ConfigError(str(path), "", f"must be one YAML document (got {len(documents)})")
    return documents[0] if documents else None


def load_all_yaml(path: Path | str, name: str | None = None) -> list[Any]:
    """Load every document of a multi-document YAML file (OpenSLO style), empty ones dropped;
    errors name the file as ``name`` (default: ``path`` as given)."""
    documents = _documents(path, str(path) if name is None else name)
    return [doc for doc in documents if doc is not None]


def open_document(path: Path | str, env: Mapping[str, str] | Environment | None = None) -> Section:
    """Load a YAML file whose top level is a mapping, as a strict Section."""
    return Section(load_yaml(path), str(path), env=env)


# -- message parts --------------------------------------------------------------------------
_INT32 = 2**31


def _to_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        return math.inf if value > 0 else -math.inf


def _number(value: float) -> str:
    """A number as a message shows it: YAML's .nan and .inf, long integers by their length."""
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return f"{value:g}"
    digits = len(str(abs(value)))
    return str(value) if digits <= 15 else f"a {digits}-digit number"


def _quoted(value: str, limit: int = 60) -> str:
    """``value`` quoted for a message, cut short when long."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _range_text(minimum: float | None, maximum: float | None, exclusive: bool) -> str:
    low = "" if minimum is None else _number(minimum)
    high = "" if maximum is None else _number(maximum)
    if minimum is not None and maximum is not None:
        return f"{'strictly ' if exclusive else ''}between {low} and {high}"
    if minimum is not None:
        return f"{'greater than' if exclusive else 'at least'} {low}"
    return f"{'less than' if exclusive else 'at most'} {high}"


def _kind(value: Any, *, quote: bool = True) -> str:
    """What ``value`` is, for a message; a string is quoted only when ``quote`` (not where a
    mapping or a list was expected: a string there may be a token or a DSN)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {_number(value)}"
    if isinstance(value, str):
        return f"the string {_quoted(value)}" if quote else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
