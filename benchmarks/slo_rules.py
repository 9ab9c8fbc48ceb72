"""Rule evaluation cost of obsstack's SLO rules against Sloth's layout, in one real Prometheus.

50 SLOs (25 services x availability 99.9 % and latency 95 % under 100 ms) over synthetic
services scraped live: 3 instances x 20 routes x 5 status codes x 16 histogram series each,
120,000 series. Both rule sets (``alerts.rules`` and ``benchmarks.slo_rules_sloth``) are loaded
into the same Debian ``prometheus``, so they see the same data, machine and moment. Every
30 s the benchmark sums ``prometheus_rule_group_last_duration_seconds`` over each layout's
groups. Part way, one service starts failing 5 % of its requests and another turns slow; the
time each layout's page alert takes to go pending and firing is recorded.

Long windows only hold what the run has scraped: Sloth's 1h..3d windows read raw series over
that history, so its cost keeps growing with the run (up to 3 days of raw samples in
production); ours read two recorded series per SLO. The table shows the trend over the run.

Run: ``.venv/bin/python -m benchmarks.slo_rules [--minutes 30] [--burst-at 15]``; prints a
Markdown report (write-up: ``benchmarks/slo_rules.md``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from alerts import load_spec
from alerts.render import to_yaml
from alerts.rules import rule_group
from benchmarks.slo_rules_series import Fleet, Service
from exporters import naming
from tests.support import sloth_layout as slo_rules_sloth
from tests.support.processes import free_port, require_binary
from tests.support.servers import PrivatePrometheus

SERVICES = 25
OURS = f'rule_group=~".*;{naming.SLO_RULE_GROUP_PREFIX}.*"'
SLOTH = 'rule_group=~".*;sloth-slo-.*"'


def spec_text() -> str:
    lines = ["version: obsstack/v1", "services:"]
    lines += [f"  - name: svc{i:02d}" for i in range(SERVICES)]
    lines.append("slos:")
    metric = naming.HTTP_SERVER_REQUEST_DURATION.name
    for i in range(SERVICES):
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


def write_rules(workdir: Path) -> tuple[Path, Path, int, int]:
    spec_path = workdir / "slos.yaml"
    spec_path.write_text(spec_text())
    slos = load_spec(spec_path).slos
    ours = {"groups": [rule_group(slo) for slo in slos]}
    sloth = {"groups": [g for slo in slos for g in slo_rules_sloth.groups(slo)]}
    paths = workdir / "ours.rules.yml", workdir / "sloth.rules.yml"
    paths[0].write_text(to_yaml(ours, "benchmark"))
    paths[1].write_text(to_yaml(sloth, "benchmark"))
    check = subprocess.run(
        [require_binary("promtool"), "check", "rules", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise SystemExit(check.stdout + check.stderr)

    def count(document: dict[str, Any], key: str) -> int:
        return sum(1 for g in document["groups"] for r in g["rules"] if key in r)

    return paths[0], paths[1], count(ours, "record"), count(sloth, "record")


def scalar(prometheus: PrivatePrometheus, query: str) -> float | None:
    result = prometheus.query(query)
    return float(result[0]["value"][1]) if result else None


def firing_since(prometheus: PrivatePrometheus, query: str) -> bool:
    return bool(prometheus.query(query))


def run(minutes: float, burst_at: float) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="obsstack-slo-bench-"))
    ours_path, sloth_path, ours_records, sloth_records = write_rules(workdir)
    services = [Service(f"svc{i:02d}", 150.0) for i in range(SERVICES)]
    services[0].error_burst_at = burst_at * 60
    services[1].latency_burst_at = burst_at * 60
    fleet = Fleet(services)
    port = free_port()
    fleet.serve(port)
    config: dict[str, Any] = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "30s"},
        "scrape_configs": fleet.scrape_configs(port),
    }
    prometheus = PrivatePrometheus(workdir, config, [ours_path, sloth_path])
    # Prometheus scrapes itself for prometheus_rule_group_last_duration_seconds.
    config["scrape_configs"].append(
        {"job_name": "prometheus", "static_configs": [{"targets": [prometheus.url[7:]]}]}
    )
    config["rule_files"] = [str(ours_path), str(sloth_path)]
    prometheus.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    prometheus.start()
    samples: list[tuple[float, float, float]] = []
    alerts: dict[str, float] = {}
    page = f'alertname="{naming.ALERT_SLO_BURN_RATE_PAGE}"'
    sloth_page = f'alertname="{slo_rules_sloth.ALERT}",sloth_severity="page"'
    watched = {
        "ours pending": f'ALERTS{{{page},alertstate="pending"}}',
        "ours firing": f'ALERTS{{{page},alertstate="firing"}}',
        "sloth firing": f'ALERTS{{{sloth_page},alertstate="firing"}}',
    }
    try:
        deadline = fleet.started + minutes * 60
        while time.monotonic() < deadline:
            time.sleep(15)
            elapsed = fleet.elapsed()
            ours = scalar(prometheus, f"sum(prometheus_rule_group_last_duration_seconds{{{OURS}}})")
            sloth = scalar(
                prometheus, f"sum(prometheus_rule_group_last_duration_seconds{{{SLOTH}}})"
            )
            if ours is not None and sloth is not None:
                samples.append((elapsed, ours, sloth))
            for label, query in watched.items():
                for series in prometheus.query(query):
                    labels = series["metric"]
                    service = labels.get("service") or labels.get("sloth_service")
                    alerts.setdefault(f"{label} {service}", elapsed - burst_at * 60)
        series_count = scalar(prometheus, "prometheus_tsdb_head_series") or 0.0
    finally:
        prometheus.stop()
        fleet.stop()
    return report(minutes, burst_at, samples, alerts, series_count, ours_records, sloth_records)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def report(
    minutes: float,
    burst_at: float,
    samples: list[tuple[float, float, float]],
    alerts: dict[str, float],
    series_count: float,
    ours_records: int,
    sloth_records: int,
) -> str:
    version = subprocess.run(
        [require_binary("prometheus"), "--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]

    lines = [
        f"Machine: {_cpu()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {version}.",
        f"Head series at the end: {series_count:.0f}. Recording rules: ours {ours_records}, "
        f"Sloth layout {sloth_records} (50 SLOs). Evaluation interval 30s, scrape 15s.",
        "",
        "| minutes of history | ours (ms, median) | Sloth layout (ms, median) | ours / Sloth |",
        "|---|---|---|---|",
    ]
    step = 5.0
    start = 5.0
    while start < minutes:
        chunk = [(o, s) for t, o, s in samples if start <= t / 60 < start + step]
        if chunk:
            ours = statistics.median(o for o, _ in chunk) * 1000
            sloth = statistics.median(s for _, s in chunk) * 1000
            span = f"{start:.0f}-{start + step:.0f}"
            lines.append(f"| {span} | {ours:.1f} | {sloth:.1f} | {ours / sloth:.2f} |")
        start += step
    lines += [
        "",
        f"Page alerts after the bursts started (minute {burst_at:g}; svc00: 5 % errors, "
        "svc01: latency):",
        "",
        "| alert | seconds after the burst |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.0f} |" for k, v in sorted(alerts.items()) if v >= 0]
    early = [k for k, v in alerts.items() if v < 0]
    if early:
        lines.append(
            f"\nAlerts active before the bursts (false positives): {', '.join(sorted(early))}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--burst-at", type=float, default=15.0, help="minute the bursts start")
    args = parser.parse_args(argv)
    print(run(args.minutes, args.burst_at))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
