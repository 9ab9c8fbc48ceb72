"""Lint rules for generated dashboards, after grafana/dashboard-linter's checklist.

- the ``datasource`` variable exists and every panel and target reads from it;
- every panel has a title, a description and a unit; the dashboard is not editable;
- every target parses as PromQL once Grafana's variables are substituted;
- ``rate()`` and ``irate()`` use ``$__rate_interval``;
- counters (``*_total``, histogram ``_bucket``/``_count``/``_sum``) appear only inside
  ``rate``/``irate``/``increase``;
- every variable used is declared, and every declared variable is used;
- queries name only metrics of :mod:`obsstack.core.naming` or the generated recording rules.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import promql_parser

from obsstack.core import naming
from obsstack.core.artifacts import GenerateContext
from obsstack.dashboards.conventions import DATASOURCE, DATASOURCE_VARIABLE

Json = dict[str, Any]

# Grafana's global variables; ``$__rate_interval`` becomes a sentinel duration nobody writes by
# hand, so the parsed query tells whether a range came from it.
RATE_INTERVAL_SENTINEL = "7m13s"
_RATE_INTERVAL = datetime.timedelta(minutes=7, seconds=13)
GLOBALS = {
    "__rate_interval": RATE_INTERVAL_SENTINEL,
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
_LINK_GLOBALS = {"__url_time_range", "__from", "__to", "__all_variables", "__dashboard"}
_LINK_PREFIXES = ("__field", "__series", "__value", "__data")
# $name, ${name}, ${name:format}, ${name.path}, [[name]]; not $1, a capture group in
# label_replace's replacement, which Grafana leaves as it is (no variable is named 1)
_VARIABLE = re.compile(r"\$(?!\d+\b)(\w+)|\$\{(\w+)([:.][^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]")
_LABEL_VALUES = re.compile(r"^label_values\((?:(.*),\s*)?(\w+)\)$")
# Functions over a counter's samples; resets() counts its restarts (a process or cgroup anew).
RANGE_FUNCTIONS = {"rate", "irate", "increase", "resets"}
_SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


@dataclass(frozen=True)
class Problem:
    """One lint finding: where in the dashboard, and what is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def series_names(spec: naming.MetricSpec) -> list[str]:
    """The series names a metric appears under in Prometheus."""
    suffixes = _SUFFIXES.get(spec.type)
    return [spec.name + s for s in suffixes] if suffixes else [spec.name]


def exported_names() -> set[str]:
    """Every series name obsstack exports or reads from the stack's components."""
    specs = naming.all_metrics() + naming.StackComponentMetrics.all()
    return {name for spec in specs for name in series_names(spec)}


def counter_names() -> set[str]:
    """Series that only make sense inside rate/irate/increase/resets (``*_total`` are added by
    name)."""
    specs = naming.all_metrics() + naming.StackComponentMetrics.all()
    return {
        spec.name + suffix
        for spec in specs
        if spec.type == "histogram"
        for suffix in _SUFFIXES["histogram"]
    }


def expand(text: str, values: Mapping[str, str]) -> str:
    """``text`` with Grafana's variables replaced from ``values`` (name -> value), globals
    ``values`` does not bind by sample durations; unknown names are left as they are."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in (match[1], match[2], match[4]) if group)
        if name in values:
            return values[name]
        return GLOBALS.get(name, match[0])

    return _VARIABLE.sub(replace, text)


def variables_in(text: str) -> set[str]:
    """Names of the variables ``text`` uses, Grafana's globals and link variables excluded."""
    names = {next(g for g in (m[1], m[2], m[4]) if g) for m in _VARIABLE.finditer(text)}
    return {
        name
        for name in names
        if name not in GLOBALS and name not in _LINK_GLOBALS and not name.startswith(_LINK_PREFIXES)
    }


def sample_values(dashboard: Json) -> dict[str, str]:
    """A value for each declared variable that any real value could take: the "All" regex for
    multi-value variables, a plain word otherwise."""
    out = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("includeAll"):
            out[variable["name"]] = variable.get("allValue", ".*")
        else:
            out[variable["name"]] = "sample"
    return out


