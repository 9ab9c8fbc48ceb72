"""Budget remaining from our rules against the exact value from the raw counters, uneven traffic.

Two days of day/night traffic (6000 requests a minute by day with almost no errors, 30 a minute
by night with 1 error a minute) and a half-hour incident, for a 7-day SLO. Our rules (the head
window's raw rate plus the recorded 5m rates summed over the rest of the period) must agree
with the exact values from the counters within 1 % of the budget: the error ratio so far
(errors / events), and the budget left, which counts those errors against the budget of the
whole period (two days of seven have passed: the period's traffic is the traffic so far
scaled up). A mean of 5m error ratios, Sloth's period layout, is shown to be far off on the
same data: it weighs a quiet night minute like a busy day minute.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from obsstack.alerts import load_spec, records
from obsstack.alerts.render import to_yaml
from obsstack.alerts.rules import rule_groups
from tests.alerts.promtool import run

MINUTES = 2 * 24 * 60
INCIDENT = range(24 * 60 + 10 * 60, 24 * 60 + 10 * 60 + 30)  # day 2, 10:00 to 10:30


def traffic(minute: int) -> tuple[int, int]:
    """(requests, errors) during ``minute``."""
    if minute in INCIDENT:
        return 6000, 120
    if 8 <= (minute // 60) % 24 < 18:
        return 6000, 1
    return 30, 1


def counter(values: list[int]) -> str:
    total, out = 0, ["0"]
    for value in values:
        total += value
        out.append(str(total))
    return " ".join(out)


def test_budget_remaining_is_within_one_percent_of_budget_under_uneven_traffic(tmp_path: Path):
    spec_path = tmp_path / "slos.yaml"
    spec_path.write_text(
        textwrap.dedent(
            """\
            version: obsstack/v1
            services: [{name: api}]
            slos:
              - service: api
                name: availability
                objective: 99.9
                period: 7d
                sli:
                  kind: availability
                  errors: http_requests_total{code="500"}
                  total: http_requests_total
            """
        )
    )
    slo = load_spec(spec_path).slos[0]
    (tmp_path / "rules.yml").write_text(to_yaml({"groups": rule_groups(slo)}, "test"))
    per_minute = [traffic(m) for m in range(MINUTES)]
    errors = sum(e for _r, e in per_minute)
    requests = sum(r for r, _e in per_minute)
    exact_burn = (errors / requests) / slo.error_budget
    exact_left = 1 - exact_burn * MINUTES * 60 / slo.period
    assert 0.8 < exact_burn < 0.95  # most of the budget is used: the comparison is not trivial

    burn = records.query(records.BURN_RATE_PERIOD, slo)
    remaining = records.query(records.ERROR_BUDGET_REMAINING, slo)
    mean_of_ratios = f"avg_over_time({records.query(records.error_ratio('5m'), slo)}[7d]) / 0.001"
    identity = "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(records.labels(slo).items())) + "}"
    end = f"{MINUTES}m"
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": slo.evaluation_interval_name,
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'http_requests_total{code="200"}',
                        "values": counter([r - e for r, e in per_minute]),
                    },
                    {
                        "series": 'http_requests_total{code="500"}',
                        "values": counter([e for _r, e in per_minute]),
                    },
                ],
                "promql_expr_test": [
                    {
                        "expr": f"abs({burn} - {exact_burn!r}) < bool 0.01",
                        "eval_time": end,
                        "exp_samples": [{"labels": identity, "value": 1}],
                    },
                    {
                        "expr": f"abs({remaining} - {exact_left!r}) < bool 0.01",
                        "eval_time": end,
                        "exp_samples": [{"labels": identity, "value": 1}],
                    },
                    {
                        "expr": f"abs(({mean_of_ratios}) - {exact_burn!r}) > bool 1",
                        "eval_time": end,
                        "exp_samples": [{"labels": identity, "value": 1}],
                    },
                ],
            }
        ],
    }
    (tmp_path / "accuracy.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = run("test", "rules", "accuracy.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
