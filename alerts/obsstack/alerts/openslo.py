"""OpenSLO ``v1`` documents (``kind: SLO`` with a ratio indicator), mapped onto the obsstack model.

=================================================  ==========================================
OpenSLO                                            obsstack
=================================================  ==========================================
``metadata.name``, ``spec.service``                SLO ``name`` and ``service``
``spec.description``                               ``description``
``spec.indicator`` or ``spec.indicatorRef``        the SLI (``kind: SLI`` documents in the same
                                                   file are resolved by name)
``ratioMetric`` ``counter: true``, ``bad``/        ``availability`` SLI from two counter
``good`` + ``total``                               selectors (``good``: errors = total - good)
``ratioMetric`` ``counter: false``                 the queries give events per second already
``ratioMetric.raw`` + ``rawType``                  ``ratio`` SLI (``success``: 1 - the query)
``metricSource.spec.query``                        the PromQL (``type`` must be Prometheus)
``timeWindow[0].duration`` (rolling)               ``period``
``objectives[0].target`` / ``targetPercent``       ``objective``
``budgetingMethod: Occurrences``                   the only method supported
``alertPolicies``, ``kind: AlertPolicy`` etc.      not used: alerts come from the window table
=================================================  ==========================================
"""

from __future__ import annotations

from typing import Any

from obsstack.alerts import sli as sli_kinds
from obsstack.alerts.build import Defaults, TierExtras, build_slo, name, tiers_with
from obsstack.alerts.model import SLI, SLO
from obsstack.alerts.windows import WindowTable
from obsstack.core.spec import Environment, Section

VERSION = "openslo/v1"
IGNORED_KINDS = (
    "Service",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "DataSource",
)


def read(
    documents: list[tuple[int, Any]],
    file: str,
    defaults: Defaults,
    tables: dict[str, WindowTable],
    env: Environment | None = None,
) -> list[tuple[int, SLO]]:
    """The ``kind: SLO`` documents among ``documents`` (index in the file, parsed YAML), each
    with its index; ``kind: SLI`` documents are what their ``indicatorRef`` names."""
    sections = [(i, Section(doc, file, f"documents[{i}]", env=env)) for i, doc in documents]
    indicators: dict[str, Section] = {}
    slo_documents = []
    for index, document in sections:
        document.string("apiVersion", choices=(VERSION,))
        kind = document.string("kind", choices=("SLO", "SLI", *IGNORED_KINDS))
        if kind == "SLI":
            metadata = document.section("metadata")
            indicators[name(metadata, "name")] = document.section("spec")
        elif kind == "SLO":
            slo_documents.append((index, document))
    return [(i, _read_slo(doc, indicators, defaults, tables)) for i, doc in slo_documents]


def _read_slo(
    document: Section,
    indicators: dict[str, Section],
    defaults: Defaults,
    tables: dict[str, WindowTable],
) -> SLO:
    metadata = document.section("metadata")
    slo_name = name(metadata, "name")
    for key in ("displayName", "labels", "annotations"):
        metadata.raw(key, None)
    metadata.close()
    spec = document.section("spec")
    spec.raw("alertPolicies", None)
    description = spec.string("description", "")
    service = name(spec, "service")
    method = spec.string("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise spec.error("budgetingMethod", f"only Occurrences is supported (got {method!r})")
    period = _period(spec)
    objective = _objective(spec)
    sli = _indicator(spec, indicators)
    spec.close()
    document.close()
    table = tables[defaults.alert_windows]
    return build_slo(
        spec,
        service=service,
        slo_name=slo_name,
        objective=objective,
        sli=sli,
        period=period,
        table=table,
        tiers=tiers_with(table, period, TierExtras(), {}),
        defaults=defaults,
        key_paths={"objective": "objectives[0]", "period": "timeWindow[0].duration"},
        inherited=("evaluation_interval",),
        description=description,
        absent_for=defaults.absent_for,
        page_min_events=defaults.page_min_events,
    )


def _period(spec: Section) -> float:
    windows = spec.sections("timeWindow")
    if len(windows) != 1:
        raise spec.error("timeWindow", "must list exactly one window")
    window = windows[0]
    if not window.boolean("isRolling", False):
        raise window.error("isRolling", "only rolling windows are supported")
    period: float = window.duration("duration")
    window.close()
    return period


def _objective(spec: Section) -> float:
    objectives = spec.sections("objectives")
    if len(objectives) != 1:
        raise spec.error("objectives", "must list exactly one objective")
    objective = objectives[0]
    objective.raw("displayName", None)
    if objective.has("targetPercent"):
        percent: float = objective.float("targetPercent", minimum=0, maximum=100)
    else:
        percent = objective.float("target", minimum=0, maximum=1) * 100
    objective.close()
    return float(f"{percent:.10g}")


def _indicator(spec: Section, indicators: dict[str, Section]) -> SLI:
    if spec.has("indicatorRef"):
        ref = spec.string("indicatorRef")
        if ref not in indicators:
            raise spec.error("indicatorRef", f"no kind: SLI document named {ref!r} in this file")
        indicator = indicators[ref]
    else:
        inline = spec.section("indicator")
        inline.raw("metadata", None)
        indicator = inline.section("spec")
        inline.close()
    indicator.raw("description", None)
    if indicator.has("thresholdMetric"):
        raise indicator.error("thresholdMetric", "only ratioMetric indicators are supported")
    ratio = indicator.section("ratioMetric")
    indicator.close()
    counter = ratio.boolean("counter", True)
    try:
        result = _ratio_sli(ratio, counter)
    except ValueError as exc:
        raise ratio.error(None, str(exc)) from None
    ratio.close()
    return result


def _query(ratio: Section, key: str) -> str:
    source = ratio.section(key).section("metricSource")
    kind = source.string("type", "Prometheus")
    if kind.lower() != "prometheus":
        raise source.error("type", f"must be Prometheus (got {kind!r})")
    source.raw("metricSourceRef", None)
    spec = source.section("spec")
    query: str = spec.string("query")
    spec.close()
    source.close()
    return query


def _ratio_sli(ratio: Section, counter: bool) -> SLI:
    if ratio.has("raw"):
        raw_type = ratio.string("rawType", choices=("success", "failure"))
        query = _query(ratio, "raw")
        return sli_kinds.ratio(query if raw_type == "failure" else f"1 - ({query})")
    total = _query(ratio, "total")
    if ratio.has("bad") == ratio.has("good"):
        raise ratio.error(None, "needs total and exactly one of good or bad")
    if ratio.has("bad"):
        bad = _query(ratio, "bad")
        if counter:
            return sli_kinds.availability(bad, total)
        return sli_kinds.availability_expressions(bad, total)
    good = _query(ratio, "good")
    if counter:
        return sli_kinds.good_and_total(good, total)
    return sli_kinds.availability_expressions(f"({total}) - ({good})", total)
