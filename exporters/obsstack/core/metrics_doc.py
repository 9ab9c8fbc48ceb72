"""``exporters/METRICS.md``: every metric of the naming module, as a reference table."""

from __future__ import annotations

from obsstack.core import naming
from obsstack.core.artifacts import HEADER, Artifact, GenerateContext

PATH = "exporters/METRICS.md"


def render() -> str:
    lines = [
        f"<!-- {HEADER}: edit exporters/obsstack/core/naming.py and run `obsstack generate` -->",
        "# Metrics",
        "",
        "Every metric obsstack exports, from `exporters/obsstack/core/naming.py`. Dashboards",
        "and alert rules query only these names and the recording rules generated from",
        "`alerts/slos.yaml`.",
    ]
    groups: dict[str, list[naming.MetricSpec]] = {}
    for spec in naming.all_metrics():
        groups.setdefault(spec.group, []).append(spec)
    for group, specs in groups.items():
        lines += [
            "",
            f"## {group}",
            "",
            "| metric | type | labels | meaning |",
            "|---|---|---|---|",
        ]
        for spec in specs:
            labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
            lines.append(f"| `{spec.name}` | {spec.type} | {labels} | {spec.help} |")
    lines += [
        "",
        "Label `reason` takes one of: " + ", ".join(f"`{r}`" for r in naming.FAILURE_REASONS) + ".",
        "",
    ]
    return "\n".join(lines)


def generate(context: GenerateContext) -> list[Artifact]:
    return [Artifact(PATH, render())]
