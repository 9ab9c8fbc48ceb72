"""The PrometheusRule objects hold exactly the rule files of alerts/generated, and each one's
groups pass the real ``promtool check rules`` (Debian prometheus 2.42)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from obsstack.kubernetes.rules import rule_name
from tests.kubernetes.generated import objects
from tests.support.paths import ROOT
from tests.support.processes import require_binary

RULE_FILES = sorted((ROOT / "alerts" / "generated").glob("*.rules.yml"))
RULES = {rule["metadata"]["name"]: rule for rule in objects("PrometheusRule")}


def test_one_prometheus_rule_per_rule_file():
    assert sorted(RULES) == sorted(rule_name(path.name) for path in RULE_FILES)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_prometheus_rule_holds_the_rule_file_unchanged(path):
    """No drift between the compose bundle's rules and the cluster's."""
    assert RULES[rule_name(path.name)]["spec"] == yaml.safe_load(path.read_text())


@pytest.mark.parametrize("name", sorted(RULES))
def test_promtool_checks_the_rules(name, tmp_path: Path):
    rule_file = tmp_path / f"{name}.yml"
    rule_file.write_text(yaml.safe_dump({"groups": RULES[name]["spec"]["groups"]}))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_refuses_a_broken_rule(tmp_path: Path):
    """The check can fail: a rule whose PromQL does not parse."""
    groups = [{"name": "broken", "rules": [{"record": "x:y", "expr": "sum(rate(x[5m])"}]}]
    (tmp_path / "broken.yml").write_text(yaml.safe_dump({"groups": groups}))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(tmp_path / "broken.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
