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

``--spans N`` counts instead the parts of a sampled server span's life, each over N spans in a
process of its own (tracing configured as the service configures it, the span made as the
middleware makes it for ``GET /ping``): its start, its end (route and status set, the span
processors called, the span encoded and queued; the queue sent after the count) and its
encoding alone, less the cost of switching the count on and off.
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
SPAN_PARTS = ("start", "end", "encode")
SPAN_QUEUE = 4096  # the span processor's queue while parts are counted: nothing sent or dropped
WARM_UP_SPANS = 50
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


def _collected(arguments: list[str], env: dict[str, str], what: str) -> int:
    """Instructions callgrind counted while ``python -m benchmarks.instrumentation_cost
    ARGUMENTS`` had counting switched on."""
    with tempfile.TemporaryDirectory(prefix="obsstack-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, "-m",
             "benchmarks.instrumentation_cost", *arguments],
            env={**os.environ, **env, "OBSSTACK_CALLGRIND": "1"},
            capture_output=True, text=True,
        )  # fmt: skip
    if run.returncode:
        raise RuntimeError(f"{what} did not run to the end:\n{run.stderr[-2000:]}")
    collected = re.search(r"Collected : ([\d,]+)", run.stderr)
    if collected is None:
        raise RuntimeError(f"callgrind counted nothing for {what}:\n{run.stderr[-2000:]}")
    return int(collected.group(1).replace(",", ""))


def count(variant: str, requests: int, env: dict[str, str]) -> int:
    """Instructions per request of ``variant``, from one run under callgrind."""
    arguments = ["serve", variant, "--requests", str(requests)]
    total = _collected(arguments, _environment(variant, env), variant)
    return total // (requests // CONNECTIONS * CONNECTIONS)


def _span_part(part: str, spans: int) -> None:
    """``spans`` sampled server spans as the middleware makes them for ``GET /ping``, with
    callgrind counting only ``part`` of their life: their start, their end (route and status
    set, the span processors called, the span encoded and queued), their encoding alone, or
    nothing (the cost of switching the count on and off, taken from the others)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan

    from obsstack.core.current_span import current_span
    from obsstack.instrumentation import middleware
    from obsstack.instrumentation.server_spans import ServerSpans
    from obsstack.instrumentation.span_encoding import encode_span
    from obsstack.instrumentation.tracing import configure_tracing

    provider = configure_tracing("bench", instrument_httpx=False)
    assert provider is not None, "tracing is configured from the OTLP sink's environment"
    server_spans = ServerSpans.for_tracer(trace.get_tracer("obsstack.instrumentation"))
    assert server_spans is not None, "the SDK is the one the server spans were written for"
    scope = {
        "type": "http", "method": "GET", "path": "/ping", "scheme": "http",
        "http_version": "1.1", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk")], "root_path": "",
    }  # fmt: skip

    def start() -> Any:
        attributes = lambda: middleware._span_attributes(scope, "GET")  # noqa: E731
        return server_spans.start("GET", None, attributes, parent_span=current_span())

    def end(span: Any) -> None:
        middleware._end_span(span, "GET", "/ping", 200, None)

    for _ in range(WARM_UP_SPANS):
        end(start())
    started = [start() for _ in range(spans)]
    ended: list[ReadableSpan] = []
    if part == "encode":
        for span in started:
            end(span)
            ended.append(span._readable_span())
    _callgrind("on")
    if part == "start":
        for _ in started:
            start()
    elif part == "end":
        for span in started:
            end(span)
    elif part == "encode":
        for span in ended:
            encode_span(span)
    else:
        for _ in started:
            pass
    _callgrind("off")
    provider.shutdown()


def count_span_parts(spans: int, env: dict[str, str]) -> dict[str, int]:
    """Instructions a sampled server span's start, end and encoding cost, each counted apart,
    on the event loop's side: the queue is sent when the count is over."""
    unsent = {
        "OTEL_BSP_MAX_QUEUE_SIZE": str(SPAN_QUEUE),
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": str(SPAN_QUEUE),
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
    }
    totals = {
        part: _collected(
            ["span", part, "--spans", str(spans)], {**_environment("full", env), **unsent}, part
        )
        for part in ("nothing", *SPAN_PARTS)
    }
    return {part: (totals[part] - totals["nothing"]) // spans for part in SPAN_PARTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instrumentation_cost")
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve")
    serve_parser.add_argument("variant", choices=VARIANTS)
    serve_parser.add_argument("--requests", type=int, default=1280)
    span_parser = sub.add_parser("span")
    span_parser.add_argument("part", choices=("nothing", *SPAN_PARTS))
    span_parser.add_argument("--spans", type=int, default=1500)
    parser.add_argument("--requests", type=int, default=1280, help="requests counted per run")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    parser.add_argument(
        "--spans", type=int, help="count a sampled server span's start, end and encoding instead"
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        asyncio.run(_serve(args.variant, args.requests))
        return 0
    if args.command == "span":
        _span_part(args.part, args.spans)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.spans is not None:
        if not 0 < args.spans <= SPAN_QUEUE - WARM_UP_SPANS:  # none dropped
            print(f"--spans: from 1 to {SPAN_QUEUE - WARM_UP_SPANS}", file=sys.stderr)
            return 2
        with otlp_sink() as env:
            parts = count_span_parts(args.spans, env)
        print("| part of a sampled server span | instructions |")
        print("|---|---:|")
        for part, instructions in parts.items():
            print(f"| {part} | {instructions:,} |")
        return 0
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