def panels(dashboard: Json) -> Iterator[Json]:
    """Every panel that shows data (rows excluded, collapsed rows' panels included)."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def lint(dashboard: Json, allowed_metrics: set[str]) -> list[Problem]:
    """Every problem found in ``dashboard``; ``allowed_metrics`` names the series that exist."""
    problems: list[Problem] = []
    declared = [v["name"] for v in dashboard.get("templating", {}).get("list", [])]
    values = sample_values(dashboard)
    used: set[str] = set()
    counters = counter_names()

    datasource = next(
        (v for v in dashboard.get("templating", {}).get("list", []) if v["name"] == "datasource"),
        None,
    )
    if not datasource or datasource.get("type") != "datasource":
        problems.append(Problem("templating", "no datasource variable of type datasource"))
    if dashboard.get("editable", True):
        problems.append(Problem("dashboard", "editable must be false (provisioned, code-owned)"))

    for variable in dashboard.get("templating", {}).get("list", []):
        where = f"variable {variable['name']}"
        query = variable.get("query", "")
        if variable.get("type") == "query":
            used |= variables_in(query)
            problems += _lint_variable_query(where, query, values, allowed_metrics)

    for panel in panels(dashboard):
        where = f"panel {panel.get('id')} {panel.get('title', '')!r}"
        for key in ("title", "description"):
            if not str(panel.get(key, "")).strip():
                problems.append(Problem(where, f"has no {key}"))
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(Problem(where, "has no unit"))
        if panel.get("datasource") != DATASOURCE:
            problems.append(Problem(where, f"must read from ${DATASOURCE_VARIABLE}"))
        for text in _link_texts(panel):
            used |= variables_in(text)
        if not panel.get("targets"):
            problems.append(Problem(where, "has no query"))
        for target in panel.get("targets", []):
            target_where = f"{where} target {target.get('refId')}"
            if target.get("datasource") != DATASOURCE:
                problems.append(Problem(target_where, f"must read from ${DATASOURCE_VARIABLE}"))
            expr = target.get("expr", "")
            used |= variables_in(expr)
            problems += lint_expr(target_where, expand(expr, values), allowed_metrics, counters)

    for name in sorted(used - set(declared)):
        problems.append(Problem("templating", f"variable ${name} is used but not declared"))
    for name in declared:
        if name not in used and name != DATASOURCE_VARIABLE:
            problems.append(Problem("templating", f"variable ${name} is declared but never used"))
    return problems


def _link_texts(panel: Json) -> Iterator[str]:
    yield panel.get("title", "")
    for item in panel.get("links", []):
        yield item.get("url", "")
    for item in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
        yield item.get("url", "")


def _lint_variable_query(
    where: str, query: str, values: Mapping[str, str], allowed: set[str]
) -> list[Problem]:
    match = _LABEL_VALUES.match(query.strip())
    if not match:
        return [Problem(where, f"query must be label_values(selector, label) (got {query!r})")]
    if not match[1]:
        return []
    return lint_expr(where, expand(match[1], values), allowed, None)


def lint_expr(where: str, expr: str, allowed: set[str], counters: set[str] | None) -> list[Problem]:
    """Problems of one PromQL expression (variables already substituted); ``counters`` are the
    series only allowed inside rate/irate/increase/resets, None to skip that rule
    (label_values)."""
    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        return [Problem(where, f"invalid PromQL: {exc} in {expr!r}")]
    problems: list[Problem] = []
    _walk(tree, where, allowed, counters, problems, inside_range_function=False)
    return problems


def _walk(
    node: Any,
    where: str,
    allowed: set[str],
    counters: set[str] | None,
    problems: list[Problem],
    *,
    inside_range_function: bool,
) -> None:
    def visit(child: Any, inside: bool = False) -> None:
        _walk(child, where, allowed, counters, problems, inside_range_function=inside)

    if isinstance(node, promql_parser.VectorSelector):
        _check_selector(node, where, allowed, counters, problems, inside_range_function)
    elif isinstance(node, promql_parser.MatrixSelector):
        visit(node.vector_selector, inside_range_function)
    elif isinstance(node, promql_parser.Call):
        name = node.func.name
        for arg in node.args:
            is_range = isinstance(arg, promql_parser.MatrixSelector)
            if name in ("rate", "irate") and is_range and arg.range != _RATE_INTERVAL:
                problems.append(
                    Problem(where, f"{name}() must use [$__rate_interval] (got {arg.range})")
                )
            visit(arg, name in RANGE_FUNCTIONS and is_range)
    elif isinstance(node, promql_parser.BinaryExpr):
        visit(node.lhs)
        visit(node.rhs)
    elif isinstance(node, promql_parser.AggregateExpr):
        visit(node.expr)
        if node.param is not None:
            visit(node.param)
    elif isinstance(
        node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr
    ):
        visit(node.expr)


def _check_selector(
    node: Any,
    where: str,
    allowed: set[str],
    counters: set[str] | None,
    problems: list[Problem],
    inside_range_function: bool,
) -> None:
    name = node.name or next(
        (m.value for m in node.matchers.matchers if m.name == "__name__"), None
    )
    if not name:
        problems.append(Problem(where, "selector without a literal metric name"))
        return
    if name not in allowed:
        problems.append(
            Problem(
                where, f"unknown metric {name!r}: not in obsstack.core.naming nor a recording rule"
            )
        )
    if counters is None or inside_range_function:
        return
    if name.endswith("_total") or name in counters:
        problems.append(Problem(where, f"counter {name} must be inside rate/irate/increase/resets"))


def metric_allow_list(context: GenerateContext) -> set[str]:
    """Series a dashboard may query: the naming module's, and the recording rules the alerts
    package generates for the SLO spec of ``context`` (the same spec the rules come from)."""
    from obsstack.alerts import records  # the alerts package is optional for everything else here
    from obsstack.dashboards.slos import load_slo_spec

    rules = {name for slo in load_slo_spec(context).slos for name in records.all_records(slo)}
    return exported_names() | rules
