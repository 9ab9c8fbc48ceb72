"""Any valid Sloth ``prometheus/v1`` spec is a drop-in: every field maps onto the model and rules.

The specs under ``tests/data/sloth/`` together use every field of Sloth's schema; failure
modes are one fixture each under ``tests/data/bad/slos/sloth-*.yaml``.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsstack.alerts import load_spec, sli
from obsstack.alerts.model import SLO
from obsstack.alerts.rules import rule_group
from obsstack.core import naming

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests/data/sloth"
BURN_TIERS = {naming.TIER_PAGE, naming.TIER_TICKET}


def burn_alerts(slo: SLO) -> dict[str, dict[str, Any]]:
    """The SLO's burn-rate alert rules by tier."""
    rules = rule_group(slo)["rules"]
    return {
        r["labels"][naming.TIER_LABEL]: r
        for r in rules
        if "alert" in r
        and r["labels"].get(naming.TIER_LABEL) in BURN_TIERS
        and r["alert"] in {t.alertname for t in slo.tiers}
    }


def record_labels(slo: SLO) -> list[dict[str, str]]:
    return [r["labels"] for r in rule_group(slo)["rules"] if "record" in r]


def test_every_field_of_a_sloth_spec_maps_onto_the_model():
    spec = load_spec(DATA / "every-field.yaml")
    assert [s.name for s in spec.services] == ["search"]
    queries, freshness = spec.slos

    assert (queries.service, queries.name, queries.objective, queries.period_name) == (
        "search",
        "queries-availability",
        99.5,
        "30d",  # Sloth's --default-slo-period default
    )
    assert queries.description == "Search queries answered without a server error"
    assert dict(queries.labels) == {"team": "discovery", "tier": "0", "component": "query-api"}
    assert queries.sli == sli.availability_expressions(
        'sum(rate(search_queries_total{job="search",outcome="error"}[{{.window}}]))',
        'sum(rate(search_queries_total{job="search"}[{{.window}}]))',
    )
    page, ticket = queries.tiers
    assert (page.name, page.alertname, ticket.name, ticket.alertname) == (
        "page",
        "SearchQueriesFailing",
        "ticket",
        "SearchQueriesFailing",
    )
    assert dict(page.labels) == {
        "category": "availability",
        "tier": "frontline",
        "severity": "sev1",
        "routing_key": "discovery-oncall",
    }
    assert dict(ticket.labels) == {
        "category": "availability",
        "tier": "frontline",
        "severity": "sev3",
        "channel": "#discovery",
    }
    assert dict(page.annotations) == {
        "summary": "Search is burning its error budget fast",  # the tier's own wins
        "playbook": "https://wiki.example.org/search",
    }
    assert dict(ticket.annotations) == {
        "summary": "Search queries fail faster than the SLO allows",
        "playbook": "https://wiki.example.org/search",
        "ticket_queue": "DISC",
    }
    assert queries.source == "tests/data/sloth/every-field.yaml: slos[0]"

    assert (freshness.name, freshness.objective, freshness.sli.kind) == (
        "index-freshness",
        99.0,
        "ratio",
    )
    assert dict(freshness.labels) == {"team": "discovery", "tier": "1"}
    assert [(t.name, t.alertname, dict(t.labels)) for t in freshness.tiers] == [
        ("page", "SearchIndexStale", {}),
        ("ticket", "SearchIndexStale", {"severity": "sev4"}),
    ]


