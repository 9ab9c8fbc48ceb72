"""Rule evaluation cost of obsstack's SLO rules against Sloth's layout, with a full history.

50 SLOs (25 services x availability 99.9 % and latency 95 % under 100 ms) over synthetic
services (:mod:`benchmarks.slo_rules_series`) scraped live every 30 s. Both rule sets,
``alerts.rules.rule_group`` and Sloth's (``tests.support.sloth_layout``), run in the same
Debian ``prometheus``, so they see the same data, machine and moment.

Once the first scrapes and evaluations are in, the history is backfilled behind them
(:mod:`benchmarks.slo_rules_backfill`), continuing every series without a gap or a reset:
the raw series the rules select, 3 days and an hour at the scrape resolution (Sloth's longest
raw window is 3d), and the records the rules read over the 30-day period, 30 days and an hour
at the 30 s evaluation interval, their values computed from the traffic's definition
(:mod:`benchmarks.slo_rules_steady`) and checked against what the live rules record.

Then every 30 s the benchmark sums ``prometheus_rule_group_last_duration_seconds`` over each
layout's groups, and reads each rule's evaluation time from the rules API for the split.

Run: ``.venv/bin/python -m benchmarks.slo_rules [--minutes 25] [--warmup 10]``; prints a
Markdown report (write-up: ``benchmarks/slo_rules.md``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from alerts import load_spec, records
from alerts.model import SLO
from alerts.render import to_yaml
from alerts.rules import rule_group
from benchmarks import slo_rules_report as report
from benchmarks.slo_rules_backfill import Stream, backfill
from benchmarks.slo_rules_series import Fleet
from benchmarks.slo_rules_steady import Steady
from exporters import naming
from tests.support import sloth_layout
from tests.support.processes import free_port, require_binary, wait_until
from tests.support.servers import PrivatePrometheus

REQUESTS_PER_SECOND = 150.0
STEP = 30.0  # scrape interval and both layouts' evaluation interval, seconds
RAW_HISTORY = 3 * 86400 + 3600  # Sloth's 3d raw window, and an hour
RECORD_HISTORY = 30 * 86400 + 3600  # the SLO period, and an hour
RETENTION = "35d"  # over the period; Prometheus' blocks then grow to 54h at most
QUERY_SLOTS = 1000  # more than the groups: no rule waits for another's query to end
OURS = f"{naming.SLO_RULE_GROUP_PREFIX}"
SLOTH = "sloth-slo-"


def spec_text(services: int) -> str:
    lines = ["version: obsstack/v1", "services:"]
    lines += [f"  - name: svc{i:02d}" for i in range(services)]
    lines.append("slos:")
    metric = naming.HTTP_SERVER_REQUEST_DURATION.name
    for i in range(services):
        job = f'job="svc{i:02d}"'
        lines += [
            f"  - service: svc{i:02d}",
            "    name: availability",
            "    objective: 99.9",
            "    sli:",
            "      kind: availability",
            f"      errors: '{metric}_count{{{job},http_response_status_code=~\"5..\"}}'",
            f"      total: '{metric}_count{{{job}}}'",
            f"  - service: svc{i:02d}",
            "    name: latency",
            "    objective: 95",
            "    sli:",
            "      kind: latency",
            f"      histogram: '{metric}{{{job}}}'",
            "      threshold: 100ms",
        ]
    return "\n".join(lines) + "\n"


class Layouts:
    """Both rule sets for the same SLOs, as Prometheus rule files."""

    def __init__(self, workdir: Path, services: int) -> None:
        spec_path = workdir / "slos.yaml"
        spec_path.write_text(spec_text(services))
        self.slos = load_spec(spec_path).slos
        self.ours = {"groups": [rule_group(slo) for slo in self.slos]}
        self.sloth = {"groups": [g for slo in self.slos for g in sloth_layout.groups(slo)]}
        self.paths = [workdir / "ours.rules.yml", workdir / "sloth.rules.yml"]
        self.paths[0].write_text(to_yaml(self.ours, "benchmark"))
        self.paths[1].write_text(to_yaml(self.sloth, "benchmark"))
        check = subprocess.run(
            [require_binary("promtool"), "check", "rules", *map(str, self.paths)],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise SystemExit(check.stdout + check.stderr)

    def expressions(self) -> list[str]:
        return [
            r["expr"] for doc in (self.ours, self.sloth) for g in doc["groups"] for r in g["rules"]
        ]

    def count(self, layout: str, key: str) -> int:
        document = self.ours if layout == "ours" else self.sloth
        return sum(1 for g in document["groups"] for r in g["rules"] if key in r)

    def period_inputs(self, slo: SLO) -> list[dict[str, Any]]:
        """The rules whose records the period rules read: ours, then Sloth's."""
        ours = [records.events_per_second(slo), records.errors_per_second(slo)]
        rules = [r for r in rule_group(slo)["rules"] if r.get("record") in ours]
        sloth = sloth_layout.sli_group(slo)["rules"]
        base = [r for r in sloth if r["labels"].get("sloth_window") == slo.base_window_name]
        return rules + base

    def period_inputs_all(self) -> list[dict[str, Any]]:
        return [r for slo in self.slos for r in self.period_inputs(slo)]


