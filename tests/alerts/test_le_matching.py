"""A latency SLI counts the threshold bucket however the exporter spells its ``le``.

Go clients write ``le="1"``, the Python client and Prometheus 3 ``le="1.0"``; zero-padded
``1.00`` also occurs. All three routes below are 10 % slower than 1 s; neighbouring bounds
(``1.5``, ``10``) must not be taken for the threshold.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from obsstack.alerts import load_spec, records
from obsstack.alerts.render import to_yaml
from obsstack.alerts.rules import rule_groups
from tests.alerts.promtool import run


def histogram(route: str, one: str) -> list[dict[str, str]]:
    """600 requests a minute, 540 of them within 1 s, with the 1 s bound spelled ``one``."""
    name = "http_server_request_duration_seconds"
    series = {
        f'{name}_bucket{{http_route="{route}", le="0.5"}}': 300,
        f'{name}_bucket{{http_route="{route}", le="{one}"}}': 540,
        f'{name}_bucket{{http_route="{route}", le="1.5"}}': 570,
        f'{name}_bucket{{http_route="{route}", le="10"}}': 600,
        f'{name}_bucket{{http_route="{route}", le="+Inf"}}': 600,
        f'{name}_count{{http_route="{route}"}}': 600,
    }
    return [{"series": s, "values": f"0+{step}x10"} for s, step in series.items()]


def test_every_spelling_of_the_bound_is_the_threshold_bucket(tmp_path: Path):
    spec_path = tmp_path / "slos.yaml"
    spec_path.write_text(
        textwrap.dedent(
            """\
            version: obsstack/v1
            services: [{name: api}]
            slos:
              - service: api
                name: latency
                objective: 95
                sli: {kind: latency, histogram: http_server_request_duration_seconds, threshold: 1s}
            """
        )
    )
    slo = load_spec(spec_path).slos[0]
    (tmp_path / "rules.yml").write_text(to_yaml({"groups": rule_groups(slo)}, "test"))
    labels = "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(records.labels(slo).items())) + "}"
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": slo.evaluation_interval_name,
        "tests": [
            {
                "interval": "1m",
                "input_series": histogram("/go", "1")
                + histogram("/py", "1.0")
                + histogram("/padded", "1.00"),
                "promql_expr_test": [
                    {
                        "expr": records.query(records.events_per_second(slo), slo),
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": f"slo:events_per_second:5m{labels}", "value": 30}
                        ],
                    },
                    {
                        "expr": records.query(records.error_ratio("5m"), slo),
                        "eval_time": "10m",
                        "exp_samples": [{"labels": f"slo:error_ratio:5m{labels}", "value": 0.1}],
                    },
                ],
            }
        ],
    }
    (tmp_path / "le.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = run("test", "rules", "le.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
