"""Instructions a request costs under each instrumentation variant, counted by callgrind.

The wrk benchmark (``benchmarks.instrumentation``) measures throughput, which on a shared
machine moves with everything else running. This one counts the CPU instructions the process
executes per request: the same application and variants, started by uvicorn's lifespan and
served by uvicorn's ``H11Protocol`` on an in-memory transport (no sockets), 32 connections with
one request each in flight, under valgrind's callgrind with counting switched on only around the
measured requests. The counts barely move with the machine's load, so a change to the
instrumentation shows in them even when throughput cannot show it; instructions are not time
(cache misses, system calls and the garbage collector's pauses are not weighed), so the wrk
figures stay the judge.

Run: ``.venv/bin/python -m benchmarks.instrumentation_cost`` (needs ``valgrind`` and the
``bench`` extra); ``--requests`` and ``--variants`` change what is counted. One variant takes
about half a minute (Python runs about 50 times slower under callgrind).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.instrumentation import LOGGING, VARIANTS, _environment, build_app, otlp_sink

CONNECTIONS = 32
REQUEST = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: wrk\r\n\r\n"
DEFAULT_VARIANTS = (
    "bare",
    "metrics",
    "json_access_log",
    "logs_no_request_ids",
    "logs",
    "full_sampled",
    "full",
    "peers",
)


class _Transport:
    """An asyncio transport that takes the responses and drops them."""

    def __init__(self) -> None:
        self.writes = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: bytes) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, *args: Any, **kwargs: Any) -> None:
        pass


class _DroppedSpans(logging.Filter):
    """Sees whether the SDK's batch processor dropped a span, its queue full (it logs the
    first drop of every 20 s): a run that drops spans has not paid for their export, as a served
    request does."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen = self.seen or str(record.msg).startswith("Queue full")
        return True


def _callgrind(switch: str) -> None:
    """Switch callgrind's counting on or off for this process (a no-op outside valgrind)."""
    if os.environ.get("OBSSTACK_CALLGRIND"):
        subprocess.run(["callgrind_control", "-i", switch, str(os.getpid())], check=True,
                       capture_output=True)  # fmt: skip


async def _serve(variant: str, requests: int) -> int:
    from uvicorn.config import Config
    from uvicorn.lifespan.on import LifespanOn
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    config = Config(
        build_app(variant),
        log_config=None,
        log_level="info" if variant in LOGGING else "warning",
        access_log=variant in LOGGING,
    )
    config.load()
    dropped = _DroppedSpans()
    logging.getLogger("opentelemetry.sdk._shared_internal").addFilter(dropped)
    lifespan = LifespanOn(config)  # as uvicorn.Server starts it: the application's startup
    await lifespan.startup()
    loop = asyncio.get_running_loop()
    state = ServerState()
    connections = []
    for _ in range(CONNECTIONS):
        protocol = H11Protocol(config=config, server_state=state, app_state={}, _loop=loop)
        transport = _Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        connections.append((protocol, transport))

    async def one_round() -> None:
        for protocol, _transport in connections:
            protocol.data_received(REQUEST)
        while not all(protocol.cycle.response_complete for protocol, _t in connections):
            await asyncio.sleep(0)

    for _ in range(20):  # warm up: imports, caches, the first export
        await one_round()
    _callgrind("on")
    for _ in range(requests // CONNECTIONS):
        await one_round()
    _callgrind("off")
    await lifespan.shutdown()
    if dropped.seen:
        raise SystemExit(f"{variant}: spans dropped, the export queue full: count fewer requests")
    return sum(transport.writes for _protocol, transport in connections)


def count(variant: str, requests: int, env: dict[str, str]) -> int:
    """Instructions per request of ``variant``, from one run under callgrind."""
    with tempfile.TemporaryDirectory(prefix="obsstack-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, "-m",
             "benchmarks.instrumentation_cost", "serve", variant, "--requests", str(requests)],
            env={**os.environ, **_environment(variant, env), "OBSSTACK_CALLGRIND": "1"},
            capture_output=True, text=True,
        )  # fmt: skip
    if run.returncode:
        raise RuntimeError(f"{variant} did not run to the end:\n{run.stderr[-2000:]}")
    collected = re.search(r"Collected : ([\d,]+)", run.stderr)
    if collected is None:
        raise RuntimeError(f"callgrind counted nothing for {variant}:\n{run.stderr[-2000:]}")
    return int(collected.group(1).replace(",", "")) // (requests // CONNECTIONS * CONNECTIONS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instrumentation_cost")
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve")
    serve_parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--requests", type=int, default=1280, help="requests counted per run")
    serve_parser.add_argument("--requests", type=int, default=1280)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    args = parser.parse_args(argv)
    if args.command == "serve":
        asyncio.run(_serve(args.variant, args.requests))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or "bare" not in variants:
        print(f"--variants: unknown {unknown} or no bare (one of {VARIANTS})", file=sys.stderr)
        return 2
    counts = {}
    with otlp_sink() as env:
        for variant in variants:
            counts[variant] = count(variant, args.requests, env)
            print(f"{variant}: {counts[variant]:,} instructions a request", file=sys.stderr)
    bare, peers = counts["bare"], counts.get("peers")
    print("| variant | instructions a request | added to bare | ratio to bare | ratio to peers |")
    print("|---|---:|---:|---:|---:|")
    for variant, instructions in counts.items():
        to_peers = f"{peers / instructions:.2f}x" if peers else "-"
        print(
            f"| {variant} | {instructions:,} | {instructions - bare:+,} "
            f"| {bare / instructions:.2f}x | {to_peers} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
