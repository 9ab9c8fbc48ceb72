"""Once an instrumented application has started, its start-up objects are out of the garbage
collector's passes (``gc.freeze()``), unless ``gc_freeze=False``; what requests make is still
collected. Each case runs in its own interpreter: freezing is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, json, logging, sys
from fastapi import FastAPI
from fastapi.testclient import TestClient
from obsstack.instrumentation import instrument_app

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
app = FastAPI()

class Cycle:
    def __init__(self):
        self.me = self

@app.get("/cycle")
def cycle():
    Cycle()
    return {}

instrument_app(app, "gc", tracing=False, log_export=False, gc_freeze=sys.argv[1] == "on")
before = gc.get_freeze_count()
with TestClient(app) as client:
    started = gc.get_freeze_count()
    client.get("/cycle")
    gc.collect()
    left = sum(type(o) is Cycle for o in gc.get_objects())
with TestClient(app):
    again = gc.get_freeze_count()
print(json.dumps({"before": before, "started": started, "again": again, "cycles": left}))
"""


def run(setting: str) -> tuple[dict[str, int], str]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, setting],
        capture_output=True, text=True, cwd=ROOT, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout), result.stderr


def test_start_up_objects_are_frozen_once_and_requests_garbage_is_still_collected():
    counts, logs = run("on")
    assert counts["before"] == 0
    assert counts["started"] > 10_000  # FastAPI, pydantic, OpenTelemetry, prometheus-client...
    assert counts["cycles"] == 0
    # A second start-up freezes nothing more (frozen objects that are freed leave the count).
    assert logs.count("start-up objects left out of garbage collection") == 1


def test_gc_freeze_false_leaves_the_collector_alone():
    counts, logs = run("off")
    assert counts["started"] == counts["again"] == 0
    assert "garbage collection" not in logs
