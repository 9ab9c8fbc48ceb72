"""What rules read and record under the fleet's steady traffic, from the traffic's definition.

The history backfilled for the benchmark holds two kinds of series: the raw series the rules
read over ranges, and the records the rules read over ranges. With steady traffic such a record
is a constant: :meth:`Steady.value` computes it by evaluating the rule's own PromQL over the
fleet's per-series rates (``rate(counter[w])`` of a steady counter is its rate) and over the
records already computed (:meth:`Steady.record`), such as the base-window rate a period tile
multiplies. Only the PromQL those rules use is understood: ``sum`` without grouping, ``rate``
of a range selector, an instant selector of a computed record, arithmetic, ``or``,
parentheses and numbers; anything else is a ValueError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import promql_parser

from benchmarks.slo_rules_series import Fleet, Series, Target

Value = list[float] | float  # an instant vector's values (labels dropped), or a scalar


def _matches(node: promql_parser.VectorSelector, labels: dict[str, str]) -> bool:
    if node.name and labels["__name__"] != node.name:
        return False
    for matcher in node.matchers.matchers:
        value, op = labels.get(matcher.name, ""), matcher.op
        if op == promql_parser.MatchOp.Equal:
            ok = value == matcher.value
        elif op == promql_parser.MatchOp.NotEqual:
            ok = value != matcher.value
        else:  # Prometheus anchors label regexes
            full = re.fullmatch(matcher.value, value) is not None
            ok = full if op == promql_parser.MatchOp.Re else not full
        if not ok:
            return False
    return True


Row = tuple[Target, Series, dict[str, str]]


class Steady:
    """The fleet's series indexed by metric name and job, for selectors to pick from."""

    def __init__(self, fleet: Fleet) -> None:
        self.recorded: list[tuple[dict[str, str], float]] = []
        self.rows: list[Row] = []
        self.by_job: dict[tuple[str, str], list[Row]] = {}
        self.by_name: dict[str, list[Row]] = {}
        for target, series in fleet.series():
            labels = {"__name__": series.name, **dict(target.target_labels), **dict(series.labels)}
            row = (target, series, labels)
            self.rows.append(row)
            self.by_name.setdefault(series.name, []).append(row)
            self.by_job.setdefault((series.name, target.job), []).append(row)

    def selected(self, node: promql_parser.VectorSelector) -> list[Row]:
        """The rows ``node`` selects."""
        candidates = self.by_name.get(node.name, []) if node.name else self.rows
        for matcher in node.matchers.matchers:
            if matcher.name == "job" and matcher.op == promql_parser.MatchOp.Equal:
                candidates = self.by_job.get((node.name or "", matcher.value), [])
        return [row for row in candidates if _matches(node, row[2])]

    def read_series(self, expressions: Iterable[str]) -> list[tuple[Target, Series]]:
        """The series that any of ``expressions`` selects, each once, in fleet order."""
        nodes: dict[str, promql_parser.VectorSelector] = {}

        def visit(node: promql_parser.Expr) -> None:
            if isinstance(node, promql_parser.VectorSelector):
                nodes.setdefault(node.prettify(), node)

        for expression in expressions:
            promql_parser.walk(promql_parser.parse(expression), visit)
        chosen = {id(row[1]) for node in nodes.values() for row in self.selected(node)}
        return [(t, s) for t, s, _ in self.rows if id(s) in chosen]

    def record(self, name: str, labels: dict[str, str], value: float) -> None:
        """Make the record ``name{labels}`` (a constant ``value``) readable by later rules."""
        self.recorded.append(({"__name__": name, **labels}, value))

    def value(self, expression: str) -> float:
        """The one value ``expression`` (a rule reading raw series) takes at steady state."""
        value = self._evaluate(promql_parser.parse(expression))
        if isinstance(value, list):
            if len(value) != 1:
                raise ValueError(f"{expression!r} gives {len(value)} series, not one")
            return value[0]
        return value

    def _evaluate(self, node: promql_parser.Expr) -> Value:
        if isinstance(node, promql_parser.ParenExpr):
            return self._evaluate(node.expr)
        if isinstance(node, promql_parser.NumberLiteral):
            return float(node.val)
        if isinstance(node, promql_parser.AggregateExpr) and str(node.op) == "sum":
            if node.modifier is not None:
                raise ValueError("sum by/without is not evaluated at steady state")
            inner = self._evaluate(node.expr)
            if not isinstance(inner, list):
                raise ValueError("sum of a scalar")
            return [sum(inner)] if inner else []
        if isinstance(node, promql_parser.Call) and node.func.name == "rate":
            (matrix,) = node.args
            return [series.rate for _, series, _ in self.selected(matrix.vector_selector)]
        if isinstance(node, promql_parser.VectorSelector):
            values = [value for labels, value in self.recorded if _matches(node, labels)]
            if not values:
                raise ValueError(f"{node.prettify()} selects no record computed before")
            return values
        if isinstance(node, promql_parser.BinaryExpr):
            left, right = self._evaluate(node.lhs), self._evaluate(node.rhs)
            return _binary(str(node.op), left, right)
        raise ValueError(f"{type(node).__name__} is not evaluated at steady state")


def _binary(op: str, left: Value, right: Value) -> Value:
    if op == "or":
        return left if not isinstance(left, list) or left else right
    functions = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
    }
    if op not in functions:
        raise ValueError(f"operator {op} is not evaluated at steady state")
    apply = functions[op]
    if isinstance(left, list) and isinstance(right, list):
        if len(left) > 1 or len(right) > 1:
            raise ValueError("vector matching of more than one series is not evaluated")
        return [apply(a, b) for a, b in zip(left, right, strict=False)]
    if isinstance(left, list):
        return [apply(a, right) for a in left]
    if isinstance(right, list):
        return [apply(left, b) for b in right]
    return float(apply(left, right))
