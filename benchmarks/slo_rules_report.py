"""Checks of the backfilled history and the Markdown report of the SLO rule benchmark."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alerts import records
from benchmarks.slo_rules_backfill import Backfill

if TYPE_CHECKING:
    from benchmarks.slo_rules import Bench

RAW = "http_server_request_duration_seconds"


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:,.0f}"


def _deviation(live: float | None, value: float) -> float:
    if live is None:
        return float("inf")
    return abs(live - value) / max(abs(value), 1e-12)


def history_checks(bench: Bench, expected: dict[str, float]) -> list[str]:
    """What the rules see of the history: full windows, no resets, the period's ratios."""
    from benchmarks.slo_rules import selector

    job = next(iter(bench.fleet.targets.values())).job
    lines = []
    for name in (f'{RAW}_count{{job="{job}"}}', f'{RAW}_bucket{{job="{job}",le="0.1"}}'):
        low = bench.scalar(f"min(count_over_time({name}[3d]))")
        high = bench.scalar(f"max(count_over_time({name}[3d]))")
        resets = bench.scalar(f"sum(resets({name}[3d]))")
        lines.append(
            f"`{name}` over 3d: {_number(low)} to {_number(high)} samples a series "
            f"(3 d / 30 s = 8,640), {_number(resets)} counter resets"
        )
    ours_dev = sloth_dev = 0.0
    coverage = []
    for slo in bench.layouts.slos:
        ours, sloth = {}, None
        for rule in bench.layouts.period_inputs(slo):
            if rule["record"] in (records.events_per_second(slo), records.errors_per_second(slo)):
                ours[rule["record"]] = expected[selector(rule)]
            else:
                sloth = rule
        ratio = ours[records.errors_per_second(slo)] / ours[records.events_per_second(slo)]
        live = bench.scalar(records.query(records.ERROR_RATIO_PERIOD, slo))
        ours_dev = max(ours_dev, _deviation(live, ratio))
        coverage.append(bench.scalar(records.query(records.PERIOD_COVERAGE, slo)) or 0.0)
        assert sloth is not None
        period = dict(sloth["labels"], sloth_window=slo.period_name)
        period_rule = {"record": f"slo:sli_error:ratio_rate{slo.period_name}", "labels": period}
        live = bench.scalar(selector(period_rule))
        sloth_dev = max(sloth_dev, _deviation(live, expected[selector(sloth)]))
        if slo is bench.layouts.slos[0]:
            count = bench.scalar(f"count_over_time({selector(sloth)}[{slo.period_name}])")
            lines.append(
                f"Sloth's `{sloth['record']}` over {slo.period_name}: {_number(count)} samples "
                f"(30 d / 30 s = 86,400)"
            )
    lines.append(f"ours `{records.PERIOD_COVERAGE}`: {min(coverage):.5f} to {max(coverage):.5f}")
    lines.append(
        f"period error ratio against the traffic's: ours within {ours_dev:.1e}, "
        f"Sloth's within {sloth_dev:.1e} (relative)"
    )
    return lines


def counters(bench: Bench, before: dict[str, float] | None = None) -> dict[str, float]:
    """Missed iterations per layout, compactions and Prometheus' CPU seconds (since ``before``)."""
    from benchmarks.slo_rules import OURS, SLOTH

    missed = "prometheus_rule_group_iterations_missed_total"
    now = {
        "missed ours": bench.scalar(f'sum({missed}{{rule_group=~".*;{OURS}.*"}})') or 0.0,
        "missed sloth": bench.scalar(f'sum({missed}{{rule_group=~".*;{SLOTH}.*"}})') or 0.0,
        "compactions": bench.own_metric("prometheus_tsdb_compactions_total"),
        "cpu seconds": bench.own_metric("process_cpu_seconds_total"),
    }
    if before is None:
        return now
    return {k: v - before.get(k, 0.0) for k, v in now.items()}


def machine() -> str:
    info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if "Model name" in line),
        platform.processor(),
    )
    memory = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    prometheus = subprocess.run(["prometheus", "--version"], capture_output=True, text=True)
    version = prometheus.stdout.splitlines()[0]
    return (
        f"{model}, {os.cpu_count()} CPUs, {memory / 2**20:.0f} GiB, "
        f"Python {platform.python_version()}, {version}"
    )


