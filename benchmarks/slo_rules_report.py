"""Checks of the backfilled history and the Markdown report of the SLO rule benchmark."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.slo_rules_backfill import Backfill
from benchmarks.slo_rules_layouts import LAYOUTS, MARGIN, OURS, SLOTH, selector
from obsstack.alerts import records
from obsstack.core.spec import format_duration, parse_duration

if TYPE_CHECKING:
    from benchmarks.slo_rules import Bench, Sample, Split

RAW = "http_server_request_duration_seconds"
_WHOSE = {"ours": "our", "sloth": "Sloth's"}
_NAME = {"ours": "ours", "sloth": "Sloth's layout"}


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:,.0f}"


def _deviation(live: float | None, value: float) -> float:
    if live is None:
        return float("inf")
    return abs(live - value) / max(abs(value), 1e-12)


def history_checks(bench: Bench, expected: dict[str, float], raw_history: float) -> list[str]:
    """What the rules see of the history: full windows, no resets, the period's ratios."""
    from benchmarks.slo_rules import STEP

    layouts = bench.layouts
    job = next(iter(bench.fleet.targets.values())).job
    lines = []
    raw_span = format_duration(round((raw_history - MARGIN) / 3600) * 3600)
    raw_expected = parse_duration(raw_span) / STEP
    for name in (f'{RAW}_count{{job="{job}"}}', f'{RAW}_bucket{{job="{job}",le="0.1"}}'):
        low = bench.scalar(f"min(count_over_time({name}[{raw_span}]))")
        high = bench.scalar(f"max(count_over_time({name}[{raw_span}]))")
        resets = bench.scalar(f"sum(resets({name}[{raw_span}]))")
        lines.append(
            f"`{name}` over {raw_span}: {_number(low)} to {_number(high)} samples a series "
            f"({raw_span} / {STEP:g}s = {raw_expected:,.0f}), {_number(resets)} counter resets"
        )
    seen = set()
    for i in layouts.inputs:
        name = i.rule["record"]
        if name in seen:
            continue
        seen.add(name)
        reach = layouts.reaches[i.layout][name]
        window = format_duration(round(reach / 3600) * 3600)
        every = format_duration(i.interval)
        low = bench.scalar(f"min(count_over_time({name}[{window}]))")
        high = bench.scalar(f"max(count_over_time({name}[{window}]))")
        lines.append(
            f"{_WHOSE[i.layout]} `{name}` (every {every}) over {window}: {_number(low)} to "
            f"{_number(high)} samples a series ({window} / {every} = "
            f"{parse_duration(window) / i.interval:,.0f})"
        )
    ours_dev = sloth_dev = 0.0
    coverage = []
    for slo in layouts.slos:
        values = {(i.layout, i.rule["record"]): i for i in layouts.slo_inputs(slo)}
        errors = expected[values["ours", records.errors_per_second(slo)].series]
        events = expected[values["ours", records.events_per_second(slo)].series]
        live = bench.scalar(records.query(records.ERROR_RATIO_PERIOD, slo))
        ours_dev = max(ours_dev, _deviation(live, errors / events))
        coverage.append(bench.scalar(records.query(records.PERIOD_COVERAGE, slo)) or 0.0)
        (sloth,) = (i for i in values.values() if i.layout == "sloth")
        period = dict(sloth.rule["labels"], sloth_window=slo.period_name)
        period_rule = {"record": f"slo:sli_error:ratio_rate{slo.period_name}", "labels": period}
        live = bench.scalar(selector(period_rule))
        sloth_dev = max(sloth_dev, _deviation(live, expected[sloth.series]))
    lines.append(f"our `{records.PERIOD_COVERAGE}`: {min(coverage):.5f} to {max(coverage):.5f}")
    lines.append(
        f"period error ratio against the traffic's: ours within {ours_dev:.1e}, "
        f"Sloth's within {sloth_dev:.1e} (relative)"
    )
    return lines


def counters(bench: Bench, before: dict[str, float] | None = None) -> dict[str, float]:
    """Missed iterations per layout, compactions and Prometheus' CPU seconds (since ``before``)."""
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


def _medians(
    splits: list[Split], size: int, layout: str
) -> dict[tuple[str, ...], tuple[float, float]]:
    """Median seconds per evaluation and per second of each key of ``size`` parts."""
    keys = {key for split in splits for key in split if len(key) == size and key[0] == layout}
    return {
        key: (
            statistics.median(split.get(key, (0.0, 0.0))[0] for split in splits),
            statistics.median(split.get(key, (0.0, 0.0))[1] for split in splits),
        )
        for key in keys
    }


def _groups(splits: list[Split], bench: Bench) -> list[str]:
    rows = []
    for layout in LAYOUTS:
        medians = _medians(splits, 2, layout)
        total = sum(per_second for _, per_second in medians.values()) or 1.0
        ranked = sorted(medians.items(), key=lambda kv: kv[1][1], reverse=True)
        for (_, kind), (seconds, per_second) in ranked:
            interval = bench.layouts.kind_interval[layout, kind]
            rows.append(
                f"| {_NAME[layout]} | `{kind}` | {format_duration(interval)} | "
                f"{seconds * 1000:,.1f} | {per_second * 1000:,.1f} | {per_second / total:.0%} |"
            )
    return rows


