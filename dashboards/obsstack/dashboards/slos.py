"""SLOs: one section per SLO of the spec (``alerts/slos.yaml`` or ``obsstack generate --slos``),
read through the alerts package's model, so the dashboard and the rules cannot disagree.

Each section shows the current SLI against the objective, the error budget left over the
period, the burn rate over every alert window with the page and ticket thresholds drawn, and
the SLO's firing alerts, with links to the runbooks and to the dependencies the service needs.
Above them, an overview filtered by ``$service`` and ``$slo``: the alerts' ``dashboard_url``
sets those two, so a page opens this dashboard on its SLO.
"""

from __future__ import annotations

from typing import Any

from obsstack.alerts import load_spec, records
from obsstack.alerts.model import SLO, SLOSpec
from obsstack.core import naming as n
from obsstack.core.artifacts import GenerateContext
from obsstack.dashboards.conventions import DEPENDENCIES, SLOS, dashboard_url
from obsstack.dashboards.layout import Cell, Section, dashboard, query_variable
from obsstack.dashboards.panels import Query, bargauge, gauge, link, stat, steps, table, timeseries

FOCUS = f'{n.SERVICE_LABEL}=~"$service", {n.SLO_LABEL}=~"$slo"'
SLO_ALERTS = "|".join(
    (
        n.ALERT_SLO_BURN_RATE_PAGE,
        n.ALERT_SLO_BURN_RATE_TICKET,
        n.ALERT_SLO_BUDGET_EXHAUSTED,
        n.ALERT_SLO_DATA_ABSENT,
    )
)
TIER_COLOURS = {n.TIER_PAGE: "red", n.TIER_TICKET: "orange"}
BUDGET_STEPS = (0.25, "orange"), (0.5, "green")
SLO_LEGEND = f"{{{{{n.SERVICE_LABEL}}}}} / {{{{{n.SLO_LABEL}}}}}"
SLI_WINDOW = "1h"  # the window the SLI-over-time graph uses


def load_slo_spec(context: GenerateContext) -> SLOSpec:
    """The SLO spec ``obsstack generate`` was given (``--slos``), or the shipped one."""
    return load_spec(context.spec)


def _matchers(slo: SLO) -> str:
    """``service="api", slo="availability"``: the SLO's own series, for ALERTS."""
    return records.selector(slo).strip("{}")


def _burn_thresholds(slo: SLO) -> list[Any]:
    """A step per burn-rate factor of the SLO's tiers, coloured by tier (page wins a tie)."""
    colours: dict[float, str] = {}
    for tier in sorted(slo.tiers, key=lambda t: t.name == n.TIER_PAGE):
        for window in tier.windows:
            colours[window.factor] = TIER_COLOURS.get(tier.name, "orange")
    return steps("green", *sorted(colours.items()))


def _links(slo: SLO, spec: SLOSpec) -> list[Any]:
    out = []
    runbooks = {slo.runbook_for(tier.alertname): f"Runbook: {tier.alertname}" for tier in slo.tiers}
    if len(runbooks) == 1:  # the SLO has one runbook of its own
        runbooks = {url: "Runbook" for url in runbooks}
    out += [link(title, url, new_tab=True) for url, title in runbooks.items()]
    try:
        needs = spec.service(slo.service).depends_on
    except KeyError:
        needs = ()
    if needs:
        out.append(
            link(f"Dependencies: {', '.join(needs)}", dashboard_url(DEPENDENCIES, dependency=needs))
        )
    return out


def _section(slo: SLO, spec: SLOSpec) -> Section:
    period = slo.period_name
    links = _links(slo, spec)
    burn_windows = [w for tier in slo.tiers for w in tier.windows]
    title = f"{slo.service} / {slo.name}: {slo.objective:g} % over {period}"
    if slo.description:
        title += f" ({slo.description})"
    return Section(
        title,
        [
            Cell(
                stat(
                    f"SLI over {period} (objective {slo.objective:g} %)",
                    f"Share of good events over the last {period} (SLI), so far. Green at or "
                    f"above the objective of {slo.objective:g} %, red below it.",
                    "percentunit",
                    [
                        Query(
                            f"1 - {records.query(records.ERROR_RATIO_PERIOD, slo)}", f"SLI {period}"
                        )
                    ],
                    thresholds=steps("red", (slo.objective_ratio, "green")),
                    decimals=3,
                    background=True,
                    graph=True,
                    links=links,
                ),
                4,
            ),
            Cell(
                gauge(
                    f"Error budget remaining ({period})",
                    f"Share of the {period} error budget not spent yet: 100 % untouched, 0 % "
                    "spent (below 0 the SLO is missed).",
                    "percentunit",
                    [Query(records.query(records.ERROR_BUDGET_REMAINING, slo))],
                    minimum=0,
                    maximum=1,
                    thresholds=steps("red", *BUDGET_STEPS),
                    links=links,
                ),
                4,
            ),
            Cell(
                timeseries(
                    "Burn rate per alert window",
                    "How fast the error budget burns over each alert window (1 spends it "
                    "exactly over the period). The dashed lines are the tiers' thresholds: "
                    "red pages, orange opens a ticket, when both the long and the short window "
                    "of a pair are above.",
                    "suffix:x",
                    [
                        Query(records.burn_rate_query(slo, w.long_name), f"{w.long_name}")
                        for w in sorted(burn_windows, key=lambda w: w.long)
                    ],
                    thresholds=_burn_thresholds(slo),
                    threshold_lines=True,
                    log_scale=True,
                    links=links,
                ),
                8,
            ),
            Cell(
                timeseries(
                    f"SLI over {SLI_WINDOW} windows",
                    f"Share of good events over the trailing {SLI_WINDOW}, against the "
                    f"objective (dashed).",
                    "percentunit",
                    [Query(f"1 - {records.query(records.error_ratio(SLI_WINDOW), slo)}", "SLI")],
                    thresholds=steps("red", (slo.objective_ratio, "green")),
                    threshold_lines=True,
                    maximum=1,
                    links=links,
                ),
                5,
            ),
            Cell(
                stat(
                    "Alerts firing",
                    "Alerts of this SLO firing now (burn rate page or ticket, budget "
                    "exhausted, data absent). 0 is good.",
                    "none",
                    [
                        Query(
                            f'count({n.StackComponentMetrics.ALERTS.name}{{alertstate="firing", '
                            f"{_matchers(slo)}}}) or vector(0)"
                        )
                    ],
                    thresholds=steps("green", (1, "red")),
                    background=True,
                    links=links,
                ),
                3,
            ),
        ],
    )


