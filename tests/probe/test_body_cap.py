"""HTTP probes read at most MAX_BODY_BYTES of an answer, whatever its size.

A probe once read the whole body: a 300 MB answer took the exporter to ~740 MB of peak memory
and it kept ~370 MB afterwards; an endless body grew it until the probe timed out. The doubles
here answer 200 with a 300 MB body or an endless chunked one, as fast as the exporter reads.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from obsstack.probe.kinds.web import MAX_BODY_BYTES
from tests.probe.conftest import sample
from tests.support.processes import OBSSTACK, Process, free_port, http_ok, wait_until
from tests.support.wire_doubles import EndlessHttp

MiB = 1 << 20


def every_http_kind(url: str) -> list[dict[str, Any]]:
    """One dependency of each HTTP-based kind and preset; what each should read is below."""
    return [
        {"name": "http", "kind": "http", "url": url},
        {"name": "http-match", "kind": "http", "url": url, "body_match": '^\\{"status"'},
        {"name": "http-nomatch", "kind": "http", "url": url, "body_match": "never-there"},
        {"name": "openai", "kind": "http", "preset": "openai", "url": url, "api_key": "sk-x"},
        {"name": "supabase", "kind": "http", "preset": "supabase", "url": url, "api_key": "anon"},
        {"name": "qdrant", "kind": "qdrant", "url": url},
        {"name": "qdrant-key", "kind": "qdrant", "url": url, "api_key": "qd"},
        {"name": "elasticsearch", "kind": "elasticsearch", "url": url},
        {"name": "neo4j", "kind": "neo4j", "url": url},
    ]


# Status checks need no body: up. A body_match reads the first MiB. A JSON answer cut at the
# cap is a protocol failure.
EXPECTED = {
    "http": None,
    "http-match": None,
    "http-nomatch": "unhealthy",
    "openai": None,
    "supabase": None,
    "qdrant": None,
    "qdrant-key": "protocol",
    "elasticsearch": "protocol",
    "neo4j": "protocol",
}


@pytest.fixture(params=[300 * MiB, None], ids=["300MB", "endless"])
def huge(request: pytest.FixtureRequest) -> Iterator[EndlessHttp]:
    double = EndlessHttp(request.param)
    yield double
    double.close()


async def test_every_http_kind_reads_a_capped_body_within_its_budget(
    huge, make_config, exporter_for
):
    exporter = exporter_for(make_config(every_http_kind(huge.url), defaults={"timeout": "5s"}))
    tracemalloc.start()
    try:
        started = time.monotonic()
        text = await exporter.metrics()
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 4, elapsed  # no probe ran into its 5 s timeout
    assert peak < 48 * MiB, peak  # nine probes, a MiB each at most, plus the exporter's own
    for name, reason in EXPECTED.items():
        assert sample(text, "dependency_up", dependency=name) == (reason is None), name
        if reason is not None:
            assert (
                sample(text, "dependency_probe_failures_total", dependency=name, reason=reason) == 1
            ), name
    detail = (await exporter.get("/ready")).json()["dependencies"]["elasticsearch"]["detail"]
    assert detail == f"answer from /_cluster/health is larger than {MAX_BODY_BYTES // 1024} KiB"


def memory_mib(pid: int) -> dict[str, int]:
    """VmHWM (peak resident memory) and VmRSS of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def test_a_300MB_answer_leaves_the_exporters_memory_bounded(tmp_path: Path):
    double = EndlessHttp(300 * MiB)
    port = free_port()
    dependencies = [
        {"name": "http", "kind": "http", "url": double.url, "timeout": "20s"},
        {"name": "search", "kind": "elasticsearch", "url": double.url, "timeout": "20s"},
    ]
    path = tmp_path / "exporter.yaml"
    path.write_text(
        yaml.safe_dump({"server": {"listen": f"127.0.0.1:{port}"}, "dependencies": dependencies})
    )
    server = Process([*OBSSTACK, "serve", "--config", str(path)], tmp_path / "serve.log")
    try:
        wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 20, "obsstack serve")
        before = memory_mib(server.pid)
        for _ in range(3):
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
            assert response.status_code == 200
            assert sample(response.text, "dependency_up", dependency="http") == 1
        after = memory_mib(server.pid)
    finally:
        server.stop()
        double.close()
    # Before the cap: +680 MB peak and +300 MB kept. Now: the first scrape's imports, and a MiB
    # per probe.
    assert after["VmHWM"] - before["VmHWM"] < 48, (before, after)
    assert after["VmRSS"] - before["VmRSS"] < 48, (before, after)
    assert double.bytes_sent < 3 * 2 * 16 * MiB  # the rest of each body was never sent
