"""The rule layout where Sloth specs and obsstack specs meet it: disabled tiers, grouped SLIs,
user labels named like obsstack's, and Sloth's record names for Sloth's dashboards.

Each runs the generated rules in the real promtool; grouped SLIs run beside Sloth's own layout
(tests.support.sloth_layout) on the same input.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from obsstack.alerts import load_spec, records
from obsstack.alerts.render import to_yaml
from obsstack.alerts.rules import rule_groups
from obsstack.core import naming
from tests.alerts.promtool import generate_into, run
from tests.support import sloth_layout


def _spec(tmp_path: Path, text: str, name: str = "slos.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _promtool(tmp_path: Path, groups: list[dict[str, Any]], test: dict[str, Any]) -> str:
    (tmp_path / "rules.yml").write_text(to_yaml({"groups": groups}, "test"))
    document = {"rule_files": ["rules.yml"], "evaluation_interval": "30s", "tests": [test]}
    (tmp_path / "t.test.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    result = run("test", "rules", "t.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_an_obsstack_slo_with_both_tiers_disabled_records_everything_and_alerts_nothing(
    tmp_path: Path,
):
    path = _spec(
        tmp_path,
        """\
        version: obsstack/v1
        services: [{name: api}]
        slos:
          - service: api
            name: quiet
            objective: 99.9
            alerting: {page: {disable: true}, ticket: {disable: true}}
            sli: {kind: availability, errors: 'requests_total{code="500"}', total: requests_total}
          - service: api
            name: tickets-only
            objective: 99.9
            alerting: {page: {disable: true}}
            sli: {kind: availability, errors: 'requests_total{code="500"}', total: requests_total}
        """,
    )
    out = generate_into(tmp_path / "out", path)
    groups = yaml.safe_load((out / "api.quiet.rules.yml").read_text())["groups"]
    quiet = [rule for group in groups for rule in group["rules"]]
    assert [r for r in quiet if "alert" in r] == []
    assert {r["record"] for r in quiet} == set(records.all_records(load_spec(path).slos[0]))
    tickets = yaml.safe_load((out / "api.tickets-only.rules.yml").read_text())["groups"][0]
    alerts = {r["alert"]: r["labels"][naming.TIER_LABEL] for r in tickets["rules"] if "alert" in r}
    assert alerts == {
        naming.ALERT_SLO_BURN_RATE_TICKET: naming.TIER_TICKET,
        naming.ALERT_SLO_BUDGET_EXHAUSTED: naming.TIER_TICKET,
        naming.ALERT_SLO_DATA_ABSENT: naming.TIER_TICKET,
    }
    tested = run("test", "rules", *sorted((out / "tests").glob("*.test.yml")))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_grouped_sli_alerts_per_group_as_sloths_rules_do(tmp_path: Path):
    """`sum by (route)`: one route burns, one does not; both layouts page for that route only."""
    path = _spec(
        tmp_path,
        """\
        version: prometheus/v1
        service: shop
        labels: {service: storefront, slo: gold, tier: "2"}
        slos:
          - name: requests
            objective: 99.9
            sli:
              events:
                error_query: sum by (route) (rate(requests_total{code="500"}[{{.window}}]))
                total_query: sum by (route) (rate(requests_total[{{.window}}]))
            alerting: {name: ShopErrors}
        """,
        "sloth.yaml",
    )
    slo = load_spec(path).slos[0]
    assert slo.sli.grouping == ("route",)
    inputs = [
        {"series": 'requests_total{route="/cart",code="200"}', "values": "0+900x120"},
        {"series": 'requests_total{route="/cart",code="500"}', "values": "0+100x120"},
        {"series": 'requests_total{route="/home",code="200"}', "values": "0+1000x120"},
        {"series": 'requests_total{route="/home",code="500"}', "values": "0x120"},
    ]
    checks = [
        ("obsstack", f'ALERTS{{alertstate="firing",{naming.TIER_LABEL}="page"}}'),
        ("sloth", 'ALERTS{alertstate="firing",sloth_severity="page"}'),
    ]
    test = {
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": [
            {
                "expr": f"count by (alertname, route, service, slo, tier) ({query})",
                "eval_time": "60m",
                "exp_samples": [
                    {
                        "labels": '{alertname="ShopErrors", route="/cart", service="storefront", '
                        'slo="gold", tier="2"}',
                        "value": 1,
                    }
                ],
            }
            for _layout, query in checks
        ],
    }
    _promtool(tmp_path, [*rule_groups(slo), *sloth_layout.groups(slo)], test)


def test_sloth_record_names_serve_sloths_dashboards_without_doubling_ours(tmp_path: Path):
    path = _spec(
        tmp_path,
        """\
        version: obsstack/v1
        defaults: {sloth_records: true}
        services: [{name: api}]
        slos:
          - service: api
            name: availability
            objective: 99.9
            labels: {team: core}
            sli: {kind: availability, errors: 'requests_total{code="500"}', total: requests_total}
        """,
    )
    slo = load_spec(path).slos[0]
    sloth = '{sloth_id="api-availability",sloth_service="api",sloth_slo="availability",team="core"}'
    ours = records.query(records.OBJECTIVE, slo)
    test = {
        "interval": "1m",
        "input_series": [
            {"series": 'requests_total{code="200"}', "values": "0+998x60"},
            {"series": 'requests_total{code="500"}', "values": "0+2x60"},
        ],
        "promql_expr_test": [
            {
                "expr": f"count(slo:objective:ratio{sloth}) + count({ours})",
                "eval_time": "40m",
                "exp_samples": [{"labels": "{}", "value": 2}],
            },
            {
                "expr": f"abs(slo:sli_error:ratio_rate1h{sloth} - 0.002) < bool 1e-12",
                "eval_time": "40m",
                "exp_samples": [{"labels": sloth[:-1] + ',sloth_window="1h"}', "value": 1}],
            },
            {
                "expr": f"sloth_slo_info{sloth}",
                "eval_time": "40m",
                "exp_samples": [
                    {
                        "labels": "sloth_slo_info"
                        + sloth[:-1]
                        + ',sloth_mode="cli-gen-prom",sloth_objective="99.9",'
                        'sloth_spec="prometheus/v1",sloth_version="obsstack"}',
                        "value": 1,
                    }
                ],
            },
            {
                "expr": f"slo:period_error_budget_remaining:ratio{sloth}"
                f" - on() {records.query(records.ERROR_BUDGET_REMAINING, slo)}",
                "eval_time": "40m",
                "exp_samples": [{"labels": "{}", "value": 0}],
            },
        ],
    }
    _promtool(tmp_path, rule_groups(slo), test)
