"""Sloth ``prometheus/v1`` specs, accepted unchanged and mapped onto the obsstack model.

One YAML document is one spec; a file may hold several (``---``), each read on its own, as
Sloth reads them (:mod:`obsstack.alerts.load` splits the file). Every field and its obsstack
meaning is
in the table of ``alerts/README.md`` ("Sloth and OpenSLO input"). In short: ``service``,
``labels``, ``slos[].name/objective/description/labels`` map one to one; ``sli.events`` is an
``availability`` SLI and ``sli.raw`` a ``ratio`` SLI; ``alerting`` adds its labels and
annotations to the page and ticket tiers and ``alerting.name`` names both tiers' alerts.
Plugins are refused, but for the two that change nothing (:data:`NO_EFFECT_PLUGINS`).

Sloth has no period in the file (it is the ``--default-slo-period`` flag): the including
spec's default period applies (30d for a Sloth file given on its own).
"""

from __future__ import annotations

import re

from obsstack.alerts import sli as sli_kinds
from obsstack.alerts.build import Defaults, build_slo, labels, name, read_extras, tiers_with
from obsstack.alerts.model import SLI, SLO, WINDOW_PLACEHOLDER, AlertTier
from obsstack.alerts.windows import WindowTable
from obsstack.core.spec import Section

VERSION = "prometheus/v1"
# Sloth's SLO plugins that leave the generated rules as they are: accepted, and ignored.
NO_EFFECT_PLUGINS = {
    "sloth.dev/core/noop/v1": "does nothing",
    "sloth.dev/core/validate/v1": "validates the SLO, which obsstack always does",
    "sloth.dev/core/debug/v1": "writes debug log lines while Sloth generates",
}
# Go template spellings of the window variable Sloth accepts: {{.window}}, {{ .window }}.
_WINDOW = re.compile(r"\{\{ *\.window *\}\}")
# A Prometheus alert name: what promtool accepts for `alert:`.
_ALERT_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def query_template(section: Section, key: str) -> str:
    """A Sloth query under ``key``: PromQL whose range is ``{{.window}}`` (however spaced)."""
    query = _WINDOW.sub(WINDOW_PLACEHOLDER, section.string(key))
    if WINDOW_PLACEHOLDER not in query:
        raise section.error(key, "must use {{.window}} for the range (as Sloth requires)")
    try:
        sli_kinds.ratio(query)  # parses the template with a concrete window
    except ValueError as exc:
        raise section.error(key, str(exc)) from None
    return query


def read(document: Section, defaults: Defaults, tables: dict[str, WindowTable]) -> list[SLO]:
    """Every SLO of one Sloth spec document, closed (unknown keys rejected)."""
    document.string("version", choices=(VERSION,))
    service = name(document, "service")
    common_labels = labels(document, "labels")
    _check_plugins(document, "slo_plugins")
    items = document.sections("slos")
    if not items:
        raise document.error("slos", "must list at least one SLO")
    table = tables[defaults.alert_windows]
    slos = []
    for item in items:
        slo_name = name(item, "name")
        objective = item.float("objective", minimum=0, maximum=100)
        _check_plugins(item, "plugins")
        slos.append(
            build_slo(
                item,
                service=service,
                slo_name=slo_name,
                objective=objective,
                sli=_read_sli(item.section("sli")),
                period=defaults.period,
                table=table,
                tiers=_read_alerting(item.section("alerting", optional=True), table, defaults),
                defaults=defaults,
                description=item.string("description", ""),
                labels={**common_labels, **labels(item, "labels")},
                absent_for=defaults.absent_for,
                page_min_events=defaults.page_min_events,
                inherited=("period", "evaluation_interval"),
            )
        )
        item.close()
    document.close()
    return slos


def _check_plugins(section: Section, key: str) -> None:
    """``slo_plugins`` or ``plugins``: ``{overridePrevious, chain: [{id, config, priority}]}``.

    obsstack has no plugin engine: a chain may only hold plugins that change nothing, and
    ``overridePrevious`` (which drops Sloth's default plugins, its rule generation) is refused.
    """
    plugins = section.section(key, optional=True)
    override = plugins.boolean("overridePrevious", False)
    for item in plugins.sections("chain", []):
        plugin_id = item.string("id")
        if plugin_id not in NO_EFFECT_PLUGINS:
            *others, last = NO_EFFECT_PLUGINS
            accepted = f"{', '.join(others)} and {last}"
            raise item.error(
                "id",
                f'Sloth SLO plugin "{plugin_id}" is not supported: obsstack runs no plugins '
                f"(only {accepted}, which change no rule, are accepted)",
            )
        item.integer("priority", 0)
        item.raw("config", None)  # what configures them changes no rule either
        item.close()
    if override:
        raise plugins.error(
            "overridePrevious",
            "is not supported: it drops Sloth's default plugins, which generate the rules",
        )
    plugins.close()


def _read_alerting(
    alerting: Section, table: WindowTable, defaults: Defaults
) -> tuple[AlertTier, ...]:
    """``alerting``: labels and annotations for both tiers, then per tier; ``name`` names both."""
    alert_name = alerting.string("name", "")
    extras = {}
    for tier, key in (("page", "page_alert"), ("ticket", "ticket_alert")):
        section = alerting.section(key, optional=True)
        extras[tier] = read_extras(section)
        section.close()
    common = read_extras(alerting, disable=False)
    if not alert_name and not all(extra.disabled for extra in extras.values()):
        raise alerting.error(
            "name", "is required unless page_alert and ticket_alert are both disabled (as in Sloth)"
        )
    if alert_name and not _ALERT_NAME.match(alert_name):
        raise alerting.error(
            "name",
            f"must be letters, digits, _ and :, not starting with a digit (got {alert_name!r})",
        )
    alerting.close()
    return tiers_with(table, defaults.period, common, extras, alert_name=alert_name)


def _read_sli(section: Section) -> SLI:
    present = [k for k in ("events", "raw", "plugin") if section.has(k)]
    if len(present) != 1:
        raise section.error(None, "must have exactly one of events, raw or plugin")
    if present[0] == "plugin":
        plugin = section.section("plugin")
        plugin_id = plugin.string("id")
        raise plugin.error(
            "id",
            f'Sloth SLI plugin "{plugin_id}" is not supported: write its queries as sli.events '
            "or sli.raw",
        )
    if present[0] == "raw":
        raw = section.section("raw")
        result = sli_kinds.ratio(query_template(raw, "error_ratio_query"))
        raw.close()
    else:
        events = section.section("events")
        errors = query_template(events, "error_query")
        total = query_template(events, "total_query")
        if errors == total:
            raise events.error(
                "total_query", "is the same query as error_query: every event would be an error"
            )
        result = sli_kinds.availability_expressions(errors, total)
        events.close()
    section.close()
    return result
