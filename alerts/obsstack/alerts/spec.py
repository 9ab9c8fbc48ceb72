"""Reading ``obsstack/v1`` SLO specs (``alerts/slos.yaml``) into the model, strictly.

Shape (every key is documented in ``alerts/README.md``)::

    version: obsstack/v1
    defaults: {period: 30d, alert_windows: sre-workbook, absent_for: 10m, page_min_events: 0}
    links: {grafana: URL, runbooks: URL of docs/runbooks.md}
    alert_windows: {NAME: window table}      # optional, see alerts/obsstack/alerts/windows.yaml
    include: [sloth-or-openslo-file.yaml]    # optional, relative to this file
    services: [{name, description, depends_on: [dependency names]}]
    slos: [{service, name, objective, sli: {kind, ...}, ...}]

Errors name the file and key path: ``slos.yaml: slos[2].objective: must be between 0 and 100
(got 120)``. The Sloth and OpenSLO readers share :mod:`obsstack.alerts.build` with this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from obsstack.alerts import promql
from obsstack.alerts import sli as sli_kinds
from obsstack.alerts.build import (
    Defaults,
    Links,
    TierExtras,
    build_slo,
    labels,
    name,
    read_extras,
    tiers_with,
)
from obsstack.alerts.model import (
    SLI,
    SLI_KINDS,
    SLO,
    TIER_NAMES,
    WINDOW_PLACEHOLDER,
    AlertTier,
    Service,
)
from obsstack.alerts.windows import WindowTable, read_for, read_tables
from obsstack.core.spec import ConfigError, Section

VERSION = "obsstack/v1"
MAX_PAGE_MIN_EVENTS = 1e12  # events in a page window: more is a typo, not traffic
MAX_THRESHOLD = 3600.0  # seconds: a latency SLI's threshold


def read_defaults(section: Section, links: Links) -> Defaults:
    base = Defaults()
    result = Defaults(
        period=section.duration("period", base.period),
        alert_windows=section.string("alert_windows", base.alert_windows),
        absent_for=read_for(section, "absent_for") if section.has("absent_for") else 600.0,
        page_min_events=section.float(
            "page_min_events", 0.0, minimum=0, maximum=MAX_PAGE_MIN_EVENTS
        ),
        evaluation_interval=section.duration("evaluation_interval", base.evaluation_interval),
        sloth_records=section.boolean("sloth_records", False),
        links=links,
        origin=(section.file, section.path),
    )
    section.close()
    return result


def read_links(section: Section) -> Links:
    base = Links()
    links = Links(
        grafana=section.string("grafana", base.grafana),
        runbooks=section.string("runbooks", base.runbooks),
    )
    section.close()
    return links


def read_service(item: Section) -> Service:
    return Service(
        name=name(item, "name"),
        description=item.string("description", ""),
        depends_on=tuple(item.str_list("depends_on", [])),
    )


def _selector(section: Section, key: str) -> str:
    """A series selector under ``key``, checked with the PromQL parser."""
    value: str = section.string(key)
    try:
        promql.selector(value)
    except ValueError as exc:
        raise section.error(key, str(exc)) from None
    return value


def _expression(section: Section, key: str) -> str:
    """A PromQL expression under ``key`` (``{{.window}}`` allowed for the range)."""
    value: str = section.string(key)
    try:
        promql.check(value.replace(WINDOW_PLACEHOLDER, "5m"))
    except ValueError as exc:
        raise section.error(key, str(exc)) from None
    return value


def read_sli(section: Section) -> SLI:
    """``sli: {kind: availability|latency|uptime|ratio, ...}``."""
    kind = section.string("kind", choices=SLI_KINDS)
    if kind == "availability":
        result = sli_kinds.availability(_selector(section, "errors"), _selector(section, "total"))
    elif kind == "latency":
        histogram = _selector(section, "histogram")
        threshold = _threshold(section)
        try:
            result = sli_kinds.latency(histogram, threshold)
        except ValueError as exc:
            raise section.error("histogram", str(exc)) from None
    elif kind == "uptime":
        result = sli_kinds.uptime(_selector(section, "metric"))
    else:
        result = sli_kinds.ratio(_expression(section, "error_ratio"))
    section.close()
    return result


def _threshold(section: Section) -> float:
    """Seconds, as a number or a duration (``250ms``), above 0 and at most an hour."""
    if isinstance(section.raw("threshold"), str):
        seconds: float = section.duration("threshold", maximum=MAX_THRESHOLD)
        return seconds
    number: float = section.float("threshold", minimum=0, exclusive=True)
    if number > MAX_THRESHOLD:
        raise section.error("threshold", f"must be at most 1h (got {number:g})")
    return number


def read_tiers(section: Section, table: WindowTable, period: float) -> tuple[AlertTier, ...]:
    """``alerting: {labels, annotations, page: {...}, ticket: {...}}`` applied to the table."""
    alerting = section.section("alerting", optional=True)
    extras: dict[str, TierExtras] = {}
    for tier_name in TIER_NAMES:
        if alerting.has(tier_name):
            if all(t.name != tier_name for t in table.tiers):
                raise alerting.error(
                    tier_name, f"window table {table.name} has no {tier_name} tier"
                )
            tier = alerting.section(tier_name)
            extras[tier_name] = read_extras(tier)
            tier.close()
    common = read_extras(alerting, disable=False)
    alerting.close()
    return tiers_with(table, period, common, extras)


def read_slo(
    item: Section,
    defaults: Defaults,
    tables: dict[str, WindowTable],
    services: dict[str, Service],
) -> SLO:
    service = item.string("service")
    if service not in services:
        raise item.error("service", f"unknown service {service!r} (declare it under services)")
    slo_name = name(item, "name")
    objective = item.float("objective", minimum=0, maximum=100)
    period = item.duration("period", defaults.period)
    table_name = item.string("alert_windows", defaults.alert_windows)
    if table_name not in tables:
        known = ", ".join(sorted(tables))
        raise item.error("alert_windows", f"unknown window table {table_name!r} (known: {known})")
    inherited = tuple(k for k in ("period", "evaluation_interval") if item.data.get(k) is None)
    sli_section = item.section("sli")
    sli = read_sli(sli_section)
    tiers = read_tiers(item, tables[table_name], period)
    slo = build_slo(
        item,
        service=service,
        slo_name=slo_name,
        objective=objective,
        sli=sli,
        period=period,
        table=tables[table_name],
        tiers=tiers,
        defaults=defaults,
        description=item.string("description", ""),
        labels=labels(item, "labels"),
        annotations=item.str_map("annotations", {}),
        runbook_url=item.string("runbook_url", ""),
        dashboard_url=item.string("dashboard_url", ""),
        page_min_events=item.float(
            "page_min_events", defaults.page_min_events, minimum=0, maximum=MAX_PAGE_MIN_EVENTS
        ),
        absent_for=read_for(item, "absent_for") if item.has("absent_for") else defaults.absent_for,
        evaluation_interval=item.duration("evaluation_interval", defaults.evaluation_interval),
        inherited=inherited,
    )
    item.close()
    return slo


def read_tables_section(
    document: Section, builtin: dict[str, WindowTable]
) -> dict[str, WindowTable]:
    tables = dict(builtin)
    for table_name, table in read_tables(document, "alert_windows").items():
        if table_name in builtin:
            raise ConfigError(
                document.file,
                f"alert_windows.{table_name}",
                "is a built-in table name; pick another name",
            )
        tables[table_name] = table
    return tables


@dataclass(frozen=True)
class Document:
    """What an ``obsstack/v1`` file declares (``includes`` are read by :mod:`.load`)."""

    services: list[Service]
    slos: list[SLO]
    defaults: Defaults
    tables: dict[str, WindowTable]
    includes: list[tuple[str, str]]  # (path as written, key path)


def read_document(document: Section, builtin: dict[str, WindowTable]) -> Document:
    """An ``obsstack/v1`` document, closed (unknown keys rejected)."""
    links = read_links(document.section("links")) if document.has("links") else Links()
    defaults = read_defaults(document.section("defaults", optional=True), links)
    tables = read_tables_section(document, builtin)
    if defaults.alert_windows not in tables:
        raise document.error(
            "defaults.alert_windows", f"unknown window table {defaults.alert_windows!r}"
        )
    services = document.each("services", read_service)
    by_name: dict[str, Service] = {}
    for index, service in enumerate(services):
        if service.name in by_name:
            raise ConfigError(
                document.file, f"services[{index}].name", f"duplicate service {service.name!r}"
            )
        by_name[service.name] = service
    items = document.sections("slos", [])
    slos = [read_slo(item, defaults, tables, by_name) for item in items]
    includes = [(path, f"include[{i}]") for i, path in enumerate(document.str_list("include", []))]
    document.close()
    return Document(services, slos, defaults, tables, includes)
