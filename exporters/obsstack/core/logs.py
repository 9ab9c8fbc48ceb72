"""JSON-lines logging with request context and secret redaction, for every obsstack process.

Each record becomes one JSON object on stderr: ``timestamp``, ``level``, ``logger``, ``message``
and, when known, ``trace_id`` and ``span_id`` (the current OpenTelemetry span), ``request_id``
and ``tenant_id`` (set per request by :mod:`obsstack.instrumentation`). Every string field goes
through ``scrub`` (known secrets of a configuration) and then :func:`redact_secrets`, which hides
the usual shapes of secrets: ``Authorization`` headers, bearer tokens, ``password=...``,
token / API key / secret fields, API keys such as ``sk-...`` and DSN passwords.

When an OTLP endpoint is configured, the same records are also exported over OTLP, redacted
the same way (:mod:`obsstack.core.otel_logs`).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from obsstack.core.current_span import current_span
from obsstack.core.spec import ConfigError, Secrets, scrub_dsn_passwords

Scrub = Callable[[str], str]

LEVEL_ENV = "OBSSTACK_LOG_LEVEL"  # root level, e.g. "debug"
LEVELS_ENV = "OBSSTACK_LOG_LEVELS"  # per logger, e.g. "obsstack.kpis=debug,uvicorn.access=warning"
_LEVEL_NAMES = ("debug", "info", "warning", "error", "critical")

REQUEST_ID: ContextVar[str | None] = ContextVar("obsstack_request_id", default=None)
TENANT_ID: ContextVar[str | None] = ContextVar("obsstack_tenant_id", default=None)
# The fields of the current request a line carries when they are known (request_context()).
CONTEXT_FIELDS = ("trace_id", "span_id", "request_id", "tenant_id")

_REDACTED = Secrets.PLACEHOLDER
# A key that names a secret: password, db_password, access_token, x-api-key, client_secret...
# ``\b`` after the stem keeps prompt_tokens, password_file and secret_name readable.
_SECRET_KEY = (
    r"(?:[\w-]*[_-])?(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|credentials?|cookie)\b"
)
_AUTHORIZATION = re.compile(
    r"""(?i)\b((?:proxy-)?authorization)(["']?\s*[:=]\s*["']?)"""
    r"""((?:bearer|basic|digest|token|apikey)\s+)?[^\s"',;]+"""
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*")
_KEY_VALUE = re.compile(
    rf"""(?i)\b({_SECRET_KEY})(["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s"',;&}}\]]+)"""
)
_API_KEY_SHAPES = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}|\bsbp_[A-Za-z0-9]{20,}")
# Every pattern below needs one of these: most log text skips the full set of patterns.
_SECRET_HINTS = r"auth|bearer|pass|pwd|secret|token|key|cookie|credential|@|sk-|pk-|rk-|sbp_"
_MAYBE_SECRET = re.compile(f"(?i){_SECRET_HINTS}")
# The same test on ASCII text, lowered first: a case-insensitive search tries every letter
# both ways and costs about ten times as much (3.5 us for an access line).
_MAYBE_SECRET_LOWER = re.compile(_SECRET_HINTS)
_SECRET_FIELD = re.compile(rf"(?i)^(?:{_SECRET_KEY}|authorization|proxy-authorization|dsn)$")


def redact_secrets(text: str) -> str:
    """Hide the well-known shapes of secrets in ``text`` (headers, key=value pairs, DSNs)."""
    if text.isascii():
        if not _MAYBE_SECRET_LOWER.search(text.lower()):
            return text
    elif not _MAYBE_SECRET.search(text):
        return text
    text = _AUTHORIZATION.sub(rf"\1\2\3{_REDACTED}", text)
    text = _BEARER.sub(rf"\1 {_REDACTED}", text)
    text = _KEY_VALUE.sub(_redact_key_value, text)
    text = _API_KEY_SHAPES.sub(_REDACTED, text)
    return scrub_dsn_passwords(text)


def _redact_key_value(match: re.Match[str]) -> str:
    value = match.group(3)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{match.group(2)}{quote}{_REDACTED}{quote}"


@functools.lru_cache(maxsize=4096)
def is_secret_field(name: str) -> bool:
    """Whether a mapping key (a header, an extra field) names a secret."""
    return bool(_SECRET_FIELD.match(name))


def _redact_value(value: Any, scrub: Scrub | None) -> Any:
    if isinstance(value, str):
        return redact_secrets(scrub(value) if scrub is not None else value)
    if isinstance(value, Mapping):
        return {
            k: _REDACTED
            if isinstance(k, str) and is_secret_field(k) and isinstance(v, str | bytes)
            else _redact_value(v, scrub)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(v, scrub) for v in value]
    return value


def redact_field(name: str, value: Any, scrub: Scrub | None) -> Any:
    """A record's field as logs show it: a string under a secret's name is hidden whole, and
    every string within the value is scrubbed and redacted (:func:`redact_secrets`)."""
    if is_secret_field(name) and isinstance(value, str | bytes):
        return _REDACTED
    return _redact_value(value, scrub)


def _extra_scrub(scrub: Scrub) -> Scrub | None:
    # redact_secrets hides DSN passwords already: skip the default scrub's second pass.
    return None if scrub is scrub_dsn_passwords else scrub


# Fields set by the logging machinery and the context filter: never secrets.
_PLAIN_FIELDS = frozenset({"timestamp", "level", "logger", "trace_id", "span_id", "request_id"})
# The fields every line starts with: an extra of the same name takes the slow path.
_LEADING_FIELDS = frozenset({"timestamp", "level", "logger", "message"})
# The attributes every LogRecord has, and the message the formatter adds.
_STANDARD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}
# Parts of lines made once: (level, logger) -> what follows the timestamp up to the message,
# an added field's name -> what precedes its value. Bounded, for names made at run time.
_HEADS: dict[tuple[str, str], str] = {}
_EXTRA_PREFIXES: dict[str, str] = {}
_CACHED = 1024
# python-json-logger's encoder with its default settings, made once rather than per line.
_ENCODER = JsonEncoder()


