"""Rule evaluation cost of obsstack's SLO rules against Sloth's layout, with a full history.

50 SLOs (25 services x availability 99.9 % and latency 95 % under 100 ms) over synthetic
services (:mod:`benchmarks.slo_rules_series`) scraped live every 30 s. Both rule sets
(:mod:`benchmarks.slo_rules_layouts`: ours from ``obsstack.alerts.rules.rule_groups``, a main group
every 30 s and a period group every 5 m per SLO; Sloth's from ``tests.support.sloth_layout``)
run in the same Debian ``prometheus``, so they see the same data, machine and moment.

Once the first scrapes are in, the history is backfilled behind them
(:mod:`benchmarks.slo_rules_backfill`), continuing every series without a gap or a reset: the
raw series the rules select, as far back as the longest raw read (Sloth's 3d) and an hour, at
the scrape resolution; and every record that a rule reads over a range, as far back as its
longest read and an hour, on the evaluation grid of the group that records it (interval, and
the offset Prometheus derives from the group's name and file:
:mod:`benchmarks.slo_rules_schedule`). The records' values are computed from the traffic's
definition (:mod:`benchmarks.slo_rules_steady`) and checked against what the live rules
record, and each record's first live sample against its predicted grid.

Then every 30 s the benchmark reads ``prometheus_rule_group_last_duration_seconds`` of each
layout's groups: summed, and each divided by its group's interval and summed (evaluation
seconds per second, the cost of groups of different intervals on one scale); and, after the
warm-up, each group's and rule's evaluation time from the rules API for the split.

Run: ``.venv/bin/python -m benchmarks.slo_rules [--minutes 20] [--warmup 5]``; prints a
Markdown report (write-up: ``benchmarks/slo_rules.md``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import yaml

from benchmarks import slo_rules_report as report
from benchmarks.slo_rules_backfill import Stream, backfill
from benchmarks.slo_rules_layouts import LAYOUTS, OURS, SLOTH, Layouts
from benchmarks.slo_rules_series import Fleet
from benchmarks.slo_rules_steady import Steady
from tests.support.processes import free_port, wait_until
from tests.support.servers import PrivatePrometheus

REQUESTS_PER_SECOND = 150.0
STEP = 30.0  # scrape interval and the global evaluation interval (Sloth's groups), seconds
RETENTION = "35d"  # over the period; Prometheus' blocks then grow to 54h at most
QUERY_SLOTS = 1000  # more than the groups: no rule waits for another's query to end
PREFIXES = {"ours": OURS, "sloth": SLOTH}


class Sample(NamedTuple):
    """One reading of the layouts' group durations, ``elapsed`` seconds after the history."""

    elapsed: float
    per_round: dict[str, float]  # layout -> sum of its groups' last durations, seconds
    per_second: dict[str, float]  # layout -> sum of last duration / interval, seconds per second


# (layout, group kind) -> seconds per evaluation and per second, summed over the SLOs; and
# (layout, group kind, rule) -> the same for each rule.
Split = dict[tuple[str, ...], tuple[float, float]]