def test_alerting_name_names_both_tiers_alerts_and_labels_reach_the_rules():
    queries = load_spec(DATA / "every-field.yaml").slos[0]
    alerts = burn_alerts(queries)
    assert {tier: rule["alert"] for tier, rule in alerts.items()} == {
        "page": "SearchQueriesFailing",
        "ticket": "SearchQueriesFailing",
    }
    assert (
        alerts["page"]["labels"].items()
        >= {
            "team": "discovery",
            "component": "query-api",
            "category": "availability",
            "tier": "frontline",  # alerting.labels over the SLO's own tier label
            "severity": "sev1",
            "routing_key": "discovery-oncall",
        }.items()
    )
    assert alerts["ticket"]["labels"]["severity"] == "sev3"
    assert alerts["page"]["annotations"]["playbook"] == "https://wiki.example.org/search"
    for labels in record_labels(queries):
        assert (
            labels.items() >= {"team": "discovery", "tier": "0", "component": "query-api"}.items()
        )


def test_noop_and_validate_plugins_change_nothing(tmp_path: Path):
    document = yaml.safe_load((DATA / "every-field.yaml").read_text())
    del document["slo_plugins"]
    for item in document["slos"]:
        item.pop("plugins", None)
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(document))
    with_plugins, without_plugins = load_spec(DATA / "every-field.yaml"), load_spec(plain)
    assert [replace(s, source="") for s in with_plugins.slos] == [
        replace(s, source="") for s in without_plugins.slos
    ]


def test_a_spec_without_alerts_has_no_tier_and_no_alert_rule():
    (slo,) = load_spec(DATA / "no-alerts.yaml").slos
    assert (slo.service, slo.name, slo.objective, slo.tiers) == (
        "ledger",
        "writes-availability",
        99.95,
        (),
    )
    rules = rule_group(slo)["rules"]
    assert [r["alert"] for r in rules if "alert" in r] == []
    assert any("record" in r for r in rules)


def test_a_disabled_page_leaves_the_ticket_alone():
    (slo,) = load_spec(DATA / "page-disabled.yaml").slos
    (ticket,) = slo.tiers
    assert (ticket.name, ticket.alertname, dict(ticket.labels), dict(ticket.annotations)) == (
        "ticket",
        "MailDeliveryDegraded",
        {"severity": "low"},
        {"summary": "Too many mails bounce"},
    )
    alerts = burn_alerts(slo)
    assert list(alerts) == ["ticket"]
    assert alerts["ticket"]["alert"] == "MailDeliveryDegraded"
    assert alerts["ticket"]["labels"].items() >= {"owner": "comms", "severity": "low"}.items()


def test_each_document_of_a_file_is_its_own_spec():
    spec = load_spec(DATA / "multi-document.yaml")
    assert [(s.id, s.objective, s.period_name) for s in spec.slos] == [
        ("cart-requests-availability", 99.9, "30d"),
        ("wishlist-requests-availability", 99.0, "30d"),
        ("cart-cart-checkout-0", 99.5, "30d"),
    ]
    cart, wishlist, checkout = spec.slos
    assert [s.name for s in spec.services] == ["cart", "wishlist"]
    assert dict(cart.labels) == {"tier": "2"}
    assert dict(wishlist.labels) == {}  # the first document's labels stay in it
    assert [t.alertname for t in cart.tiers] == ["CartErrors", "CartErrors"]
    assert [dict(t.labels) for t in wishlist.tiers] == [{"tier": "3"}, {"tier": "3"}]
    assert checkout.tiers == ()
    assert [s.source.split(": ")[1] for s in spec.slos] == [
        "documents[0].slos[0]",
        "documents[1].slos[0]",
        "documents[2].spec",
    ]


def test_an_obsstack_spec_includes_multi_document_files_with_its_default_period(tmp_path: Path):
    spec_file = tmp_path / "slos.yaml"
    spec_file.write_text(
        textwrap.dedent(f"""\
            version: obsstack/v1
            defaults: {{period: 28d}}
            include: [{DATA / "multi-document.yaml"}, {DATA / "no-alerts.yaml"}]
            services: [{{name: cart, depends_on: [redis]}}]
            """)
    )
    spec = load_spec(spec_file)
    assert [(s.id, s.period_name) for s in spec.slos] == [
        ("cart-requests-availability", "28d"),  # Sloth: the including spec's period
        ("wishlist-requests-availability", "28d"),
        ("cart-cart-checkout-0", "30d"),  # OpenSLO: its own timeWindows
        ("ledger-writes-availability", "28d"),
    ]
    assert spec.service("cart").depends_on == ("redis",)


