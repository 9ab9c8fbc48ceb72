"""Sloth ``prometheus/v1`` spec files, accepted unchanged and mapped onto the obsstack model.

=====================================  ===================================================
Sloth                                  obsstack
=====================================  ===================================================
``service``                            SLO ``service`` (declared implicitly, no dependencies)
``labels``, ``slos[].labels``          ``labels`` on every record and alert of the SLO
``slos[].name``, ``objective``,        the same
``description``
``sli.events.error_query`` /           ``availability`` SLI from the two expressions,
``total_query``                        ``{{.window}}`` replaced by the base window
``sli.raw.error_ratio_query``          ``ratio`` SLI
``sli.plugin``                         refused: write the plugin's queries as ``events``
``alerting.labels`` / ``annotations``  added to both tiers
``alerting.page_alert`` /              the ``page`` / ``ticket`` tier: ``labels`` (may set
``ticket_alert``                       ``severity``), ``annotations``, ``disable``
``alerting.name``                      not used: alert names are obsstack's
=====================================  ===================================================

Sloth has no period in the file (it is a command-line flag): the including spec's default
period applies (30d), with the default window table.
"""

from __future__ import annotations

from alerts import sli as sli_kinds
from alerts.build import Defaults, build_slo, labels, name, read_extras, tiers_with
from alerts.model import SLI, SLO
from alerts.windows import WindowTable
from exporters.spec import Section

VERSION = "prometheus/v1"


def read(document: Section, defaults: Defaults, tables: dict[str, WindowTable]) -> list[SLO]:
    """Every SLO of a Sloth spec."""
    document.string("version", choices=(VERSION,))
    service = name(document, "service")
    common_labels = labels(document, "labels")
    table = tables[defaults.alert_windows]
    slos = []
    for item in document.sections("slos"):
        slo_name = name(item, "name")
        objective = item.float("objective", minimum=0, maximum=100)
        description = item.string("description", "")
        slo_labels = {**common_labels, **labels(item, "labels")}
        sli = _read_sli(item.section("sli"))
        alerting = item.section("alerting", optional=True)
        alerting.string("name", "")
        extras = {}
        for tier, key in (("page", "page_alert"), ("ticket", "ticket_alert")):
            section = alerting.section(key, optional=True)
            extras[tier] = read_extras(section)
            section.close()
        common = read_extras(alerting, disable=False)
        alerting.close()
        slos.append(
            build_slo(
                item,
                service=service,
                slo_name=slo_name,
                objective=objective,
                sli=sli,
                period=defaults.period,
                table=table,
                tiers=tiers_with(table, defaults.period, common, extras),
                defaults=defaults,
                description=description,
                labels=slo_labels,
                absent_for=defaults.absent_for,
                page_min_events=defaults.page_min_events,
            )
        )
        item.close()
    document.close()
    return slos


def _read_sli(section: Section) -> SLI:
    present = [k for k in ("events", "raw", "plugin") if section.has(k)]
    if len(present) != 1:
        raise section.error(None, "must have exactly one of events, raw or plugin")
    if present[0] == "plugin":
        raise section.error(
            "plugin", "Sloth SLI plugins are not supported: write their queries as events"
        )
    if present[0] == "raw":
        raw = section.section("raw")
        query = raw.string("error_ratio_query")
        try:
            result = sli_kinds.ratio(query)
        except ValueError as exc:
            raise raw.error("error_ratio_query", str(exc)) from None
        raw.close()
    else:
        events = section.section("events")
        errors, total = events.string("error_query"), events.string("total_query")
        for key, query in (("error_query", errors), ("total_query", total)):
            try:
                sli_kinds.ratio(query)  # parses the template
            except ValueError as exc:
                raise events.error(key, str(exc)) from None
        result = sli_kinds.availability_expressions(errors, total)
        events.close()
    section.close()
    return result
