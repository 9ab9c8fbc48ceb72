"""When obsstack's SLO alerts fire and clear, against Sloth's rules, in one real promtool run.

Both rule layouts (``obsstack.alerts.rules`` and :mod:`tests.support.sloth_layout`) are loaded
for the same SLO and fed the same input series. promtool has no way to print a value over time, so
every check expects no firing alert and the "got:" lines of its failure report are the
timeline: which burn-rate alert of which layout and tier fired at each evaluation.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from obsstack.alerts import series
from obsstack.alerts.load import load_spec
from obsstack.alerts.model import SLO
from obsstack.alerts.render import to_yaml
from obsstack.alerts.rules import rule_groups
from obsstack.alerts.series import Segment
from obsstack.core import naming
from obsstack.core.spec import format_duration
from tests.support import sloth_layout
from tests.support.processes import require_binary

OURS, SLOTH = "obsstack", "sloth"
NOT_BURN_RATE = (
    naming.ALERT_EXPLAINED,
    naming.ALERT_SLO_BUDGET_EXHAUSTED,
    naming.ALERT_SLO_DATA_ABSENT,
)


@dataclass(frozen=True)
class Scenario:
    """Traffic for one run: ``segments`` (one sample a minute), watched from ``start`` minutes.

    ``inputs`` overrides the synthesised input series (for SLIs given as free PromQL).
    """

    name: str
    segments: tuple[Segment, ...]
    start: int
    inputs: tuple[dict[str, str], ...] = ()

    @property
    def minutes(self) -> int:
        return sum(s.minutes for s in self.segments)


@dataclass
class Timeline:
    """Seconds after the scenario's start at which each (layout, tier) was firing, up to
    ``end`` (the last evaluation checked)."""

    end: float
    firing: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def first(self, layout: str, tier: str) -> float | None:
        times = self.firing.get((layout, tier), [])
        return min(times) if times else None

    def cleared(self, layout: str, tier: str, step: float) -> float | None:
        """The first evaluation after the last one firing (None: never fired, or still
        firing at the end)."""
        times = self.firing.get((layout, tier), [])
        if not times or max(times) >= self.end:
            return None
        return max(times) + step


# Each test's checks carry its index in a matcher that always holds, so a test with no firing
# alert (and so no lines in the report) cannot shift the others.
_CHECK = re.compile(r'^\s*expr: .*scenario!=\\"(?P<index>\d+)\\".*, time: (?P<time>\S+),$')
_SERIES = re.compile(r"\{(?P<labels>[^}]*)\}")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _seconds(text: str) -> float:
    total, units = 0.0, {"d": 86400, "h": 3600, "m": 60, "s": 1}
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|[dhms])", text):
        total += float(number) / 1000 if unit == "ms" else float(number) * units[unit]
    return total


def _classify(labels: dict[str, str]) -> tuple[str, str] | None:
    if "sloth_severity" in labels:
        return SLOTH, labels["sloth_severity"]
    if labels.get("alertname") in NOT_BURN_RATE:
        return None
    tier = labels.get(naming.TIER_LABEL)
    return (OURS, tier) if tier in (naming.TIER_PAGE, naming.TIER_TICKET) else None


def parse(report: str, scenarios: Sequence[Scenario], step: float) -> list[Timeline]:
    """Timelines of each test (in order) from promtool's failure report."""
    starts = [s.start for s in scenarios]
    timelines = [Timeline(_last_check(s, step) - s.start * 60) for s in scenarios]
    test, last_time = -1, 0.0
    for line in report.splitlines():
        found = _CHECK.match(line)
        if found:
            test, last_time = int(found["index"]), _seconds(found["time"])
            continue
        if "got:" not in line or test < 0:
            continue
        for series_text in _SERIES.finditer(line):
            labels = dict(_LABEL.findall(series_text["labels"]))
            key = _classify(labels)
            if key is not None:
                at = last_time - starts[test] * 60
                timelines[test].firing.setdefault(key, []).append(at)
    return timelines


def _last_check(scenario: Scenario, step: float) -> float:
    at = scenario.start * 60.0
    while at + step <= (scenario.minutes - 1) * 60:
        at += step
    return at


def _test(slo: SLO, scenario: Scenario, index: int) -> dict[str, Any]:
    if scenario.inputs:
        inputs = list(scenario.inputs)
    else:
        synthesis = series.for_slo(slo)
        assert synthesis is not None, f"no input series for {slo.id}"
        inputs = synthesis.input_series(scenario.segments)
    step = slo.evaluation_interval
    checks = []
    at = scenario.start * 60.0
    while at <= (scenario.minutes - 1) * 60:
        checks.append(
            {
                "expr": f'ALERTS{{alertstate="firing",scenario!="{index}"}}',
                "eval_time": format_duration(at) if at else "0s",
                "exp_samples": [],
            }
        )
        at += step
    return {
        "name": scenario.name,
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": checks,
    }


