"""Throughput and p99 latency cost of instrumenting a FastAPI service (instrumentation.md).

One uvicorn worker a variant, each pinned to CPU 0, serves a cheap route (``GET /ping``); ``wrk``
pinned to CPU 1 loads one of them at a time over loopback. Every server runs throughout, idle
until its turn; each run of a variant is taken between two runs of the bare app, seconds apart,
and compared with their mean, so that the host's drift falls on both sides of a ratio; each
round starts one variant further along the list. The variants:

- ``bare``: no instrumentation;
- ``metrics``: ``instrument_app`` with metrics only;
- ``text_access_log``: no instrumentation, uvicorn's access log as plain text to /dev/null (what
  an access line costs before any JSON);
- ``json_access_log``: no instrumentation, ``configure_logging()`` only: uvicorn's access line
  as JSON to /dev/null (the access line of ``logs`` without its metrics and request ids);
- ``logs``: ``instrument_app`` with metrics and request ids, JSON logs (one access line per
  request, written to /dev/null), no tracing;
- ``logs_no_request_ids``: ``logs`` with ``request_ids=False`` (no ``X-Request-ID`` read or
  echoed, no ``request_id`` in lines): what the request ids cost;
- ``full``: ``instrument_app`` with metrics, request ids, JSON logs (one access line per
  request, written to /dev/null) and tracing (every request sampled, OTLP/HTTP to a local sink);
- ``full_sampled``: the same with 10 % of the traces sampled (``parentbased_traceidratio``);
- ``full_fastapi``: ``full_sampled`` with ``fastapi_tracing=True``: the server span and the
  spans of dependency resolution, endpoint and serialisation made by FastAPI's native tracing
  (recent FastAPI versions), instead of the middleware's one server span;
- ``instrumentator``: prometheus-fastapi-instrumentator, its defaults;
- ``starlette_exporter``: starlette_exporter's ``PrometheusMiddleware``, its defaults;
- ``peers``: what a user assembles from the usual packages for what ``full_sampled`` does:
  prometheus-fastapi-instrumentator (its defaults), a JSON access line per request with
  python-json-logger, and OpenTelemetry's FastAPI instrumentation (its defaults) with 10 % of the
  traces sampled, exported over OTLP/HTTP to the same sink by the SDK's batch span processor.

Run: ``.venv/bin/python -m benchmarks.instrumentation`` (needs ``pip install -e '.[bench]'``
and ``/usr/bin/wrk``); ``--rounds``, ``--duration`` and ``--connections`` change the load.
Prints a Markdown table; the figures are medians over the rounds, each variant's ratio to the
bare app taken against the bare runs around it, and its ratio to ``peers`` as its ratio to bare
over the peers'. Beside throughput, the server process's CPU time
a request (``/proc/PID/stat`` around the measured run): the server is saturated, so where the
host gives it its CPU whole the CPU ratio is the throughput ratio, and where a neighbour takes
part of the CPU (a shared host's steal) throughput falls but the CPU time a request does not.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

from tests.support.processes import Process, free_port, http_ok, wait_until

VARIANTS = (
    "bare",
    "metrics",
    "text_access_log",
    "json_access_log",
    "logs",
    "logs_no_request_ids",
    "full",
    "full_sampled",
    "full_fastapi",
    "instrumentator",
    "starlette_exporter",
    "peers",
)
# The variants instrumented by this project's code (the others are the same in any checkout).
INSTRUMENTED = (
    "metrics",
    "json_access_log",
    "logs",
    "logs_no_request_ids",
    "full",
    "full_sampled",
    "full_fastapi",
)
# The variants that write an access line a request: every instrumented one but metrics.
LOGGING = ("text_access_log", "peers", *(v for v in INSTRUMENTED if v != "metrics"))
SERVER_CPU = "0"
LOAD_CPU = "1"


def build_app(variant: str) -> Any:
    """The application measured, instrumented as ``variant`` says."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    if variant == "metrics":
        from obsstack.instrumentation import instrument_app

        instrument_app(app, "bench", request_ids=False, tracing=False)
    elif variant.startswith(("logs", "full")):
        from obsstack.core.logs import configure_logging
        from obsstack.instrumentation import instrument_app

        configure_logging("INFO", stream=open(os.devnull, "w"))  # noqa: SIM115 - process lifetime
        instrument_app(
            app,
            "bench",
            request_ids=variant != "logs_no_request_ids",
            tracing=variant.startswith("full"),
            fastapi_tracing=variant == "full_fastapi",
        )
    elif variant == "json_access_log":
        from obsstack.core.logs import configure_logging

        configure_logging("INFO", stream=open(os.devnull, "w"))  # noqa: SIM115 - process lifetime
    elif variant == "text_access_log":
        logging.basicConfig(
            stream=open(os.devnull, "w"),  # noqa: SIM115 - process lifetime
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            level=logging.INFO,
        )
    elif variant == "instrumentator":
        from prometheus_fastapi_instrumentator import Instrumentator

        Instrumentator().instrument(app).expose(app)
    elif variant == "starlette_exporter":
        from starlette_exporter import PrometheusMiddleware, handle_metrics

        app.add_middleware(PrometheusMiddleware)
        app.add_route("/metrics", handle_metrics)
    elif variant == "peers":
        _instrument_with_peers(app)
    elif variant != "bare":
        raise ValueError(f"unknown variant {variant}")
    return app


