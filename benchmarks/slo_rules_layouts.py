"""The two rule layouts of the SLO rule benchmark, and what each reads over ranges.

Ours is ``obsstack.alerts.rules.rule_groups`` (per SLO a main group every 30 s and a period
group every 5 m), Sloth's ``tests.support.sloth_layout`` (three groups at the global
interval). What the rules read over ranges is found in their own PromQL (:func:`reaches`):
the records among it are the history to backfill, each at the interval and phase of the
group that records it (:mod:`benchmarks.slo_rules_schedule`), as far back as its longest
read and a margin.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import promql_parser

from benchmarks.slo_rules_schedule import group_offset_ms
from obsstack.alerts import load_spec
from obsstack.alerts.model import SLO
from obsstack.alerts.render import to_yaml
from obsstack.alerts.rules import rule_groups
from obsstack.core import naming
from obsstack.core.spec import parse_duration
from tests.support import sloth_layout
from tests.support.processes import require_binary

OURS = naming.SLO_RULE_GROUP_PREFIX
SLOTH = "sloth-slo-"
LAYOUTS = ("ours", "sloth")
MARGIN = 3600.0  # history backfilled beyond the longest read, seconds
LOOKBACK = 300.0  # Prometheus' default lookback delta: how far an instant selector reaches


def spec_text(services: int) -> str:
    """An obsstack SLO spec: availability 99.9 % and latency 95 % under 100 ms per service."""
    lines = ["version: obsstack/v1", "services:"]
    lines += [f"  - name: svc{i:02d}" for i in range(services)]
    lines.append("slos:")
    metric = naming.HTTP_SERVER_REQUEST_DURATION.name
    for i in range(services):
        job = f'job="svc{i:02d}"'
        lines += [
            f"  - service: svc{i:02d}",
            "    name: availability",
            "    objective: 99.9",
            "    sli:",
            "      kind: availability",
            f"      errors: '{metric}_count{{{job},http_response_status_code=~\"5..\"}}'",
            f"      total: '{metric}_count{{{job}}}'",
            f"  - service: svc{i:02d}",
            "    name: latency",
            "    objective: 95",
            "    sli:",
            "      kind: latency",
            f"      histogram: '{metric}{{{job}}}'",
            "      threshold: 100ms",
        ]
    return "\n".join(lines) + "\n"


def selector(rule: dict[str, Any]) -> str:
    """The series a recording rule writes, as a PromQL selector."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(rule["labels"].items()))
    return f"{rule['record']}{{{inner}}}"


def _seconds(value: timedelta | None) -> float:
    return 0.0 if value is None else value.total_seconds()


def reaches(expression: str) -> dict[str, float]:
    """How far back (seconds) ``expression`` reads each metric name over a range.

    A range selector reaches its range past its offset; a subquery's instant selectors reach
    its range and offset, and a lookback further. Instant reads are left out.
    """
    found: dict[str, float] = {}

    def note(node: promql_parser.VectorSelector, reach: float) -> None:
        name = node.name or ""  # the rules name every metric they read
        found[name] = max(found.get(name, 0.0), reach + _seconds(node.offset))

    def visit(node: Any, back: float, in_subquery: bool) -> None:
        if isinstance(node, promql_parser.SubqueryExpr):
            visit(node.expr, back + _seconds(node.range) + _seconds(node.offset), True)
        elif isinstance(node, promql_parser.MatrixSelector):
            note(node.vector_selector, back + _seconds(node.range))
        elif isinstance(node, promql_parser.VectorSelector):
            if in_subquery:
                note(node, back + LOOKBACK)
        elif isinstance(node, promql_parser.BinaryExpr):
            visit(node.lhs, back, in_subquery)
            visit(node.rhs, back, in_subquery)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                visit(arg, back, in_subquery)
        elif isinstance(
            node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.AggregateExpr
        ):
            visit(node.expr, back, in_subquery)

    visit(promql_parser.parse(expression), 0.0, False)
    return found


