"""A real Prometheus holding one fixed hour of data, for renders that must come out the same.

The samples are written as OpenMetrics and turned into TSDB blocks with ``promtool tsdb
create-blocks-from openmetrics`` (Debian prometheus 2.42), then served by the ``prometheus``
binary with a retention long enough to keep blocks from 2026.

Every 15 s from START to END:
- ``demo_requests_total{route="/a"}`` grows by 10 a second, ``{route="/b"}`` by 5;
- ``demo_up{dependency="db"}`` is 1; ``{dependency="cache"}`` is 1, then 0 for the last 10 min;
- ``demo_ratio`` is 0.95, ``demo_bytes`` 1536;
- ``demo_latency_seconds{route="/a"}`` is 0.05, ``{route="/b"}`` 0.2, ``{route="/c"}`` NaN
  (a ratio of nothing over nothing).
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

from tests.support.processes import require_binary
from tests.support.servers import PrivatePrometheus

START = 1767225600  # 2026-01-01T00:00:00Z
END = START + 3600
STEP = 15
FIXED_RANGE = ["--from", str(START), "--to", str(END)]  # the render flags for that hour


def openmetrics() -> str:
    """The hour of samples, as OpenMetrics text."""
    lines = [
        "# TYPE demo_requests counter",
        *_samples("demo_requests_total", {"route": "/a"}, lambda t: 10.0 * (t - START)),
        *_samples("demo_requests_total", {"route": "/b"}, lambda t: 5.0 * (t - START)),
        "# TYPE demo_up gauge",
        *_samples("demo_up", {"dependency": "cache"}, lambda t: 0.0 if t > END - 600 else 1.0),
        *_samples("demo_up", {"dependency": "db"}, lambda t: 1.0),
        "# TYPE demo_ratio gauge",
        *_samples("demo_ratio", {}, lambda t: 0.95),
        "# TYPE demo_bytes gauge",
        *_samples("demo_bytes", {}, lambda t: 1536.0),
        "# TYPE demo_latency_seconds gauge",
        *_samples("demo_latency_seconds", {"route": "/a"}, lambda t: 0.05),
        *_samples("demo_latency_seconds", {"route": "/b"}, lambda t: 0.2),
        *_samples("demo_latency_seconds", {"route": "/c"}, lambda t: math.nan),
        "# EOF",
    ]
    return "\n".join(lines) + "\n"


def _samples(name: str, labels: dict[str, str], value) -> list[str]:
    text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    selector = f"{name}{{{text}}}" if text else name
    lines = []
    for moment in range(START, END + 1, STEP):
        number = value(moment)
        lines.append(f"{selector} {'NaN' if math.isnan(number) else repr(number)} {moment}")
    return lines


def start_fixed_prometheus(workdir: Path) -> PrivatePrometheus:
    """Backfill the hour into ``workdir/data`` and serve it."""
    source = workdir / "fixed.om"
    source.write_text(openmetrics())
    data = workdir / "data"
    subprocess.run(
        [
            require_binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(source),
            str(data),
        ],
        check=True,
        capture_output=True,
    )
    config = {"global": {"scrape_interval": f"{STEP}s"}, "scrape_configs": []}
    return PrivatePrometheus(
        workdir, config, extra_args=["--storage.tsdb.retention.time=100y"]
    ).start()