def _instrument_with_peers(app: Any) -> None:
    """Metrics, a JSON access log and traces, each from the package users usually pick."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from prometheus_fastapi_instrumentator import Instrumentator
    from pythonjsonlogger.json import JsonFormatter

    Instrumentator().instrument(app).expose(app)
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - process lifetime
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(handlers=[handler], level=logging.INFO)
    # The sampler (10 %), endpoint and protocol come from the OTEL_* variables, as for full_sampled.
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)


def serve(variant: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        build_app(variant),
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="info" if variant in LOGGING else "warning",
        access_log=variant in LOGGING,
    )


class _Sink(BaseHTTPRequestHandler):
    """OTLP/HTTP sink (a protocol double): accepts every export and discards it.

    It keeps connections open between exports, as the Collector's OTLP/HTTP receiver does (a Go
    ``net/http`` server, keep-alive on, idle connections kept a minute): a sink closing each
    connection would make every batch a new TCP connection, which a service does not pay.
    """

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _wrk(url: str, seconds: int, connections: int) -> tuple[float, float, int]:
    """(requests/s, p99 latency in ms, requests) of one wrk run."""
    out = subprocess.run(
        ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
         "--latency", url],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], requests


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has been charged (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _environment(variant: str, otlp: dict[str, str]) -> dict[str, str]:
    if variant == "full":
        return {**otlp, "OTEL_TRACES_SAMPLER": "always_on"}
    if variant in ("full_sampled", "full_fastapi", "peers"):
        return {
            **otlp,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
        }
    return {"PYTHONHASHSEED": "0"}


@contextmanager
def otlp_sink() -> Iterator[dict[str, str]]:
    """A local OTLP/HTTP sink while in the block; yields the environment that exports to it."""
    sink = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        yield {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{sink.server_port}/v1/traces",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "bench",
            "PYTHONHASHSEED": "0",
        }
    finally:
        sink.shutdown()


class Run(NamedTuple):
    """One run of a variant: requests/s, p99 latency (ms) and the server's CPU time a request
    (us), which the host's other load (a neighbour's steal of the CPU) does not slow down."""

    rps: float
    p99: float
    cpu_us: float


class Pair(NamedTuple):
    """A variant's run and the bare app's around it: the mean of the bare runs just before and
    just after, seconds apart, so that the host's drift between them falls on both."""

    run: Run
    bare: Run


def measure(
    rounds: int,
    seconds: int,
    connections: int,
    variants: Sequence[str] = VARIANTS,
    against: Path | None = None,
) -> dict[str, list[Pair]]:
    """Runs of ``variants`` (and the bare app), and with ``against`` (a checkout of another
    version of this project) those of them it instruments, instrumented by that version's code,
    each named ``VARIANT @ CHECKOUT``."""
    variants = [variant for variant in variants if variant != "bare"]
    servers: dict[str, tuple[str, dict[str, str]]] = {"bare": ("bare", {})}
    servers.update({variant: (variant, {}) for variant in variants})
    if against is not None:
        imports = {"PYTHONPATH": str(against / "exporters")}
        servers.update(
            {
                f"{variant} @ {against.name}": (variant, imports)
                for variant in variants
                if variant in INSTRUMENTED
            }
        )
    with otlp_sink() as env, tempfile.TemporaryDirectory(prefix="obsstack-bench-") as tmp:
        running: dict[str, tuple[Process, str]] = {}
        try:
            for number, (name, (variant, imports)) in enumerate(servers.items()):
                port = free_port()  # every server runs throughout, idle until its turn
                running[name] = (
                    Process(
                        ["taskset", "-c", SERVER_CPU, sys.executable, "-m",
                         "benchmarks.instrumentation", "serve", variant, "--port", str(port)],
                        Path(tmp) / f"{number}.log",
                        env={**_environment(variant, env), **imports},
                    ),
                    f"http://127.0.0.1:{port}/ping",
                )  # fmt: skip
            for name, (_process, url) in running.items():
                wait_until(http_ok(url), 30, f"{name} to serve")
                _wrk(url, 2, connections)  # warm up
            return _measure(running, rounds, seconds, connections)
        finally:
            for process, _url in running.values():
                process.stop()


