"""When obsstack's SLO alerts fire and clear, against Sloth's rules, for the same input series.

Every scenario of :mod:`tests.support.timing` runs once in real promtool with both rule
layouts loaded side by side (obsstack's ``obsstack.alerts.rules`` and Sloth's, as Sloth v0.16 writes
them), evaluated every 30 s. The report gives, per scenario and tier, the minutes from the
start of the burst (or of the data) until each layout's alert fires and until it clears, and
our delay relative to Sloth's.

Run: ``.venv/bin/python -m benchmarks.slo_timing`` (a few minutes); prints Markdown
(write-up: ``benchmarks/slo_timing.md``).
"""

from __future__ import annotations

import platform
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import timing
from tests.support.processes import require_binary


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:g}"


def _delta(ours: float | None, theirs: float | None) -> str:
    if ours is None and theirs is None:
        return ""
    if ours is None or theirs is None:
        return "only one fires" if (ours is None) != (theirs is None) else ""
    return f"{(ours - theirs) / 60:+g}"


def report() -> str:
    lines = [
        "| SLO | scenario | tier | Sloth fires | ours fires | delay | Sloth clears | ours clears "
        "| delay |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        slos = timing.comparison_slos(Path(workdir))
    for slo in slos:
        scenarios = timing.scenarios_for(slo)
        for scenario, line in zip(scenarios, timing.run(slo, scenarios), strict=True):
            step = slo.evaluation_interval
            for tier in ("page", "ticket"):
                fire = [line.first(layout, tier) for layout in (timing.SLOTH, timing.OURS)]
                clear = [line.cleared(layout, tier, step) for layout in (timing.SLOTH, timing.OURS)]
                cells = [f"{slo.service}/{slo.name}", scenario.name, tier]
                for pair in (fire, clear):
                    cells += [_minutes(pair[0]), _minutes(pair[1]), _delta(pair[1], pair[0])]
                lines.append("| " + " | ".join(cells) + " |")
    promtool = subprocess.run(
        [require_binary("promtool"), "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[0]
    lines += [
        "",
        f"Minutes after the burst starts (or after the first sample for steady ratios); "
        f"'-' never (fires) or still firing at the end (clears). {promtool}; "
        f"{platform.processor() or platform.machine()}; {time.monotonic() - started:.0f} s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