class Bench:
    def __init__(self, services: int, routes: int) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="obsstack-slo-bench-"))
        self.layouts = Layouts(self.workdir, services, STEP)
        self.started = time.time()
        periods = max(i.history for i in self.layouts.inputs)
        self.fleet = Fleet(
            {f"svc{i:02d}": REQUESTS_PER_SECOND for i in range(services)},
            routes,
            origin=self.started - periods - 86400,
        )
        self.port = free_port()
        config: dict[str, Any] = {
            "global": {"scrape_interval": f"{STEP:g}s", "evaluation_interval": f"{STEP:g}s"},
            "scrape_configs": self.fleet.scrape_configs(self.port),
        }
        self.config = config
        self.prometheus = PrivatePrometheus(
            self.workdir,
            config,
            extra_args=[
                f"--storage.tsdb.retention.time={RETENTION}",
                # Rule queries share the query slots (20 by default) with API queries: Sloth's
                # long ones would hold them and make every other group wait for a slot.
                f"--query.max-concurrency={QUERY_SLOTS}",
            ],
        )
        config["scrape_configs"].append(
            {"job_name": "prometheus", "static_configs": [{"targets": [self.prometheus.url[7:]]}]}
        )
        self.prometheus.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def load_rules(self) -> None:
        """Add both rule files to the running Prometheus, by the paths their groups hash."""
        self.config["rule_files"] = [str(self.layouts.paths[layout]) for layout in LAYOUTS]
        self.prometheus.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        httpx.post(f"{self.prometheus.url}/-/reload", timeout=30).raise_for_status()

    # -- Prometheus ---------------------------------------------------------------------------

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; a busy Prometheus may take many seconds to answer."""
        url = f"{self.prometheus.url}/api/v1/query"
        response = httpx.get(url, params={"query": promql}, timeout=120)
        response.raise_for_status()
        return list(response.json()["data"]["result"])

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def own_metric(self, name: str) -> float:
        """Sum of one of Prometheus' own metrics, read from /metrics (no scrape lag)."""
        text = httpx.get(f"{self.prometheus.url}/metrics", timeout=60).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and line[len(name)] in " {"
        )

    def first_sample(self, series: str, since: int) -> int:
        """Timestamp (ms) of the first sample of ``series`` (one series) at or after ``since``."""
        seconds = int(time.time() - since / 1000) + 2
        (result,) = self.query(f"{series}[{seconds}s]")
        stamps = (round(float(t) * 1000) for t, _ in result["values"])
        return min(t for t in stamps if t >= since)

    def split(self) -> Split:
        """Seconds each group kind and each rule took at its last evaluation, per layout."""
        response = httpx.get(f"{self.prometheus.url}/api/v1/rules", timeout=120)
        split: Split = {}

        def add(key: tuple[str, ...], seconds: float, interval: float) -> None:
            total, per_second = split.get(key, (0.0, 0.0))
            split[key] = (total + seconds, per_second + seconds / interval)

        for group in response.json()["data"]["groups"]:
            layout, kind = self.layouts.kind_of[group["name"]]
            interval = float(group["interval"])
            add((layout, kind), float(group["evaluationTime"]), interval)
            for rule in group["rules"]:
                add((layout, kind, rule["name"]), float(rule["evaluationTime"]), interval)
        return split

    # -- phases -------------------------------------------------------------------------------

    def wait_for_targets(self) -> None:
        targets = len(self.fleet.targets) + 1
        wait_until(lambda: self.scalar("count(up == 1)") == targets, 120, "every target up", 2)

    def wait_for_records(self, since: int) -> None:
        """Until every record read over a range has been evaluated since ``since`` (ms)."""
        inputs = self.layouts.inputs
        # One query per name: timestamp() drops the name, and two records share their labels.
        names = {i.rule["record"] for i in inputs}
        queries = [f"count(timestamp({n}) >= {since / 1000})" for n in names]

        def evaluated() -> bool:
            return sum(self.scalar(q) or 0 for q in queries) == len(inputs)

        # A group's first evaluation comes up to one of its intervals after the reload.
        timeout = max(i.interval for i in inputs) + 120
        wait_until(evaluated, timeout, "every record evaluated", 2)

    def wait_for_blocks(self, blocks: int) -> None:
        def loaded() -> bool:
            return self.own_metric("prometheus_tsdb_blocks_loaded") >= blocks

        wait_until(loaded, 180, "Prometheus to load the backfilled blocks", 2)

    def raw_streams(self, steady: Steady, since: int) -> list[Stream]:
        """The raw series the rules select, per target, up to its first live scrape."""
        step = round(STEP * 1000)
        lines: dict[str, list[tuple[str, float]]] = {}
        for target, series in steady.read_series(self.layouts.expressions()):
            text = series.text(target.target_labels) + " "
            lines.setdefault(target.instance, []).append((text, series.rate))
        streams = []
        for instance, pairs in lines.items():
            target = self.fleet.targets[instance]
            up = f'up{{job="{target.job}",instance="{instance}"}}'
            first = self.first_sample(up, round(self.started * 1000))
            prefixes, rates = zip(*pairs, strict=True)
            streams.append(Stream(prefixes, rates, True, since, first, first % step, step))
        return streams

    def record_streams(self, expected: dict[str, float], now: int) -> list[Stream]:
        """Every record read over a range, from as far back as it is read to ``now`` (ms), on
        the grid its group evaluates on."""
        return [
            Stream(
                (i.series + " ",),
                (expected[i.series],),
                False,
                now - round(i.history * 1000),
                now,
                i.offset_ms,
                i.step_ms,
            )
            for i in self.layouts.inputs
        ]

    def gap_streams(self, expected: dict[str, float], now: int) -> list[Stream]:
        """The same records from ``now`` to each one's first live sample; stops unless that
        sample is on the predicted grid, which the backfill then continues."""
        streams, wrong = [], []
        for i in self.layouts.inputs:
            first = self.first_sample(i.series, now)
            if first % i.step_ms != i.offset_ms:
                wrong.append(f"{i.group}: evaluated at +{first % i.step_ms} ms, not {i.offset_ms}")
            value = (expected[i.series],)
            streams.append(
                Stream((i.series + " ",), value, False, now, first, i.offset_ms, i.step_ms)
            )
        if wrong:
            raise SystemExit("groups off their predicted grid:\n" + "\n".join(wrong))
        return streams

    def check_records(self, expected: dict[str, float]) -> tuple[list[str], float]:
        """Live record values against the backfilled constants: mismatches, largest deviation."""
        wrong, largest = [], 0.0
        for series, value in expected.items():
            live = self.scalar(series)
            deviation = abs((live or 0.0) - value) / max(abs(value), 1e-12)
            largest = max(largest, deviation)
            # Counters are exact at their timestamps: only printing rounds (%.6f).
            if live is None or deviation > 1e-5:
                wrong.append(f"{series}: live {live}, backfilled {value!r}")
        return wrong, largest

    def sample_costs(self, elapsed: float) -> Sample | None:
        duration = "prometheus_rule_group_last_duration_seconds"
        interval = "prometheus_rule_group_interval_seconds"
        per_round, per_second = {}, {}
        for layout in LAYOUTS:
            groups = f'{{rule_group=~".*;{PREFIXES[layout]}.*"}}'
            total = self.scalar(f"sum({duration}{groups})")
            rate = self.scalar(f"sum({duration}{groups} / {interval}{groups})")
            if total is None or rate is None:
                return None
            per_round[layout], per_second[layout] = total, rate
        return Sample(elapsed, per_round, per_second)