@dataclass(frozen=True)
class Input:
    """A record that its layout's rules read over a range, and when its group records it."""

    layout: str
    rule: dict[str, Any]
    group: str
    interval: float  # seconds between the group's evaluations
    offset_ms: int  # past each multiple of the interval
    history: float  # seconds to backfill: the longest read and a margin

    @property
    def series(self) -> str:
        return selector(self.rule)

    @property
    def step_ms(self) -> int:
        return round(self.interval * 1000)


class Layouts:
    """Both rule sets for the same SLOs, as Prometheus rule files."""

    def __init__(self, workdir: Path, services: int, global_interval: float) -> None:
        spec_path = workdir / "slos.yaml"
        spec_path.write_text(spec_text(services))
        self.slos = load_spec(spec_path).slos
        self.global_interval = global_interval
        per_slo = {
            "ours": {slo.id: rule_groups(slo) for slo in self.slos},
            "sloth": {slo.id: sloth_layout.groups(slo) for slo in self.slos},
        }
        self.documents = {
            layout: {"groups": [g for groups in by_id.values() for g in groups]}
            for layout, by_id in per_slo.items()
        }
        self.groups_of = {
            slo.id: {g["name"] for by_id in per_slo.values() for g in by_id[slo.id]}
            for slo in self.slos
        }
        # Each group's layout and kind (its name with the SLO's id as <id>), each kind's interval.
        self.kind_of = {
            g["name"]: (layout, g["name"].replace(slo_id, "<id>"))
            for layout, by_id in per_slo.items()
            for slo_id, groups in by_id.items()
            for g in groups
        }
        self.kind_interval = {
            self.kind_of[g["name"]]: self.interval(g)
            for doc in self.documents.values()
            for g in doc["groups"]
        }
        self.paths = {layout: workdir / f"{layout}.rules.yml" for layout in LAYOUTS}
        for layout, path in self.paths.items():
            path.write_text(to_yaml(self.documents[layout], "benchmark"))
        check = subprocess.run(
            [require_binary("promtool"), "check", "rules", *map(str, self.paths.values())],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise SystemExit(check.stdout + check.stderr)
        self.reaches = {layout: self._reaches(layout) for layout in LAYOUTS}
        self.inputs = [i for layout in LAYOUTS for i in self._inputs(layout)]

    def _reaches(self, layout: str) -> dict[str, float]:
        found: dict[str, float] = {}
        for group in self.documents[layout]["groups"]:
            for rule in group["rules"]:
                for name, reach in reaches(rule["expr"]).items():
                    found[name] = max(found.get(name, 0.0), reach)
        return found

    def interval(self, group: dict[str, Any]) -> float:
        """Seconds between the group's evaluations."""
        interval = group.get("interval")
        return self.global_interval if interval is None else parse_duration(interval)

    def _inputs(self, layout: str) -> list[Input]:
        """The records the layout reads over ranges, in the order its groups record them."""
        reach, inputs = self.reaches[layout], []
        for group in self.documents[layout]["groups"]:
            interval = self.interval(group)
            offset = group_offset_ms(group["name"], str(self.paths[layout]), interval)
            for rule in group["rules"]:
                if rule.get("record") in reach:
                    history = reach[rule["record"]] + MARGIN
                    inputs.append(Input(layout, rule, group["name"], interval, offset, history))
        # In the file's order: a period group follows the main group whose records it reads.
        return inputs

    def raw_history(self, raw_names: set[str]) -> float:
        """Seconds of raw series to backfill: the longest raw read of either layout, and more."""
        reach = max(r for lay in LAYOUTS for n, r in self.reaches[lay].items() if n in raw_names)
        return reach + MARGIN

    def expressions(self) -> list[str]:
        return [
            r["expr"] for doc in self.documents.values() for g in doc["groups"] for r in g["rules"]
        ]

    def count(self, layout: str, key: str) -> int:
        return sum(1 for g in self.documents[layout]["groups"] for r in g["rules"] if key in r)

    def slo_inputs(self, slo: SLO) -> list[Input]:
        """The inputs of one SLO, both layouts'."""
        return [i for i in self.inputs if i.group in self.groups_of[slo.id]]