def selector(rule: dict[str, Any]) -> str:
    """The series a recording rule writes, as a PromQL selector."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(rule["labels"].items()))
    return f"{rule['record']}{{{inner}}}"


class Bench:
    def __init__(self, services: int, routes: int) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="obsstack-slo-bench-"))
        self.layouts = Layouts(self.workdir, services)
        self.started = time.time()
        self.fleet = Fleet(
            {f"svc{i:02d}": REQUESTS_PER_SECOND for i in range(services)},
            routes,
            origin=self.started - RECORD_HISTORY - 86400,
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
        """Add both rule files to the running Prometheus."""
        self.config["rule_files"] = [str(p) for p in self.layouts.paths]
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

    def rule_times(self) -> dict[tuple[str, str], float]:
        """Seconds each rule name took at its last evaluation, summed per layout."""
        response = httpx.get(f"{self.prometheus.url}/api/v1/rules", timeout=120)
        times: dict[tuple[str, str], float] = {}
        for group in response.json()["data"]["groups"]:
            layout = "ours" if group["name"].startswith(OURS) else "sloth"
            for rule in group["rules"]:
                key = (layout, rule["name"])
                times[key] = times.get(key, 0.0) + float(rule["evaluationTime"])
        return times

    # -- phases -------------------------------------------------------------------------------

    def wait_for_targets(self) -> None:
        targets = len(self.fleet.targets) + 1
        wait_until(lambda: self.scalar("count(up == 1)") == targets, 120, "every target up", 2)

    def wait_for_records(self, since: int) -> None:
        """Until every record the period rules read has been evaluated since ``since`` (ms)."""
        rules = self.layouts.period_inputs_all()
        # One query per name: timestamp() drops the name, and two records share their labels.
        queries = [f"count(timestamp({n}) >= {since / 1000})" for n in {r["record"] for r in rules}]

        def evaluated() -> bool:
            return sum(self.scalar(q) or 0 for q in queries) == len(rules)

        wait_until(evaluated, 120, "every record evaluated", 2)

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
            streams.append(Stream(prefixes, rates, True, since, first, first % step))
        return streams

    def record_streams(
        self, expected: dict[str, float], since: int, until: int | None = None
    ) -> list[Stream]:
        """The records the period rules read: from ``since`` to ``until`` on a 30 s grid, or
        (``until`` None) to each record's first live sample, on the live rules' grid."""
        step = round(STEP * 1000)
        streams = []
        for series, value in expected.items():
            end = self.first_sample(series, since) if until is None else until
            streams.append(Stream((series + " ",), (value,), False, since, end, end % step))
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

    def sample_costs(self) -> tuple[float, float] | None:
        metric = "prometheus_rule_group_last_duration_seconds"
        ours = self.scalar(f'sum({metric}{{rule_group=~".*;{OURS}.*"}})')
        sloth = self.scalar(f'sum({metric}{{rule_group=~".*;{SLOTH}.*"}})')
        return None if ours is None or sloth is None else (ours, sloth)


def run(services: int, routes: int, minutes: float, warmup: float) -> str:
    bench = Bench(services, routes)
    steady = Steady(bench.fleet)
    expected = {
        selector(rule): steady.value(rule["expr"]) for rule in bench.layouts.period_inputs_all()
    }
    bench.fleet.serve(bench.port)
    notes: dict[str, Any] = {"expected": expected}
    samples: list[tuple[float, float, float]] = []
    splits: list[dict[tuple[str, str], float]] = []
    step = round(STEP * 1000)
    try:
        bench.prometheus.start()
        bench.wait_for_targets()
        now = round(time.time() * 1000)
        raw = bench.raw_streams(steady, now - RAW_HISTORY * 1000)
        records = bench.record_streams(expected, now - RECORD_HISTORY * 1000, now)
        notes["raw_series"] = sum(len(s.prefixes) for s in raw)
        notes["backfill"] = backfill(
            raw + records, step, bench.fleet.origin, bench.workdir, bench.workdir / "data"
        )
        blocks = notes["backfill"].blocks
        bench.wait_for_blocks(blocks)
        # The rules start with the whole history in place: their first records are exact.
        bench.load_rules()
        bench.wait_for_records(now)
        wrong, notes["deviation"] = bench.check_records(expected)
        if wrong:
            raise SystemExit("the live rules disagree with the backfill:\n" + "\n".join(wrong))
        # The records between the backfill's end and the rules' first evaluation.
        gap = bench.record_streams(expected, now)
        notes["gap"] = backfill(
            gap, step, bench.fleet.origin, bench.workdir / "gap", bench.workdir / "data"
        )
        bench.wait_for_blocks(blocks + notes["gap"].blocks)
        loaded = time.monotonic()
        time.sleep(2 * STEP)  # evaluations over the whole history
        notes["checks"] = report.history_checks(bench, expected)
        before = report.counters(bench)
        deadline = loaded + (warmup + minutes) * 60
        while time.monotonic() < deadline:
            time.sleep(STEP)
            elapsed = time.monotonic() - loaded
            costs = bench.sample_costs()
            if costs is not None:
                samples.append((elapsed, *costs))
            if elapsed >= warmup * 60:
                splits.append(bench.rule_times())
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
