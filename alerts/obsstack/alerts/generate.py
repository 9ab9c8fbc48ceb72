"""``obsstack generate`` for alerts: rule files and their promtool tests under alerts/generated/.

- ``<service>.<slo>.rules.yml``: the SLO's rule group (:mod:`obsstack.alerts.rules`);
- ``stack.rules.yml``: the stack's own alerts (:mod:`obsstack.alerts.stack_rules`);
- ``tests/*.test.yml``: promtool unit tests for every SLO and for the stack alerts;
- ``tests/UNTESTED.md``: only when an SLO's PromQL is too free-form to synthesise inputs for.
"""

from __future__ import annotations

from obsstack.alerts import rule_tests, rules, stack_rules
from obsstack.alerts.load import load_spec
from obsstack.alerts.model import SLO, SLOSpec
from obsstack.alerts.render import to_yaml
from obsstack.core.artifacts import HEADER, Artifact, GenerateContext

OUTPUT_DIR = "alerts/generated"
STACK_RULES = "stack.rules.yml"


def rules_file(slo: SLO) -> str:
    """File name (inside alerts/generated) of ``slo``'s rule group."""
    return f"{slo.service}.{slo.name}.rules.yml"


def rule_files(spec: SLOSpec, source: str) -> dict[str, str]:
    """File name -> content of every rule file: one per SLO, then the stack's."""
    files = {
        rules_file(slo): to_yaml(
            {"groups": rules.rule_groups(slo, spec.service(slo.service).depends_on)}, source
        )
        for slo in spec.slos
    }
    files[STACK_RULES] = to_yaml(
        {"groups": [stack_rules.rule_group(spec)]}, "alerts/obsstack/alerts/stack_rules.py"
    )
    return files


def generate(context: GenerateContext) -> list[Artifact]:
    path = context.spec
    spec = load_spec(path)
    source = spec.source
    artifacts = [Artifact(f"{OUTPUT_DIR}/{n}", c) for n, c in rule_files(spec, source).items()]
    tests, untested = rule_tests.test_files(spec, rules_file, STACK_RULES, source)
    artifacts += [Artifact(f"{OUTPUT_DIR}/tests/{n}", c) for n, c in tests.items()]
    if untested:
        lines = [f"<!-- {HEADER} -->", "# SLOs without generated rule tests", ""]
        lines += [
            "Their SLI is free-form PromQL, so no input series could be made for them:",
            "",
            *(f"- {name}" for name in untested),
            "",
        ]
        artifacts.append(Artifact(f"{OUTPUT_DIR}/tests/UNTESTED.md", "\n".join(lines)))
    return artifacts
