"""The Watchdog heartbeat reaches its receiver once per heartbeat interval, in the real
Alertmanager with the generated configuration and the interval scaled down to 2 seconds.

Alertmanager repeats an unchanged notification only when ``repeat_interval`` has fully passed
at a flush; with ``repeat_interval`` equal to the interval every other flush was skipped and
the heartbeat came every 4 s (every 2 minutes with the shipped 1m). ``make bench-heartbeat``
measures the shipped timings (benchmarks/heartbeat.md).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from obsstack.core import naming
from obsstack.core.spec import format_duration
from tests.bundle.conftest import paging_stack
from tests.support.alert_sender import Alert
from tests.support.processes import wait_until

INTERVAL = 2.0
HEARTBEATS = 10
TOLERANCE = 0.5  # seconds either way: a flush, a send and a receipt


def test_one_heartbeat_per_interval(tmp_path: Path):
    watchdog = Alert(
        {
            "alertname": naming.ALERT_WATCHDOG,
            naming.SEVERITY_LABEL: naming.SEVERITY_NONE,
            naming.TIER_LABEL: naming.TIER_HEARTBEAT,
            naming.STACK_LABEL: "a",
        }
    )
    with paging_stack(
        tmp_path,
        # Prometheus re-sends an always-firing alert every resend delay (1m, as the interval)
        resend_delay=INTERVAL,
        evaluation_interval=INTERVAL,
        resolved_retention=INTERVAL,
        heartbeat_interval=format_duration(INTERVAL),
    ) as paging:
        paging.sender.fire(watchdog)
        wait_until(lambda: paging.apis.webhooks("heartbeat"), 10, "the first heartbeat")
        time.sleep(HEARTBEATS * INTERVAL + TOLERANCE)
        arrivals = [w.received_at for w in paging.apis.webhooks("heartbeat")]
    spacings = [round(b - a, 2) for a, b in itertools.pairwise(arrivals)]
    assert len(spacings) == HEARTBEATS, spacings
    assert all(abs(s - INTERVAL) <= TOLERANCE for s in spacings), spacings