def _split(splits: list[dict[tuple[str, str], float]], layout: str) -> list[str]:
    names = {name for split in splits for lay, name in split if lay == layout}
    medians = {
        name: statistics.median(split.get((layout, name), 0.0) for split in splits)
        for name in names
    }
    total = sum(medians.values()) or 1.0
    ranked = sorted(medians.items(), key=lambda kv: kv[1], reverse=True)
    return [
        f"| {layout} | `{name}` | {ms * 1000:.1f} | {ms / total:.0%} |"
        for name, ms in ranked
        if ms / total >= 0.01
    ]


def _gigabytes(backfill: Backfill) -> str:
    return f"{backfill.text_bytes / 1e9:.1f} GB"


def render(
    bench: Bench,
    notes: dict[str, Any],
    samples: list[tuple[float, float, float]],
    splits: list[dict[tuple[str, str], float]],
    warmup: float,
    minutes: float,
) -> str:
    layouts = bench.layouts
    fill: Backfill = notes["backfill"]
    gap: Backfill = notes["gap"]
    lines = [
        f"Machine: {machine()}.",
        "",
        f"SLOs: {len(layouts.slos)}. Recording rules: ours {layouts.count('ours', 'record')}, "
        f"Sloth's {layouts.count('sloth', 'record')}; alerting rules: ours "
        f"{layouts.count('ours', 'alert')}, Sloth's {layouts.count('sloth', 'alert')}.",
        f"Series scraped: {sum(len(t.series) for t in bench.fleet.targets.values()):,} from "
        f"{len(bench.fleet.targets)} targets; head series at the end: "
        f"{notes['head_series']:,.0f}.",
        f"Backfill: {notes['raw_series']:,} raw series the rules select, and "
        f"{len(notes['expected'])} records; {fill.samples:,} samples, {_gigabytes(fill)} of "
        f"OpenMetrics text, {fill.windows} windows, {fill.blocks} blocks, "
        f"{fill.seconds / 60:.1f} min. Records between the backfill and the rules' first "
        f"evaluation: {gap.samples:,} samples, {gap.blocks} block(s).",
        "",
        "History as the rules see it:",
        "",
        f"- the live rules' first records agree with the backfilled values within "
        f"{notes['deviation']:.1e} (relative)",
        *(f"- {line}" for line in notes["checks"]),
        "",
        "| minutes after the history loaded | ours (ms, median) | Sloth's layout (ms, median) "
        "| ours / Sloth |",
        "|---|---|---|---|",
    ]
    step = 5.0
    start = 0.0
    measured = [(o, s) for t, o, s in samples if t >= warmup * 60]
    while start < warmup + minutes:
        chunk = [(o, s) for t, o, s in samples if start <= t / 60 < start + step]
        if chunk:
            ours = statistics.median(o for o, _ in chunk) * 1000
            sloth = statistics.median(s for _, s in chunk) * 1000
            span = f"{start:.0f}-{start + step:.0f}" + (" (warm-up)" if start < warmup else "")
            lines.append(f"| {span} | {ours:.1f} | {sloth:.1f} | {ours / sloth:.3f} |")
        start += step
    if measured:
        ours = statistics.median(o for o, _ in measured) * 1000
        sloth = statistics.median(s for _, s in measured) * 1000
        lines += [
            "",
            f"Steady state ({minutes:g} min after {warmup:g} min of warm-up, "
            f"{len(measured)} samples): ours {ours:.1f} ms, Sloth's layout {sloth:.1f} ms "
            f"per evaluation round; ours / Sloth = {ours / sloth:.3f}.",
        ]
    used = notes["counters"]
    lines += [
        "",
        f"During the run: missed iterations ours {used['missed ours']:.0f}, Sloth "
        f"{used['missed sloth']:.0f}; compactions {used['compactions']:.0f}; Prometheus "
        f"used {used['cpu seconds'] / ((warmup + minutes) * 60):.2f} CPUs on average. "
        f"Samples refused (out of bounds or order) and failed rule evaluations since the "
        f"start: {notes['rejected']:.0f}.",
        "",
        "Where the time goes (median over the measured samples, summed over the SLOs):",
        "",
        "| layout | rule | ms | share |",
        "|---|---|---|---|",
        *_split(splits, "ours"),
        *_split(splits, "sloth"),
        "",
        "Firing at the end: "
        + (
            ", ".join(f"{r['metric']['alertname']} x{r['value'][1]}" for r in notes["firing"])
            or "nothing"
        ),
    ]
    return "\n".join(lines)