_last_second: list[Any] = [None, ""]  # the second last written, and its date and time


def utc_timestamp(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat()``, its date and time made once a second.

    The microseconds are rounded half to even, and left out when zero, as ``datetime`` does.
    """
    fraction, whole = math.modf(created)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    last = _last_second
    if whole != last[0]:
        last[1] = datetime.fromtimestamp(whole, tz=UTC).isoformat()[:-6]
        last[0] = whole
    return f"{last[1]}.{micros:06d}+00:00" if micros else f"{last[1]}+00:00"


class ScrubbingJsonFormatter(JsonFormatter):
    """JSON formatter passing every string field (message, extras, traceback) through scrub.

    python-json-logger's formatter, its steps and options, with the common case made cheap: a
    record without an exception, stack or dict message, formatted with the default settings,
    is written straight to its line, the bytes python-json-logger's steps would make.
    """

    def __init__(self, scrub: Scrub = scrub_dsn_passwords, **kwargs: Any) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            **kwargs,
        )
        self.scrub = _extra_scrub(scrub)
        # python-json-logger's options are given to the constructor: decided once.
        self._direct = self._default_steps()
        # Whether a record's line is known without the record (obsstack.core.access_log): every
        # standard attribute skipped, the request's context fields shown.
        self.direct_without_record = (
            self._direct
            and self._skip_fields >= _STANDARD_FIELDS
            and self._skip_fields.isdisjoint(CONTEXT_FIELDS)
        )

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        if (
            not self._direct
            or record.exc_info
            or record.exc_text
            or record.stack_info
            or isinstance(record.msg, dict)
        ):
            return super().format(record)
        record.message = record.getMessage()
        added = fields.keys() - self._skip_fields
        extras: str | None = ""
        if added:
            # Fields added to a record (extra=..., filters) follow the standard ones: the
            # reversed walk meets them first.
            found = []
            for key in reversed(fields):
                if key in added:
                    found.append(key)
                    if len(found) == len(added):
                        break
            extras = self.encode_extras(fields, reversed(found))
            if extras is None:
                return super().format(record)
        return self.direct_line(
            record.created, record.levelname, record.name, record.message, extras
        )

    def direct_line(
        self, created: float, levelname: str, name: str, message: str, extras: str | None
    ) -> str:
        """The line of a record made of these fields, followed by ``extras`` (the encoded added
        fields, from :meth:`encode_extras`)."""
        head = _HEADS.get((levelname, name))
        if head is None:
            head = f'"level": {_encode(levelname)}, "logger": {_encode(name)}, "message": '
            if len(_HEADS) < _CACHED:
                _HEADS[(levelname, name)] = head
        text = redact_secrets(message if self.scrub is None else self.scrub(message))
        return (
            f'{self.prefix}{{"timestamp": "{utc_timestamp(created)}", {head}'
            f"{encode_basestring_ascii(text)}{extras or ''}}}"
        )

    def encode_extras(self, fields: Mapping[str, Any], keys: Iterable[str]) -> str | None:
        """The added fields of a record as they end its line; None when one needs the base's
        steps (a field named like a leading one, or not named by a string)."""
        scrub = self.scrub
        encoded = []
        for key in keys:
            prefix = _EXTRA_PREFIXES.get(key)
            if prefix is None:
                if key == "color_message" or (isinstance(key, str) and key.startswith("_")):
                    continue
                if not isinstance(key, str) or key in _LEADING_FIELDS:
                    return None
                prefix = f", {encode_basestring_ascii(key)}: "
                if len(_EXTRA_PREFIXES) < _CACHED:
                    _EXTRA_PREFIXES[key] = prefix
            value = fields[key]
            if key in _PLAIN_FIELDS and type(value) is str:
                encoded.append(prefix + encode_basestring_ascii(value))
                continue
            if key not in _PLAIN_FIELDS:
                value = redact_field(key, value, scrub)
            encoded.append(prefix + _encode(value))
        return "".join(encoded)

    def _default_steps(self) -> bool:
        """Whether this formatter runs python-json-logger's steps as configured here."""
        cls = type(self)
        return (
            cls.add_fields is ScrubbingJsonFormatter.add_fields
            and cls.process_log_record is ScrubbingJsonFormatter.process_log_record
            and cls.jsonify_log_record is ScrubbingJsonFormatter.jsonify_log_record
            and cls.serialize_log_record is JsonFormatter.serialize_log_record
            and not (self.defaults or self.static_fields or self.rename_fields_keep_missing)
            and self.timestamp is True
            and self._required_fields == ["levelname", "name", "message"]
            and self.rename_fields == {"levelname": "level", "name": "logger"}
            and self._default_encoding()
        )

    def _default_encoding(self) -> bool:
        return (
            self.json_serializer is json.dumps
            and self.json_encoder is JsonEncoder
            and self.json_default is None
            and self.json_indent is None
            and self.json_ensure_ascii
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # The timestamp leads the line: its key is placed first, its value set by the base.
        log_data["timestamp"] = None
        if self.defaults or self.static_fields or message_dict or self.rename_fields_keep_missing:
            super().add_fields(log_data, record, message_dict)
            return
        # The base's steps for this formatter's fields, without its general renaming loop.
        fields = record.__dict__
        rename = self.rename_fields
        for field in self._required_fields:
            log_data[rename.get(field, field)] = fields.get(field)
        skip = self._skip_fields
        for key, value in fields.items():
            if key not in skip and not (isinstance(key, str) and key.startswith("_")):
                log_data[rename.get(key, key)] = value
        log_data["timestamp"] = utc_timestamp(record.created)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        log_data.pop("color_message", None)  # uvicorn's copy of the message with ANSI codes
        scrub = self.scrub
        for key, value in log_data.items():
            if key not in _PLAIN_FIELDS:
                log_data[key] = redact_field(key, value, scrub)
        return log_data

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        if self._default_encoding():
            return _ENCODER.encode(log_data)
        return super().jsonify_log_record(log_data)


def _encode(value: Any) -> str:
    """``value`` as python-json-logger's default encoder writes it within a line."""
    return encode_basestring_ascii(value) if type(value) is str else _ENCODER.encode(value)


class ContextFilter(logging.Filter):
    """Adds trace_id, span_id, request_id and tenant_id of the current request to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.update(request_context())
        return True


def request_context() -> dict[str, str]:
    """The current request's trace_id, span_id, request_id and tenant_id, those that are known."""
    fields = {}
    context = current_span().get_span_context()
    if context.is_valid:  # trace.format_trace_id and format_span_id, in a third of the time
        fields["trace_id"] = context.trace_id.to_bytes(16, "big").hex()
        fields["span_id"] = context.span_id.to_bytes(8, "big").hex()
    request_id = REQUEST_ID.get()
    if request_id is not None:
        fields["request_id"] = request_id
    tenant_id = TENANT_ID.get()
    if tenant_id is not None:
        fields["tenant_id"] = tenant_id
    return fields


def set_tenant(tenant_id: str | None) -> None:
    """Record the tenant of the current request: later log lines of the request carry it."""
    TENANT_ID.set(tenant_id)


def parse_levels(text: str, source: str = LEVELS_ENV) -> dict[str, str]:
    """``"obsstack.kpis=debug, uvicorn.access=warning"`` -> {logger: LEVEL}; ConfigError if bad."""
    levels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, level = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(source, "", f"expected LOGGER=LEVEL items (got {item!r})")
        levels[name.strip()] = _level_name(level, source)
    return levels


def _level_name(level: str | int, source: str) -> str:
    if isinstance(level, int):
        return logging.getLevelName(level)
    if level.strip().lower() not in _LEVEL_NAMES:
        raise ConfigError(
            source, "", f"log level must be one of {', '.join(_LEVEL_NAMES)} (got {level!r})"
        )
    return level.strip().upper()


# Libraries that log every request they make at INFO: a probe exporter's log would be little
# else. Only their warnings and errors are kept, unless ``levels`` or the environment ask.
QUIET_LOGGERS = {"httpx": "WARNING", "httpcore": "WARNING"}

# Logger name -> level, as the last configure_logging set them.
_configured_loggers: dict[str, str] = {}
# The loggers whose levels uvicorn sets to its ``log_level`` when its Config is made.
UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_active_scrub: Scrub | None = None


def active_scrub() -> Scrub | None:
    """The known-secrets scrub :func:`configure_logging` was last given (None: the default)."""
    return _active_scrub


def configure_logging(
    level: str | int = "INFO",
    scrub: Scrub = scrub_dsn_passwords,
    stream: Any = None,
    *,
    levels: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    service_name: str | None = None,
    service_version: str | None = None,
) -> logging.Handler:
    """Send every log record (obsstack's, uvicorn's, libraries') as one JSON line to ``stream``.

    ``level`` is the root level and ``levels`` sets single loggers (``{"obsstack.kpis":
    "debug"}``), both usually from a configuration file; the environment overrides them:
    ``OBSSTACK_LOG_LEVEL`` for the root, ``OBSSTACK_LOG_LEVELS`` (``logger=level,...``) per logger.

    With a ``service_name``, the records are also exported over OTLP as that service when the
    environment configures an endpoint (:func:`obsstack.core.otel_logs.export_logs`); without one,
    an export set up before (e.g. by ``instrument_app``) goes on, with this ``scrub``.
    """
    from obsstack.core import access_log, otel_logs

    env = os.environ if env is None else env
    root_level = _level_name(env.get(LEVEL_ENV) or level, LEVEL_ENV)
    per_logger = dict(QUIET_LOGGERS)
    per_logger.update(
        {name: _level_name(value, "levels") for name, value in (levels or {}).items()}
    )
    per_logger.update(parse_levels(env.get(LEVELS_ENV, "")))

    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ScrubbingJsonFormatter(scrub))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    global _active_scrub
    _active_scrub = _extra_scrub(scrub)
    if service_name is not None:
        otel_logs.export_logs(service_name, service_version=service_version, env=env)
    else:
        otel_logs.resume_export()
    root.setLevel(root_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access_log.use_direct_access_lines()
    for name in _configured_loggers.keys() - per_logger.keys():
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name, name_level in per_logger.items():
        logging.getLogger(name).setLevel(name_level)
    _configured_loggers.clear()
    _configured_loggers.update(per_logger)
    return handler


def restore_server_levels() -> None:
    """Give uvicorn's loggers back the levels :func:`configure_logging` set for them.

    ``uvicorn.run(app, log_level=...)`` sets them to its ``log_level`` when it makes its Config,
    after an application object, and the logging it configured, already exist; a level named
    for them (``OBSSTACK_LOG_LEVELS=uvicorn.access=warning``) is what the operator asked for.
    Called when the application has started; the loggers no level was named for keep uvicorn's.
    """
    for name in UVICORN_LOGGERS:
        level = _configured_loggers.get(name)
        if level is not None:
            logging.getLogger(name).setLevel(level)