def expected_values(bench: Bench, steady: Steady) -> dict[str, float]:
    """The constant each record read over a range takes, in the order the groups record them."""
    expected = {}
    for i in bench.layouts.inputs:
        expected[i.series] = steady.value(i.rule["expr"])
        steady.record(i.rule["record"], i.rule["labels"], expected[i.series])
    return expected


def run(services: int, routes: int, minutes: float, warmup: float) -> str:
    bench = Bench(services, routes)
    steady = Steady(bench.fleet)
    expected = expected_values(bench, steady)
    bench.fleet.serve(bench.port)
    notes: dict[str, Any] = {"expected": expected}
    samples: list[Sample] = []
    splits: list[Split] = []
    raw_names = {series.name for _, series in bench.fleet.series()}
    try:
        bench.prometheus.start()
        bench.wait_for_targets()
        now = round(time.time() * 1000)
        notes["raw_history"] = bench.layouts.raw_history(raw_names)
        raw = bench.raw_streams(steady, now - round(notes["raw_history"] * 1000))
        notes["raw_series"] = sum(len(s.prefixes) for s in raw)
        streams = raw + bench.record_streams(expected, now)
        notes["backfill"] = backfill(
            streams, bench.fleet.origin, bench.workdir, bench.workdir / "data"
        )
        blocks = notes["backfill"].blocks
        bench.wait_for_blocks(blocks)
        # The rules start with the whole history in place: their first records are exact.
        bench.load_rules()
        bench.wait_for_records(now)
        wrong, notes["deviation"] = bench.check_records(expected)
        if wrong:
            raise SystemExit("the live rules disagree with the backfill:\n" + "\n".join(wrong))
        # The records between the backfill's end and the rules' first evaluations.
        gap = bench.gap_streams(expected, now)
        notes["gap"] = backfill(
            gap, bench.fleet.origin, bench.workdir / "gap", bench.workdir / "data"
        )
        bench.wait_for_blocks(blocks + notes["gap"].blocks)
        loaded = time.monotonic()
        time.sleep(2 * STEP)  # evaluations over the whole history
        notes["checks"] = report.history_checks(bench, expected, notes["raw_history"])
        before = report.counters(bench)
        deadline = loaded + (warmup + minutes) * 60
        while time.monotonic() < deadline:
            time.sleep(STEP)
            elapsed = time.monotonic() - loaded
            sample = bench.sample_costs(elapsed)
            if sample is not None:
                samples.append(sample)
            if elapsed >= warmup * 60:
                splits.append(bench.split())
        notes["counters"] = report.counters(bench, before)
        notes["head_series"] = bench.scalar("prometheus_tsdb_head_series") or 0.0
        notes["rejected"] = sum(
            bench.own_metric(name)
            for name in (
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                "prometheus_target_scrapes_sample_out_of_order_total",
                "prometheus_rule_evaluation_failures_total",
            )
        )
        notes["firing"] = bench.query('count by (alertname) (ALERTS{alertstate="firing"})')
    finally:
        bench.prometheus.stop()
        bench.fleet.stop()
        shutil.rmtree(bench.workdir, ignore_errors=True)
    return report.render(bench, notes, samples, splits, warmup, minutes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="measured, after warm-up")
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes after the backfill")
    parser.add_argument("--services", type=int, default=25, help="two SLOs each")
    parser.add_argument("--routes", type=int, default=8, help="per service (x 3 instances)")
    args = parser.parse_args(argv)
    print(run(args.services, args.routes, args.minutes, args.warmup))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
