"""Reading ``obsstack/v1`` SLO specs (``alerts/slos.yaml``) into the model, strictly.

Shape (every key is documented in ``alerts/README.md``)::

    version: obsstack/v1
    defaults: {period: 30d, alert_windows: sre-workbook, absent_for: 10m, page_min_events: 0}
    links: {grafana: URL, runbooks: URL of docs/runbooks.md}
    alert_windows: {NAME: window table}      # optional, see alerts/windows.yaml
    include: [sloth-or-openslo-file.yaml]    # optional, relative to this file
    services: [{name, description, depends_on: [dependency names]}]
    slos: [{service, name, objective, sli: {kind, ...}, ...}]

Errors name the file and key path: ``slos.yaml: slos[2].objective: must be between 0 and 100
(got 120)``. The Sloth and OpenSLO readers share :func:`build_slo`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from alerts import promql
from alerts import sli as sli_kinds
from alerts.model import (
    SLI,
    SLI_KINDS,
    SLO,
    TIER_NAMES,
    WINDOW_PLACEHOLDER,
    AlertTier,
    Service,
    number_text,
)
from alerts.windows import DEFAULT_TABLE, WindowTable, read_for, read_tables
from exporters import naming
from exporters.spec import ConfigError, Section, format_duration

VERSION = "obsstack/v1"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = {naming.SERVICE_LABEL, naming.SLO_LABEL, naming.TIER_LABEL, "alertname"}
SLO_DASHBOARD_PATH = "/d/obsstack-slos/slos"  # the SLOs dashboard (uid obsstack-slos)
DEPENDENCIES_DASHBOARD_PATH = "/d/obsstack-dependencies/dependencies"


@dataclass(frozen=True)
class Links:
    """Where alert links point: Grafana's external URL and the runbooks document."""

    grafana: str = "http://localhost:3000"
    runbooks: str = "https://github.com/obsstack/obsstack/blob/main/docs/runbooks.md"

    def slo_dashboard(self, service: str, slo: str) -> str:
        return (
            f"{self.grafana.rstrip('/')}{SLO_DASHBOARD_PATH}"
            f"?var-service={quote(service)}&var-slo={quote(slo)}"
        )


@dataclass(frozen=True)
class Defaults:
    """Spec-wide defaults every SLO may override."""

    period: float = 30 * 86400.0
    alert_windows: str = DEFAULT_TABLE
    absent_for: float = 600.0
    page_min_events: float = 0.0
    links: Links = field(default_factory=Links)


def name(section: Section, key: str) -> str:
    value: str = section.string(key)
    if not NAME.match(value):
        raise section.error(key, f"must be letters, digits, - and _ (got {value!r})")
    return value


def labels(section: Section, key: str, *, allow_severity: bool = False) -> dict[str, str]:
    """A label mapping; the identity labels the rules set themselves are refused."""
    values: dict[str, str] = section.str_map(key, {})
    for label in values:
        if not LABEL.match(label) or label.startswith("__"):
            raise section.error(f"{key}.{label}", "is not a valid label name")
        reserved = RESERVED_LABELS | (set() if allow_severity else {naming.SEVERITY_LABEL})
        if label in reserved:
            raise section.error(f"{key}.{label}", "is set by obsstack and cannot be overridden")
    return values


def read_defaults(section: Section) -> Defaults:
    base = Defaults()
    links = section.section("links", optional=True) if section.has("links") else None
    result = Defaults(
        period=section.duration("period", base.period),
        alert_windows=section.string("alert_windows", base.alert_windows),
        absent_for=read_for(section, "absent_for") if section.has("absent_for") else 600.0,
        page_min_events=section.float("page_min_events", 0.0, minimum=0),
    )
    if links is not None:
        result = replace(result, links=read_links(links))
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
    value = section.raw("threshold")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    seconds: float = section.duration("threshold")
    return seconds


