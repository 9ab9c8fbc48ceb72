"""The SLO spec: the shipped one, Sloth and OpenSLO input, window tables, robust `le` matching."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from obsstack.alerts import load_default_spec, load_spec, promql, records
from obsstack.alerts.model import SLO
from obsstack.core import naming

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "alerts/examples"
SELECTOR = 'http_requests_total{code=~"5.."}'


def write_spec(tmp_path: Path, body: str, name: str = "slos.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def one_slo(tmp_path: Path, extra: str = "", table: str = "") -> SLO:
    body = f"""\
        version: obsstack/v1
        services: [{{name: api}}]
        {table}
        slos:
          - service: api
            name: availability
            objective: 99.9
            sli: {{kind: availability, errors: '{SELECTOR}', total: http_requests_total}}
            {extra}
        """
    return load_spec(write_spec(tmp_path, body)).slos[0]


def test_shipped_spec_declares_the_platform_slos():
    spec = load_default_spec()
    assert spec.source == "alerts/slos.yaml"
    assert [(s.id, s.objective, s.sli.kind) for s in spec.slos] == [
        ("api-availability", 99.9, "availability"),
        ("api-latency", 95.0, "latency"),
        ("ai-availability", 99.0, "availability"),
        ("postgres-availability", 99.9, "uptime"),
        ("redis-availability", 99.9, "uptime"),
    ]
    latency = spec.slos[1]
    assert latency.sli.threshold == 0.1
    assert all(s.period_name == "30d" for s in spec.slos)
    assert spec.dependents("postgres") == ("api", "ai", "postgres")
    assert spec.dependents("redis") == ("api", "ai", "redis")


def test_shipped_spec_reads_only_metrics_and_jobs_from_the_naming_module():
    exported = {m.name for m in naming.all_metrics()}
    jobs = {naming.JOB_API, naming.JOB_EXPORTER}
    for slo in load_default_spec().slos:
        for selector in slo.sli.selectors:
            parsed = promql.selector(selector)
            assert re.sub(r"_(bucket|count)$", "", parsed.name) in exported, selector
            assert {v for label, _op, v in parsed.matchers if label == "job"} <= jobs


def test_shipped_spec_links_point_at_the_dashboards_and_runbooks():
    for slo in load_default_spec().slos:
        assert slo.dashboard_url == (
            f"http://localhost:3000/d/obsstack-slos/slos?var-service={slo.service}&var-slo={slo.name}"
        )
        assert slo.runbook_for(naming.ALERT_SLO_BURN_RATE_PAGE).endswith(
            "docs/runbooks.md#sloburnratepage"
        )


def test_the_30d_window_table_is_the_sre_workbook_one(tmp_path: Path):
    slo = one_slo(tmp_path)
    table = [
        (t.name, t.for_name, [(w.long_name, w.short_name, w.factor) for w in t.windows])
        for t in slo.tiers
    ]
    assert table == [
        ("page", "0s", [("1h", "5m", 14.4), ("6h", "30m", 6.0)]),
        ("ticket", "0s", [("1d", "2h", 3.0), ("3d", "6h", 1.0)]),
    ]
    assert slo.window_names == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    assert (slo.base_window_name, slo.head_window_name) == ("5m", "30m")
    assert slo.evaluation_interval_name == "30s"
    assert slo.error_budget == 0.001


@pytest.mark.parametrize(
    ("period", "factors"),
    [
        ("28d", [13.44, 5.6, 2.8, 0.933333333333]),
        ("7d", [3.36, 1.4, 0.7, 0.233333333333]),
    ],
)
def test_other_periods_derive_factors_from_the_budget_share(tmp_path: Path, period, factors):
    slo = one_slo(tmp_path, f"period: {period}")
    assert [w.factor for t in slo.tiers for w in t.windows] == factors
    # Every window still fires after burning the same share of the budget as with 30 days.
    shares = [round(w.budget_share(slo.period), 9) for t in slo.tiers for w in t.windows]
    assert shares == [0.02, 0.05, 0.1, 0.1]


def test_custom_window_table(tmp_path: Path):
    table = """alert_windows:
          fast-only:
            period: 7d
            page:
              for: 1m
              windows: [{long: 30m, short: 2m, factor: 20}]"""
    slo = one_slo(tmp_path, "alert_windows: fast-only\n            period: 14d", table)
    assert [(t.name, t.for_seconds) for t in slo.tiers] == [("page", 60.0)]
    assert slo.tiers[0].windows[0].factor == 40.0  # written for 7d, scaled to 14d
    assert slo.base_window_name == "2m"
    assert records.events_per_second(slo) == "slo:events_per_second:2m"


def test_alerting_extras_and_a_disabled_tier(tmp_path: Path):
    extra = """alerting:
              labels: {team: platform}
              annotations: {playbook: "https://wiki/api"}
              ticket: {disable: true}
              page: {labels: {severity: sev1}}"""
    slo = one_slo(tmp_path, extra)
    assert [t.name for t in slo.tiers] == ["page"]
    assert dict(slo.tiers[0].labels) == {"team": "platform", "severity": "sev1"}
    assert slo.tiers[0].severity == "sev1"
    assert dict(slo.tiers[0].annotations) == {"playbook": "https://wiki/api"}


def test_sloth_spec_is_accepted_unchanged():
    spec = load_spec(EXAMPLES / "sloth-payments.yaml")
    availability, webhooks = spec.slos
    assert [s.name for s in spec.services] == ["payments"]
    assert (availability.service, availability.name, availability.objective) == (
        "payments",
        "requests-availability",
        99.9,
    )
    assert dict(availability.labels) == {"owner": "payments-team"}
    page, ticket = availability.tiers
    assert dict(page.labels) == {"category": "availability", "routing_key": "payments"}
    assert ticket.severity == "slack"
    assert page.annotations["summary"] == "High error rate on payment API requests"
    assert availability.sli.errors_query("5m") == (
        'sum(rate(http_request_duration_seconds_count{job="payments",code=~"(5..|429)"}[5m]))'
    )
    assert webhooks.sli.kind == "ratio"
    assert [t.name for t in webhooks.tiers] == ["ticket"]  # page_alert.disable


def test_openslo_documents_are_accepted_unchanged():
    spec = load_spec(EXAMPLES / "openslo-checkout.yaml")
    (slo,) = spec.slos
    assert (slo.service, slo.name, slo.objective, slo.period_name) == (
        "checkout",
        "checkout-availability",
        99.5,
        "28d",
    )
    assert slo.sli.errors_query("5m") == (
        'sum(rate(http_requests_total{job="checkout"}[5m])) - '
        'sum(rate(http_requests_total{job="checkout",code!~"5.."}[5m]))'
    )
    assert slo.tiers[0].windows[0].factor == 13.44


def test_a_spec_can_include_sloth_and_openslo_files(tmp_path: Path):
    body = f"""\
        version: obsstack/v1
        defaults: {{period: 28d}}
        include: [{EXAMPLES / "sloth-payments.yaml"}, {EXAMPLES / "openslo-checkout.yaml"}]
        services: [{{name: api, depends_on: [postgres]}}, {{name: payments, depends_on: [redis]}}]
        slos:
          - service: api
            name: availability
            objective: 99.9
            sli: {{kind: availability, errors: '{SELECTOR}', total: http_requests_total}}
        """
    spec = load_spec(write_spec(tmp_path, body))
    assert [s.id for s in spec.slos] == [
        "api-availability",
        "payments-requests-availability",
        "payments-webhook-delivery",
        "checkout-checkout-availability",
    ]
    assert spec.slos[1].period_name == "28d"  # Sloth files take the including spec's period
    assert spec.service("payments").depends_on == ("redis",)  # declared wins over implicit
    assert spec.dependents("redis") == ("payments",)


@pytest.mark.parametrize(
    ("bound", "matching", "not_matching"),
    [
        (0.1, ["0.1", "0.10", "0.100"], ["0.15", "1", "0.01", "10.1"]),
        (1.0, ["1", "1.0", "1.00"], ["10", "0.1", "1.5", "11"]),
        (2.5, ["2.5", "2.50"], ["2.05", "25"]),
        (1e6, ["1e+06", "1.0e+06", "1000000", "1000000.0"], ["1e+07", "100000"]),
        (1e-5, ["1e-05", "0.00001"], ["1e-06", "0.0001"]),
    ],
)
def test_le_regex_matches_every_spelling_of_the_bound_and_nothing_else(
    bound, matching, not_matching
):
    regex = promql.le_regex(bound)
    assert all(re.fullmatch(regex, text) for text in matching)
    assert not any(re.fullmatch(regex, text) for text in not_matching)