def _fastest_page_window(spec: SLOSpec) -> tuple[str, float] | None:
    """The long window and factor of the first SLO's fastest page condition (1h at 14.4 with
    the default windows); the lowest factor any SLO pages at over that window."""
    fastest = [
        max(tier.windows, key=lambda w: w.factor)
        for slo in spec.slos
        for tier in slo.tiers
        if tier.name == n.TIER_PAGE and tier.windows
    ]
    if not fastest:
        return None
    name = fastest[0].long_name
    return name, min(w.factor for w in fastest if w.long_name == name)


def _burn_now(spec: SLOSpec) -> list[Cell]:
    found = _fastest_page_window(spec)
    if found is None:
        return []
    window, factor = found
    per_slo = f"max by ({n.SERVICE_LABEL}, {n.SLO_LABEL})"
    on = f"on ({n.SERVICE_LABEL}, {n.SLO_LABEL})"
    expr = (
        f"{per_slo} ({records.error_ratio(window)}{{{FOCUS}}}) / {on} "
        f"{per_slo} ({records.ERROR_BUDGET}{{{FOCUS}}})"
    )
    return [
        Cell(
            bargauge(
                f"Burn rate now ({window})",
                f"How fast each SLO spends its error budget over the last {window}: 1 spends it "
                f"exactly over the period. Orange above 1, red from {factor:g}, where the page "
                "fires (with its short window).",
                "suffix:x",
                [Query(expr, SLO_LEGEND, instant=True)],
                thresholds=steps("green", (1, "orange"), (factor, "red")),
            ),
            8,
        )
    ]


def _overview(spec: SLOSpec) -> Section:
    alerts = n.StackComponentMetrics.ALERTS.name
    firing = f'{alerts}{{alertstate="firing", alertname=~"{SLO_ALERTS}", {FOCUS}}}'
    return Section(
        "Overview: which SLO burns, how fast, what fires? (filtered by service and SLO)",
        [
            Cell(
                stat(
                    "Alerts firing",
                    "SLO alerts firing now (burn rate page or ticket, budget exhausted, data "
                    "absent), for the selected SLOs. 0 is good.",
                    "none",
                    [Query(f"count({firing}) or vector(0)")],
                    thresholds=steps("green", (1, "red")),
                    background=True,
                    graph=True,
                ),
                3,
            ),
            *_burn_now(spec),
            Cell(
                bargauge(
                    "Error budget remaining",
                    "Share of each SLO's error budget left over its period. Orange under 50 %, "
                    "red under 25 %.",
                    "percentunit",
                    [
                        Query(
                            f"{records.ERROR_BUDGET_REMAINING}{{{FOCUS}}}",
                            SLO_LEGEND,
                            instant=True,
                        )
                    ],
                    maximum=1,
                    thresholds=steps("red", *BUDGET_STEPS),
                ),
                6,
            ),
            Cell(
                table(
                    "SLO alerts firing",
                    "Every SLO alert firing now, by SLO and severity.",
                    "none",
                    [
                        Query(
                            f"count by ({n.SERVICE_LABEL}, {n.SLO_LABEL}, alertname, "
                            f"{n.SEVERITY_LABEL}) ({firing})",
                            instant=True,
                            table=True,
                        )
                    ],
                    rename={"Value": "alerts"},
                ),
                7,
            ),
        ],
    )


def build(context: GenerateContext) -> Any:
    """The SLOs dashboard (grafanalib) for the spec of ``context``."""
    spec = load_slo_spec(context)
    service = query_variable(
        "service", "Service", f"label_values({records.OBJECTIVE}, {n.SERVICE_LABEL})"
    )
    slo = query_variable(
        "slo",
        "SLO",
        f'label_values({records.OBJECTIVE}{{{n.SERVICE_LABEL}=~"$service"}}, {n.SLO_LABEL})',
    )
    return dashboard(
        SLOS,
        f"Every SLO of {spec.source}: SLI against objective, error budget left, burn rate per "
        "alert window with the page and ticket thresholds, and firing alerts.",
        [_overview(spec), *(_section(s, spec) for s in spec.slos)],
        variables=[service, slo],
        time_from="now-7d",
        refresh="5m",
    )
