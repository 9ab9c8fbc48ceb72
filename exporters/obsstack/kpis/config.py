"""The KPI exporter's configuration file: server, database, defaults and the KPI queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from obsstack.core import naming
from obsstack.core.postgres_connection import Connection, read_connection
from obsstack.core.root import packaged
from obsstack.core.server_config import Auth, read_server
from obsstack.core.spec import Secrets, Section, open_document

VERSION = "obsstack/v1"
DEFAULT_LISTEN = "127.0.0.1:9411"
SHIPPED = packaged("obsstack.kpis", "platform.yaml")
TYPES = ("gauge", "counter")
DEFAULT_MAX_ROWS = 10_000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*(,\s*[a-z_][a-z0-9_]*)*$")
_RESERVED = {spec.name for spec in naming.all_metrics() if spec.group == naming.KPI}
_SPECS = {spec.name: spec for spec in naming.all_metrics()}
# Upper bounds, checked when the file is read (documented in exporters/obsstack/kpis/README.md).
MAX_LABEL_CAP = 100_000
MAX_INTERVAL = 86400.0
MAX_TIMEOUT = 3600.0
MAX_STALE_AFTER = 7 * 86400.0


@dataclass(frozen=True)
class Database:
    connection: Connection
    search_path: str | None
    max_connections: int | None  # None: one connection per KPI
    allow_privileged_role: bool


@dataclass(frozen=True)
class Kpi:
    name: str
    metric: str
    type: str
    help: str
    labels: tuple[str, ...]
    value: str
    sql: str
    interval: float
    timeout: float
    label_cap: int
    stale_after: float
    max_rows: int


@dataclass(frozen=True)
class Config:
    file: str
    listen: str
    log_level: str
    log_levels: dict[str, str]
    auth: Auth | None
    database: Database
    kpis: tuple[Kpi, ...]
    secrets: Secrets


@dataclass(frozen=True)
class Defaults:
    interval: float
    timeout: float
    label_cap: int
    max_rows: int


def _database(document: Section) -> Database:
    section = document.section("database")
    search_path = section.string("search_path", None)
    if search_path is not None and not _IDENTIFIER.match(search_path):
        raise section.error(
            "search_path", f"must be schema names separated by commas (got {search_path!r})"
        )
    database = Database(
        connection=read_connection(section),
        search_path=search_path,
        max_connections=section.integer("max_connections", None, minimum=1),
        allow_privileged_role=section.boolean("allow_privileged_role", False),
    )
    section.close()
    return database


def _kpi(item: Section, defaults: Defaults) -> Kpi:
    name = item.string("name")
    if not _NAME.match(name):
        raise item.error("name", f"must match {_NAME.pattern} (got {name!r})")
    metric = item.string("metric")
    if not _METRIC.match(metric):
        raise item.error("metric", f"is not a valid metric name (got {metric!r})")
    if metric in _RESERVED:
        raise item.error("metric", f"{metric} is exported by the KPI exporter itself")
    kind = item.string("type", choices=TYPES)
    labels = tuple(item.str_list("labels", []))
    for index, label in enumerate(labels):
        if not _LABEL.match(label) or label.startswith("__"):
            raise item.error(f"labels[{index}]", f"is not a valid label name (got {label!r})")
        if label in labels[:index]:
            raise item.error(f"labels[{index}]", f"duplicate label {label!r}")
    spec = _SPECS.get(metric)
    help_text = item.string("help", None) or (spec.help if spec else None)
    if help_text is None:
        raise item.error("help", f"is required: {metric} is not in obsstack.core.naming")
    if spec is not None:
        if spec.type != kind:
            raise item.error("type", f"{metric} is a {spec.type} in obsstack.core.naming")
        if set(spec.labels) != set(labels):
            expected = ", ".join(spec.labels) or "none"
            raise item.error(
                "labels",
                f"{metric} has labels {expected} in obsstack.core.naming "
                f"(got {', '.join(labels) or 'none'})",
            )
    if kind == "counter" and not metric.endswith("_total"):
        raise item.error("metric", f"a counter's name must end in _total (got {metric!r})")
    value = item.string("value", "value")
    interval = item.duration("interval", defaults.interval, maximum=MAX_INTERVAL)
    timeout = item.duration("timeout", defaults.timeout, maximum=MAX_TIMEOUT)
    if timeout >= interval:
        raise item.error("timeout", "must be shorter than the interval")
    kpi = Kpi(
        name=name,
        metric=metric,
        type=kind,
        help=help_text,
        labels=labels,
        value=value,
        sql=item.string("sql").strip(),
        interval=interval,
        timeout=timeout,
        label_cap=item.integer("label_cap", defaults.label_cap, minimum=1, maximum=MAX_LABEL_CAP),
        stale_after=item.duration("stale_after", 3 * interval, maximum=MAX_STALE_AFTER),
        max_rows=item.integer("max_rows", defaults.max_rows, minimum=1),
    )
    if kpi.stale_after < interval:
        raise item.error("stale_after", "must be at least the interval")
    return kpi


def _unique(document: Section, kpis: list[Kpi], field: str) -> None:
    seen: dict[str, int] = {}
    for index, kpi in enumerate(kpis):
        value = getattr(kpi, field)
        if value in seen:
            raise document.error(
                f"kpis[{index}].{field}", f"duplicate {field} {value!r} (also kpis[{seen[value]}])"
            )
        seen[value] = index


def read_config(document: Section) -> Config:
    """Map a parsed KPI configuration document to a validated Config."""
    version = document.string("version", VERSION)
    if version != VERSION:
        raise document.error("version", f"must be {VERSION} (got {version!r})")
    server = document.section("server", optional=True)
    settings = read_server(server, DEFAULT_LISTEN)
    server.close()
    database = _database(document)
    section = document.section("defaults", optional=True)
    defaults = Defaults(
        interval=section.duration("interval", 30.0, maximum=MAX_INTERVAL),
        timeout=section.duration("timeout", 5.0, maximum=MAX_TIMEOUT),
        label_cap=section.integer("label_cap", 100, minimum=1, maximum=MAX_LABEL_CAP),
        max_rows=section.integer("max_rows", DEFAULT_MAX_ROWS, minimum=1),
    )
    section.close()
    kpis = document.each("kpis", lambda item: _kpi(item, defaults))
    if not kpis:
        raise document.error("kpis", "must list at least one KPI query")
    _unique(document, kpis, "name")
    _unique(document, kpis, "metric")
    document.close()
    return Config(
        file=document.file,
        listen=settings.listen,
        log_level=settings.log_level,
        log_levels=settings.log_levels,
        auth=settings.auth,
        database=database,
        kpis=tuple(kpis),
        secrets=document.secrets,
    )


def load_config(path: Path | str, env: dict[str, str] | None = None) -> Config:
    """Load and validate a KPI configuration file; raises ConfigError."""
    return read_config(open_document(path, env=env))