def _measure(
    servers: dict[str, tuple[Process, str]], rounds: int, seconds: int, connections: int
) -> dict[str, list[Pair]]:
    """Each round runs bare, a variant, bare, the next variant, ..., bare; each round starts one
    variant further along the list."""

    def run(name: str) -> Run:
        process, url = servers[name]
        cpu = _cpu_seconds(process.pid)
        rps, p99, requests = _wrk(url, seconds, connections)
        result = Run(rps, p99, (_cpu_seconds(process.pid) - cpu) / requests * 1e6)
        print(
            f"round {round_number + 1} {name}: {rps:.0f} req/s, p99 {p99:.2f} ms, "
            f"{result.cpu_us:.0f} us of CPU a request",
            file=sys.stderr,
        )
        return result

    others = [name for name in servers if name != "bare"]
    results: dict[str, list[Pair]] = {name: [] for name in servers}
    for round_number in range(rounds):
        start = round_number % len(others)
        before = run("bare")
        for name in others[start:] + others[:start]:
            measured = run(name)
            after = run("bare")
            bare = Run(*(statistics.mean(pair) for pair in zip(before, after, strict=True)))
            results[name].append(Pair(measured, bare))
            results["bare"].append(Pair(after, bare))
            before = after
    return results


def table(results: dict[str, list[Pair]]) -> str:
    """Medians over the rounds; ratios and added latency are taken against the bare runs around
    each run, and to the peers through those (a variant's ratio to bare over the peers'). The
    CPU ratio is the bare app's CPU time a request over the variant's."""
    lines = [
        "| variant | requests/s | ratio to bare | ratio to peers | p99 latency | p99 added "
        "| CPU a request | CPU ratio to bare |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    median = statistics.median
    peers = [pair.run.rps / pair.bare.rps for pair in results.get("peers", ())]
    peers_ratio = median(peers) if peers else None  # the peers' ratio to bare
    for variant, pairs in results.items():
        runs = [pair.run for pair in pairs]
        ratio, added, cpu_ratio = 1.0, 0.0, 1.0
        if variant != "bare":
            ratio = median(pair.run.rps / pair.bare.rps for pair in pairs)
            added = median(pair.run.p99 - pair.bare.p99 for pair in pairs)
            cpu_ratio = median(pair.bare.cpu_us / pair.run.cpu_us for pair in pairs)
        lines.append(
            f"| {variant} | {median(run.rps for run in runs):,.0f} | {ratio:.2f}x "
            f"| {'-' if peers_ratio is None else f'{ratio / peers_ratio:.2f}x'} "
            f"| {median(run.p99 for run in runs):.2f} ms | {added:+.2f} ms "
            f"| {median(run.cpu_us for run in runs):.0f} us | {cpu_ratio:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instrumentation")
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve")
    serve_parser.add_argument("variant", choices=VARIANTS)
    serve_parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=4, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated; bare is always run"
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="a checkout of another version (git worktree add DIR REF): its instrumentation "
        "runs the same variants beside this one's",
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.variant, args.port)
        return 0
    variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        print(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.against is not None and not (args.against / "exporters" / "obsstack").is_dir():
        print(f"--against: {args.against} is not a checkout of obsstack", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    results = measure(
        args.rounds,
        args.duration,
        args.connections,
        [variant for variant in VARIANTS if variant in variants and variant != "bare"],
        args.against.resolve() if args.against is not None else None,
    )
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {args.rounds} rounds of {args.duration} s, "
        f"{args.connections} connections; 1-minute load {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