SLOTH_SLO = """\
    version: prometheus/v1
    service: cart
    labels: {top}
    slos:
      - name: requests
        objective: 99.9
        labels: {slo}
        sli:
          events:
            error_query: sum(rate(cart_requests_total{{code=~"5.."}}[{{{{.window}}}}]))
            total_query: sum(rate(cart_requests_total[{{{{.window}}}}]))
        alerting:
          name: CartErrors
          labels: {alerting}
          page_alert: {{labels: {page}}}
          ticket_alert: {{labels: {ticket}}}
    """
PLACES = ("top", "slo", "alerting", "page", "ticket")


@pytest.mark.parametrize("label", ["tier", "service", "slo", "team", "_private", "Tier2"])
@pytest.mark.parametrize("place", PLACES)
def test_user_labels_of_any_valid_name_are_kept_wherever_sloth_allows_them(
    tmp_path: Path, label: str, place: str
):
    maps = {p: ({label: "x"} if p == place else {}) for p in PLACES}
    path = tmp_path / "sloth.yaml"
    path.write_text(textwrap.dedent(SLOTH_SLO.format(**maps)))
    (slo,) = load_spec(path).slos
    page, ticket = slo.tiers
    on_slo = place in ("top", "slo")
    on_page, on_ticket = place in ("alerting", "page"), place in ("alerting", "ticket")
    assert (label in slo.labels, label in page.labels, label in ticket.labels) == (
        on_slo,
        on_page,
        on_ticket,
    )
    alerts = burn_alerts(slo)
    assert alerts["page"]["labels"].get(label) == ("x" if on_slo or on_page else None)
    assert alerts["ticket"]["labels"].get(label) == ("x" if on_slo or on_ticket else None)
    assert all(labels.get(label) == ("x" if on_slo else None) for labels in record_labels(slo))


def test_the_window_variable_may_be_spaced_as_go_templates_allow(tmp_path: Path):
    path = tmp_path / "sloth.yaml"
    path.write_text(
        textwrap.dedent(SLOTH_SLO.format(top={}, slo={}, alerting={}, page={}, ticket={}))
        .replace("[{{.window}}]))\n        total", "[{{ .window }}]))\n        total")
        .replace("total[{{.window}}]", "total[{{.window }}]")
    )
    (slo,) = load_spec(path).slos
    assert "[5m]" in slo.sli.errors_query("5m") and "{{" not in slo.sli.errors_query("5m")
    assert "[5m]" in slo.sli.total_query("5m") and "{{" not in slo.sli.total_query("5m")


def test_the_shipped_sloth_example_names_its_alerts_as_sloth_does():
    spec = load_spec(REPO / "alerts/examples/sloth-payments.yaml")
    assert [[t.alertname for t in s.tiers] for s in spec.slos] == [
        ["PaymentsHighErrorRate", "PaymentsHighErrorRate"],
        ["PaymentsWebhookDeliveryFailing"],
    ]


def test_every_sloth_failure_mode_has_a_fixture():
    bad = {p.stem for p in (REPO / "tests/data/bad/slos").glob("*.yaml")}
    assert {
        "sloth-plugin",
        "sloth-slo-plugin",
        "sloth-group-plugin",
        "sloth-override-previous",
        "sloth-alert-name-required",
        "sloth-bad-alert-name",
        "sloth-reserved-label",
        "sloth-query-without-window",
        "sloth-same-queries",
        "sloth-multi-document-objective",
        "sloth-multi-document-no-slos",
        "sloth-multi-document-duplicate",
        "multi-document-unknown-format",
    } <= bad
