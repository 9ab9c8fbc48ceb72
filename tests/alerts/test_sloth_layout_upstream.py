"""Sloth's rule layout as the tests know it (tests.support.sloth_layout) is the one Sloth writes.

The oracle is Sloth itself: the rules files Sloth v0.16.0 generated for its own example specs
(``examples/_gen/*.yml`` in its repository), copied unchanged with the specs into
``tests/data/sloth/upstream/`` (see PROVENANCE.md there): every ``prometheus/v1`` example
that obsstack reads. Each spec is read with obsstack's Sloth reader (``load_spec``), each of
its SLOs laid out by ``sloth_layout.groups``, and the result compared with Sloth's file: the
same groups in the same order, the same records and alerts in the same order, and every rule
equal key by key (labels, annotations, ``for``, expression).

Two things are set aside, nothing else:

- the label ``cmd: examplesgen.sh`` on Sloth's records, which Sloth's example generator adds
  (``--extra-labels "cmd=examplesgen.sh"`` in its ``scripts/examplesgen.sh``), exactly that
  label with exactly that value;
- whitespace in expressions outside string literals: a run of it counts as one space, and
  none next to a bracket, comma or operator. Sloth wraps a query as written, with the
  trailing newline of a YAML block (``(sum(...)\\n)``), where obsstack's reader strips it.
  Every number, window, matcher, function and operator is compared as written, so a
  different window, threshold or burn-rate factor fails.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsstack.alerts import load_spec
from tests.support import sloth_layout

UPSTREAM = Path(__file__).resolve().parents[1] / "data/sloth/upstream"
EXAMPLES = (
    "getting-started",
    "home-wifi",
    "kubernetes-apiserver",
    "multifile",
    "no-alerts",
    "raw-home-wifi",
    "slo-plugin-getting-started",
)
GENERATOR_LABEL = ("cmd", "examplesgen.sh")

_STRING_LITERAL = re.compile(r"(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`)")
_SPACE_BESIDE_SYMBOL = re.compile(r" ?([^\w\s]) ?")


def normalised(expr: str) -> str:
    """``expr`` with whitespace outside string literals made canonical (and nothing else)."""
    parts = _STRING_LITERAL.split(expr)
    for i in range(0, len(parts), 2):  # the even parts are outside string literals
        parts[i] = _SPACE_BESIDE_SYMBOL.sub(r"\1", re.sub(r"\s+", " ", parts[i]))
    return "".join(parts).strip()


def _comparable(rule: dict[str, Any]) -> dict[str, Any]:
    rule = {**rule, "expr": normalised(rule["expr"])}
    if "labels" in rule:
        key, value = GENERATOR_LABEL
        rule["labels"] = {k: v for k, v in rule["labels"].items() if (k, v) != (key, value)}
    return rule


def sloths_groups(example: str) -> list[dict[str, Any]]:
    """The rule groups Sloth wrote for ``example``, every document of the file in order."""
    text = (UPSTREAM / "_gen" / f"{example}.yml").read_text()
    return [group for document in yaml.safe_load_all(text) for group in document["groups"]]


def layout_groups(example: str) -> list[dict[str, Any]]:
    """The rule groups sloth_layout writes for the SLOs obsstack reads from ``example``."""
    spec = load_spec(UPSTREAM / f"{example}.yml")
    return [group for slo in spec.slos for group in sloth_layout.groups(slo)]


def _outline(groups: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(g["name"], [r.get("record") or r["alert"] for r in g["rules"]]) for g in groups]


def test_the_examples_are_sloths_spec_files_each_beside_the_rules_sloth_generated():
    specs = sorted(p.stem for p in UPSTREAM.glob("*.yml"))
    generated = sorted(p.stem for p in (UPSTREAM / "_gen").glob("*.yml"))
    assert specs == generated == sorted(EXAMPLES)
    assert (UPSTREAM / "LICENSE").read_text().split()[:3] == ["Apache", "License", "Version"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_gets_sloths_groups_and_rules_in_sloths_order(example: str):
    assert _outline(layout_groups(example)) == _outline(sloths_groups(example))


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_rule_has_sloths_labels_annotations_for_and_expression(example: str):
    theirs, ours = sloths_groups(example), layout_groups(example)
    assert len(ours) == len(theirs)
    compared = 0
    for their_group, our_group in zip(theirs, ours, strict=True):
        name = their_group["name"]
        assert {k: v for k, v in our_group.items() if k != "rules"} == {
            k: v for k, v in their_group.items() if k != "rules"
        }, name
        for their_rule, our_rule in zip(their_group["rules"], our_group["rules"], strict=True):
            rule = their_rule.get("record") or their_rule["alert"]
            assert _comparable(our_rule) == _comparable(their_rule), f"{name}: {rule}"
            compared += 1
    assert compared >= 15  # 8 SLI and 7 metadata records per SLO, at the least


def test_sloths_records_carry_the_generator_label_that_is_set_aside():
    """The label is Sloth's example generator's, on every record and nothing else."""
    for example in EXAMPLES:
        for group in sloths_groups(example):
            for rule in group["rules"]:
                has_label = rule.get("labels", {}).get("cmd") == "examplesgen.sh"
                assert has_label == ("record" in rule), (example, rule.get("alert"))


def test_a_different_window_threshold_or_factor_is_not_normalised_away():
    _sli, _meta, alerts = sloths_groups("getting-started")
    page = alerts["rules"][0]["expr"]
    assert normalised(page) == normalised(page.replace("\n", "\n  ").replace(" (", "("))
    for before, after in (
        ("ratio_rate5m{", "ratio_rate10m{"),
        ("14.4 *", "14 *"),
        ("0.0009999999999999432", "0.001"),
        ("> (6", ">= (6"),
        ("without (sloth_window)", "by (sloth_window)"),
        ('sloth_slo="requests-availability"', 'sloth_slo="requests-availability "'),
    ):
        assert before in page
        assert normalised(page.replace(before, after, 1)) != normalised(page), after