@dataclass(frozen=True)
class TierExtras:
    """What a spec adds to a tier of its window table."""

    disabled: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def tiers_with(
    table: WindowTable,
    period: float,
    common: TierExtras,
    extras: dict[str, TierExtras],
) -> tuple[AlertTier, ...]:
    """The table's tiers for ``period``, labels and annotations added, disabled ones left out."""
    tiers = []
    for tier in table.tiers_for(period):
        extra = extras.get(tier.name, TierExtras())
        if not extra.disabled:
            tiers.append(
                replace(
                    tier,
                    labels={**common.labels, **extra.labels},
                    annotations={**common.annotations, **extra.annotations},
                )
            )
    return tuple(tiers)


def read_extras(section: Section, *, disable: bool = True) -> TierExtras:
    """``labels`` and ``annotations`` (and ``disable``) of an alerting section, closed."""
    extras = TierExtras(
        disabled=section.boolean("disable", False) if disable else False,
        labels=labels(section, "labels", allow_severity=True),
        annotations=section.str_map("annotations", {}),
    )
    return extras


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


def build_slo(
    where: Section,
    *,
    service: str,
    slo_name: str,
    objective: float,
    sli: SLI,
    period: float,
    table: WindowTable,
    tiers: tuple[AlertTier, ...],
    defaults: Defaults,
    **details: object,
) -> SLO:
    """Assemble and cross-check an SLO; ``where`` is the SLO's section, for error messages."""
    if objective >= 100:
        raise where.error("objective", "must be below 100: 100 % leaves no error budget")
    if objective <= 0:
        raise where.error("objective", f"must be above 0 (got {objective:g})")
    if table.longest > period:
        raise where.error(
            "period",
            f"must be at least the longest alert window {format_duration(table.longest)} "
            f"of table {table.name} (got {format_duration(period)})",
        )
    slo = SLO(
        service=service,
        name=slo_name,
        objective=objective,
        sli=sli,
        period=period,
        tiers=tiers,
        runbooks=defaults.links.runbooks,
        source=f"{where.file}: {where.path}",
        **details,  # type: ignore[arg-type]
    )
    if not slo.dashboard_url:
        slo = replace(slo, dashboard_url=defaults.links.slo_dashboard(service, slo_name))
    for tier in slo.tiers:
        for window in tier.windows:
            needed = window.factor * slo.error_budget
            if needed >= 1:
                raise where.error(
                    "objective",
                    f"leaves an error budget of {number_text(slo.error_budget * 100)} %: the "
                    f"{tier.name} window {window.long_name}/{window.short_name} at "
                    f"{number_text(window.factor)}x would need more than "
                    f"{number_text(needed * 100)} % errors and could never fire "
                    "(use an alert_windows table with smaller factors)",
                )
    return slo


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
        page_min_events=item.float("page_min_events", defaults.page_min_events, minimum=0),
        absent_for=read_for(item, "absent_for") if item.has("absent_for") else defaults.absent_for,
    )
    item.close()
    return slo


def check_unique_slos(slos: list[SLO]) -> None:
    """Raise on the first SLO whose service and name repeat an earlier one."""
    seen: dict[tuple[str, str], str] = {}
    for slo in slos:
        file, _, path = slo.source.rpartition(": ")
        first = seen.setdefault((slo.service, slo.name), slo.source)
        if first != slo.source:
            first_file, _, first_path = first.rpartition(": ")
            where = first_path if first_file == file else first
            raise ConfigError(
                file, f"{path}.name", f"duplicate SLO {slo.service}/{slo.name} (first at {where})"
            )


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
    """What an ``obsstack/v1`` file declares; ``includes`` are read by :mod:`alerts.load`."""

    services: list[Service]
    slos: list[SLO]
    defaults: Defaults
    tables: dict[str, WindowTable]
    includes: list[tuple[str, str]]  # (path as written, key path)


def read_document(document: Section, builtin: dict[str, WindowTable]) -> Document:
    """An ``obsstack/v1`` document, closed (unknown keys rejected)."""
    defaults = read_defaults(document.section("defaults", optional=True))
    if document.has("links"):
        defaults = replace(defaults, links=read_links(document.section("links")))
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
