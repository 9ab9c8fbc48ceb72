"""PromQL checks and rendering for SLI specs, on top of the ``promql-parser`` package.

Spec queries are parsed before anything is generated, so a typo is a one-line spec error
instead of a rule group Prometheus refuses to load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal

import promql_parser

_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _op(matcher: promql_parser.Matcher) -> str:
    return _OPS[str(matcher.op).rpartition(".")[2]]


def check(text: str) -> promql_parser.Expr:
    """Parse ``text``; raise ValueError with the parser's reason when it is not valid PromQL."""
    try:
        return promql_parser.parse(text)
    except ValueError as exc:
        raise ValueError(f"invalid PromQL: {exc} in {text!r}") from None


@dataclass(frozen=True)
class Selector:
    """A series selector: metric name and label matchers (name, operator, value)."""

    name: str
    matchers: tuple[tuple[str, str, str], ...]

    def render(self, suffix: str = "", extra: tuple[tuple[str, str, str], ...] = ()) -> str:
        """``name<suffix>{matchers..., extra...}``, values quoted and escaped for PromQL."""
        parts = [f"{label}{op}{json.dumps(value)}" for label, op, value in self.matchers + extra]
        return f"{self.name}{suffix}{{{','.join(parts)}}}"

    def label_names(self) -> set[str]:
        return {label for label, _op, _value in self.matchers}


def selector(text: str) -> Selector:
    """Parse a plain series selector such as ``http_requests_total{job="api",code=~"5.."}``."""
    expr = check(text)
    if not isinstance(expr, promql_parser.VectorSelector) or expr.offset or expr.at:
        raise ValueError(f"must be a series selector such as name{{label='value'}} (got {text!r})")
    if not expr.name:
        raise ValueError(f"the selector needs a metric name (got {text!r})")
    matchers = tuple(
        (m.name, _op(m), m.value) for m in expr.matchers.matchers if m.name != "__name__"
    )
    return Selector(expr.name, matchers)


def selectors_in(text: str) -> list[str]:
    """Every series selector used in the expression ``text``, in order, without duplicates."""
    found: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            parts = [f"{m.name}{_op(m)}{json.dumps(m.value)}" for m in node.matchers.matchers]
            rendered = f"{node.name or ''}{{{','.join(parts)}}}"
            if rendered not in found:
                found.append(rendered)

    promql_parser.walk(check(text), visit)
    return found


def le_regex(bound: float) -> str:
    """A regex for the ``le`` label that matches ``bound`` however the exporter spelled it.

    Go clients write ``0.1``, ``1`` and ``1e+06``; the Python client ``1.0``; Prometheus 3
    normalises classic-histogram bounds to ``1.0``; hand-written exporters may pad with zeros.
    The regex accepts every decimal spelling of the same number (``1``, ``1.0``, ``1.00``) and,
    where Go or Python would use one, the exponent spelling (``1e+06``, ``1.0e+06``), and
    nothing else: ``0.1`` never matches ``0.15``. Dots are written ``[.]`` so the regex needs
    no escaping inside PromQL or YAML strings.
    """
    value = Decimal(repr(float(bound)))
    if not value.is_finite() or value <= 0:
        raise ValueError(f"a bucket bound must be a positive number (got {bound})")
    _sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    plain = format(value.normalize(), "f")
    whole, _, fraction = plain.partition(".")
    alternatives = [f"{whole}[.]{fraction}0*" if fraction else f"{whole}([.]0*)?"]
    scientific = len(digits) - 1 + exponent  # power of ten of the leading digit
    if scientific < -4 or scientific >= 6:
        mantissa = "".join(str(d) for d in digits)
        head, tail = mantissa[0], mantissa[1:].rstrip("0")
        sign_text = "[+]" if scientific >= 0 else "-"
        power = f"{sign_text}{abs(scientific):02d}"
        body = f"{head}[.]{tail}0*" if tail else f"{head}([.]0*)?"
        alternatives.append(f"{body}[eE]{power}")
    return "|".join(alternatives)


def output_labels(text: str) -> tuple[str, ...] | None:
    """The labels the result of ``text`` keeps, when the expression says so.

    ``sum by (route) (...)`` keeps ``route``; ``sum(...)`` keeps none; a binary expression
    keeps its left side's (a number side aside). None when it cannot be told without data:
    a plain selector, ``without (...)``.
    """
    return _labels_of(check(text))


def _labels_of(node: promql_parser.Expr) -> tuple[str, ...] | None:
    if isinstance(node, promql_parser.AggregateExpr):
        modifier = node.modifier
        if modifier is None:
            return ()
        if str(modifier.type).endswith("By"):
            return tuple(sorted(modifier.labels))
        return None
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr):
        return _labels_of(node.expr)
    if isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral):
        return ()
    if isinstance(node, promql_parser.BinaryExpr):
        left, right = _labels_of(node.lhs), _labels_of(node.rhs)
        if isinstance(node.lhs, promql_parser.NumberLiteral):
            return right
        return left
    if isinstance(node, promql_parser.Call):
        vectors = [a for a in node.args if not isinstance(a, promql_parser.NumberLiteral)]
        if node.func.name == "vector" or not vectors:
            return ()
        return _labels_of(vectors[0])
    return None