def run(
    slo: SLO, scenarios: Sequence[Scenario], dependencies: tuple[str, ...] = ()
) -> list[Timeline]:
    """Timelines of ``scenarios`` for ``slo``: obsstack's rules and Sloth's, one promtool run."""
    with tempfile.TemporaryDirectory(prefix="obsstack-timing-") as workdir:
        rules = Path(workdir) / "rules.yml"
        groups = [*rule_groups(slo, dependencies), *sloth_layout.groups(slo)]
        rules.write_text(to_yaml({"groups": groups}, "tests/support/timing.py"))
        tests = Path(workdir) / "timing.test.yml"
        document = {
            "rule_files": [rules.name],
            "evaluation_interval": slo.evaluation_interval_name,
            "tests": [_test(slo, s, i) for i, s in enumerate(scenarios)],
        }
        tests.write_text(yaml.safe_dump(document, sort_keys=False))
        result = subprocess.run(
            [require_binary("promtool"), "test", "rules", tests.name],
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
    report = result.stdout + result.stderr
    if "FAILED" not in report and result.returncode != 0:
        raise AssertionError(f"promtool could not run the timing tests:\n{report[-2000:]}")
    return parse(report, scenarios, slo.evaluation_interval)


# -- the scenarios of the comparison ------------------------------------------------------------

PER_MINUTE = 1000.0
SPEC = """\
version: obsstack/v1
services: [{name: web}]
slos:
  - service: web
    name: availability
    objective: 99.9
    sli:
      kind: availability
      errors: http_requests_total{job="web",code=~"5.."}
      total: http_requests_total{job="web"}
  - service: web
    name: latency
    objective: 99
    sli:
      kind: latency
      histogram: http_request_duration_seconds{job="web"}
      threshold: 400ms
  - service: web
    name: checkout
    objective: 95
    sli:
      kind: availability
      errors: checkout_failures_total{job="web"}
      total: checkout_attempts_total{job="web"}
  - service: web
    name: checkout-ratio
    objective: 95
    sli:
      kind: ratio
      error_ratio: >-
        sum(rate(checkout_failures_total{job="web"}[{{.window}}]))
        / sum(rate(checkout_attempts_total{job="web"}[{{.window}}]))
"""


def steady(budget: float, times: float) -> Scenario:
    """``times`` the budget rate from the first sample, for six hours."""
    return Scenario(
        f"steady {times:g}x the budget rate", (Segment(360, PER_MINUTE, times * budget),), 0
    )


def after_clean(name: str, history: int, *burst: Segment, after: int = 180) -> Scenario:
    """``history`` clean minutes, then the ``burst`` segments, then ``after`` clean minutes."""
    segments = (Segment(history, PER_MINUTE, 0.0), *burst, Segment(after, PER_MINUTE, 0.0))
    return Scenario(name, segments, history)


def quiet_then_peak() -> Scenario:
    """A quiet night (10 events a minute), then a 30-minute 80 % outage at peak traffic."""
    segments = (
        Segment(360, 10.0, 0.0),
        Segment(30, PER_MINUTE, 0.8),
        Segment(120, PER_MINUTE, 0.0),
    )
    return Scenario("quiet night, then a 30m 80 % outage at peak", segments, 360)


def ratio_inputs(scenario: Scenario) -> tuple[dict[str, str], ...]:
    """The two counters the ``checkout-ratio`` SLI divides."""
    labels = '{job="web"}'
    errors = series.counter_values(scenario.segments, [s.error_ratio for s in scenario.segments])
    total = series.counter_values(scenario.segments, [1.0] * len(scenario.segments))
    return (
        {"series": f"checkout_failures_total{labels}", "values": errors},
        {"series": f"checkout_attempts_total{labels}", "values": total},
    )


SLOTH_SPEC = """\
version: prometheus/v1
service: shop
labels: {owner: shop-team, tier: "2"}
slos:
  - name: requests-availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(shop_requests_total{job="shop",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(shop_requests_total{job="shop"}[{{.window}}]))
    alerting:
      name: ShopHighErrorRate
      page_alert: {labels: {severity: pageteam}}
      ticket_alert: {labels: {severity: slack}}
"""


def scenarios_for(slo: SLO) -> list[Scenario]:
    """The comparison's scenarios for one SLO of :data:`SPEC`."""
    budget = slo.error_budget
    if slo.service == "shop":  # the Sloth spec
        return [after_clean("20m burst at 10 %", 360, Segment(20, PER_MINUTE, 0.1))]
    if slo.name == "availability":
        return [
            *(steady(budget, times) for times in (0.5, 2, 20, 100)),
            after_clean("20x after a clean day", 1440, Segment(360, PER_MINUTE, 20 * budget)),
            after_clean("5m burst at 50 %", 360, Segment(5, PER_MINUTE, 0.5)),
            after_clean("20m burst at 10 %", 360, Segment(20, PER_MINUTE, 0.1)),
        ]
    if slo.name == "latency":
        return [after_clean("20m with 50 % of requests slow", 360, Segment(20, PER_MINUTE, 0.5))]
    scenario = quiet_then_peak()
    if slo.sli.kind == "ratio":
        scenario = Scenario(
            scenario.name, scenario.segments, scenario.start, ratio_inputs(scenario)
        )
    return [scenario]


def comparison_slos(workdir: Path) -> list[SLO]:
    """The SLOs of :data:`SPEC`, then the one of :data:`SLOTH_SPEC` (read as a Sloth file)."""
    (workdir / "slos.yaml").write_text(SPEC)
    (workdir / "sloth.yaml").write_text(SLOTH_SPEC)
    return [*load_spec(workdir / "slos.yaml").slos, *load_spec(workdir / "sloth.yaml").slos]