def _rules(splits: list[Split]) -> list[str]:
    rows = []
    for layout in LAYOUTS:
        medians = _medians(splits, 3, layout)
        total = sum(per_second for _, per_second in medians.values()) or 1.0
        ranked = sorted(medians.items(), key=lambda kv: kv[1][1], reverse=True)
        rows += [
            f"| {_NAME[layout]} | `{kind}` | `{rule}` | {seconds * 1000:,.1f} | "
            f"{per_second * 1000:,.1f} | {per_second / total:.0%} |"
            for (_, kind, rule), (seconds, per_second) in ranked
            if per_second / total >= 0.01
        ]
    return rows


def _gigabytes(backfill: Backfill) -> str:
    return f"{backfill.text_bytes / 1e9:.1f} GB"


def _ratios(samples: list[Sample]) -> tuple[float, float, float, float, float, float]:
    """Medians: ours and Sloth's per second, their ratio; the same per round (seconds)."""
    ours_s = statistics.median(s.per_second["ours"] for s in samples)
    sloth_s = statistics.median(s.per_second["sloth"] for s in samples)
    ours_r = statistics.median(s.per_round["ours"] for s in samples)
    sloth_r = statistics.median(s.per_round["sloth"] for s in samples)
    return ours_s, sloth_s, ours_s / sloth_s, ours_r, sloth_r, ours_r / sloth_r


def _chunks(samples: list[Sample], warmup: float, minutes: float) -> list[str]:
    lines = [
        "| minutes after the history loaded | ours (ms/s) | Sloth's layout (ms/s) "
        "| ours / Sloth | ours (ms per round) | Sloth's layout (ms per round) | ours / Sloth |",
        "|---|---|---|---|---|---|---|",
    ]
    step, start = 5.0, 0.0
    while start < warmup + minutes:
        chunk = [s for s in samples if start <= s.elapsed / 60 < start + step]
        if chunk:
            ours_s, sloth_s, per_s, ours_r, sloth_r, per_r = _ratios(chunk)
            span = f"{start:.0f}-{start + step:.0f}" + (" (warm-up)" if start < warmup else "")
            lines.append(
                f"| {span} | {ours_s * 1000:,.1f} | {sloth_s * 1000:,.1f} | {per_s:.3f} "
                f"| {ours_r * 1000:,.1f} | {sloth_r * 1000:,.1f} | {per_r:.3f} |"
            )
        start += step
    return lines


def render(
    bench: Bench,
    notes: dict[str, Any],
    samples: list[Sample],
    splits: list[Split],
    warmup: float,
    minutes: float,
) -> str:
    layouts = bench.layouts
    fill: Backfill = notes["backfill"]
    gap: Backfill = notes["gap"]
    groups = {lay: len(layouts.documents[lay]["groups"]) for lay in LAYOUTS}
    lines = [
        f"Machine: {machine()}.",
        "",
        f"SLOs: {len(layouts.slos)}. Rule groups: ours {groups['ours']}, Sloth's "
        f"{groups['sloth']}. Recording rules: ours {layouts.count('ours', 'record')}, "
        f"Sloth's {layouts.count('sloth', 'record')}; alerting rules: ours "
        f"{layouts.count('ours', 'alert')}, Sloth's {layouts.count('sloth', 'alert')}.",
        f"Series scraped: {sum(len(t.series) for t in bench.fleet.targets.values()):,} from "
        f"{len(bench.fleet.targets)} targets; head series at the end: "
        f"{notes['head_series']:,.0f}.",
        f"Backfill: {notes['raw_series']:,} raw series the rules select "
        f"({format_duration(notes['raw_history'])}), and {len(notes['expected'])} records "
        f"read over ranges; {fill.samples:,} samples, {_gigabytes(fill)} of OpenMetrics text, "
        f"{fill.windows} windows, {fill.blocks} blocks, {fill.seconds / 60:.1f} min. Records "
        f"between the backfill and the rules' first evaluations: {gap.samples:,} samples, "
        f"{gap.blocks} block(s); every record's first live sample on its group's predicted grid.",
        "",
        "History as the rules see it:",
        "",
        f"- the live rules' first records agree with the backfilled values within "
        f"{notes['deviation']:.1e} (relative)",
        *(f"- {line}" for line in notes["checks"]),
        "",
        *_chunks(samples, warmup, minutes),
    ]
    measured = [s for s in samples if s.elapsed >= warmup * 60]
    if measured:
        ours_s, sloth_s, per_s, ours_r, sloth_r, per_r = _ratios(measured)
        lines += [
            "",
            f"Steady state ({minutes:g} min after {warmup:g} min of warm-up, "
            f"{len(measured)} samples), medians: evaluation time per second of wall time "
            f"(each group's last duration / its interval, summed): ours {ours_s * 1000:,.1f} "
            f"ms/s, Sloth's layout {sloth_s * 1000:,.1f} ms/s, **ours / Sloth = {per_s:.3f}** "
            f"(the ratio this benchmark reports); plain sum of the groups' last durations: "
            f"ours {ours_r * 1000:,.1f} ms, Sloth's {sloth_r * 1000:,.1f} ms, "
            f"ours / Sloth = {per_r:.3f}.",
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
        "Where the time goes, per group (median over the measured samples, summed over the "
        "SLOs; share of the layout's ms/s):",
        "",
        "| layout | group | interval | ms per evaluation | ms/s | share |",
        "|---|---|---|---|---|---|",
        *_groups(splits, bench),
        "",
        "Per rule (rules under 1 % of their layout left out):",
        "",
        "| layout | group | rule | ms per evaluation | ms/s | share |",
        "|---|---|---|---|---|---|",
        *_rules(splits),
        "",
        "Firing at the end: "
        + (
            ", ".join(f"{r['metric']['alertname']} x{r['value'][1]}" for r in notes["firing"])
            or "nothing"
        ),
    ]
    return "\n".join(lines)
