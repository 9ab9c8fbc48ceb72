"""OpenSLO ``v1alpha``, the version Sloth reads, is read as Sloth reads it: one SLO per
objective, named ``<metadata.name>-<index>``, no alerts; errors are total - good events."""

from __future__ import annotations

import textwrap
from pathlib import Path

from obsstack.alerts import load_spec, sli
from obsstack.alerts.rules import rule_group
from obsstack.core import naming

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests/data/openslo"
GOOD = 'sum(rate(payments_requests_total{code!~"5.."}[{{.window}}]))'
TOTAL = "sum(rate(payments_requests_total[{{.window}}]))"


def test_every_field_sloth_reads_maps_onto_the_model():
    spec = load_spec(DATA / "v1alpha-every-field.yaml")
    assert [s.name for s in spec.services] == ["payments"]
    assert [
        (s.service, s.name, s.objective, s.period_name, s.description, s.tiers) for s in spec.slos
    ] == [
        (
            "payments",
            "payments-api-0",
            99.0,
            "28d",
            "Payment requests answered without a server error",
            (),
        ),
        (
            "payments",
            "payments-api-1",
            90.0,
            "28d",
            "Payment requests answered without a server error",
            (),
        ),
    ]
    for slo in spec.slos:  # `{{ .window }}` as Sloth's templates allow it, and `source: sloth`
        assert slo.sli == sli.availability_expressions(f"({TOTAL}) - ({GOOD})", TOTAL)
        assert dict(slo.labels) == {}
    assert [s.source.split(": ")[1] for s in spec.slos] == ["documents[0].spec"] * 2


def test_no_alert_is_generated_as_sloth_generates_none():
    for slo in load_spec(DATA / "v1alpha-every-field.yaml").slos:
        group = rule_group(slo)
        assert group["name"] == f"{naming.SLO_RULE_GROUP_PREFIX}{slo.id}"
        assert [r["alert"] for r in group["rules"] if "alert" in r] == []
        records = [r for r in group["rules"] if "record" in r]
        assert records
        assert all(
            r["labels"].items()
            >= {naming.SERVICE_LABEL: slo.service, naming.SLO_LABEL: slo.name}.items()
            for r in records
        )


def test_each_document_is_an_slo_and_a_missing_time_window_takes_the_default_period():
    spec = load_spec(DATA / "v1alpha-multi-document.yaml")
    assert [(s.id, s.objective, s.period_name) for s in spec.slos] == [
        ("search-search-latency-0", 95.0, "7d"),  # `unit: day`: Sloth ignores the case
        ("search-search-availability-0", 99.9, "30d"),
    ]
    assert [s.source.split(": ")[1] for s in spec.slos] == [
        "documents[0].spec",
        "documents[1].spec",
    ]


def test_the_including_spec_gives_the_default_period(tmp_path: Path):
    path = tmp_path / "slos.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            version: obsstack/v1
            defaults: {{period: 28d}}
            include: [{DATA / "v1alpha-multi-document.yaml"}]
            services: [{{name: search}}]
            """)
    )
    assert [s.period_name for s in load_spec(path).slos] == ["7d", "28d"]


def test_v1alpha_v1_and_sloth_documents_mix_in_one_file_in_file_order(tmp_path: Path):
    v1alpha = (DATA / "v1alpha-multi-document.yaml").read_text().split("---\n")[1]
    v1 = (REPO / "alerts/examples/openslo-checkout.yaml").read_text()
    sloth = (REPO / "tests/data/sloth/no-alerts.yaml").read_text()
    path = tmp_path / "mixed.yaml"
    path.write_text("---\n".join([v1alpha, v1, sloth]))
    spec = load_spec(path)
    assert [(s.id, s.source.split(": ")[1]) for s in spec.slos] == [
        ("search-search-availability-0", "documents[0].spec"),
        ("checkout-checkout-availability", "documents[3].spec"),
        ("ledger-writes-availability", "documents[4].slos[0]"),
    ]


def test_every_v1alpha_failure_mode_has_a_fixture():
    bad = {p.stem for p in (REPO / "tests/data/bad/slos").glob("*.yaml")}
    assert {
        "openslo-v1alpha-week-window",
        "openslo-v1alpha-source",
        "openslo-v1alpha-target-percent",
        "openslo-v1alpha-timeslices",
        "openslo-v1alpha-short-period",
        "openslo-v1alpha-calendar",
        "openslo-v1alpha-service-document",
        "openslo-v1alpha-missing-ratio",
    } <= bad
