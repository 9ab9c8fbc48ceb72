"""``obsstack demo serve`` (the platform API) and ``obsstack demo traffic`` (its load)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import replace

from obsstack.core.serving import listen_address, serve
from obsstack.core.spec import ConfigError, parse_duration

DEFAULT_LISTEN = "127.0.0.1:8000"
TRAFFIC_SERVICE_NAME = "obsstack-traffic"  # service.name of the traffic generator's logs


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the demo AI SaaS platform, or traffic against it",
        description="A stand-in for the AI SaaS platform, instrumented with obsstack, backed "
        "by PostgreSQL and Redis, and a traffic generator for it. Settings not given as "
        "options come from OBSSTACK_DEMO_* variables; tracing and log export over OTLP from "
        "the OTEL_* variables.",
    )
    commands = demo.add_subparsers(dest="demo_command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the platform API")
    serve.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT (default {DEFAULT_LISTEN})"
    )
    serve.add_argument("--postgres-dsn", help="PostgreSQL DSN (default: the local database test)")
    serve.add_argument("--redis-url", help="Redis URL (default: redis://127.0.0.1:6379/0)")
    serve.add_argument("--schema", help="PostgreSQL schema of the demo (default obsstack_demo)")
    serve.add_argument("--redis-prefix", help="prefix of every Redis key (default obsstack_demo:)")
    serve.add_argument("--service-name", help="service name in traces and logs (default saas-api)")
    serve.add_argument(
        "--time-scale", type=float, help="multiply every simulated latency (default 1)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes; more than one uses prometheus-client multi-process "
        "mode (PROMETHEUS_MULTIPROC_DIR, a temp dir when unset, emptied at start)",
    )
    serve.set_defaults(run=run_serve)

    traffic = commands.add_parser("traffic", help="send a steady mix of requests to the platform")
    traffic.add_argument("--target", default=f"http://{DEFAULT_LISTEN}", help="platform URL")
    traffic.add_argument("--rate", type=float, default=8.0, help="requests per second (default 8)")
    traffic.add_argument("--duration", help="stop after this long (e.g. 10m; default: never)")
    traffic.add_argument("--requests", type=int, help="stop after this many requests")
    traffic.add_argument("--concurrency", type=int, default=64, help="most requests in flight")
    traffic.add_argument("--seed", type=int, help="random seed, for a repeatable mix")
    traffic.add_argument(
        "--burst-every",
        default="45s",
        help="mean time between bursts that trip the rate limiter (default 45s)",
    )
    traffic.set_defaults(run=run_traffic_command)


def run_serve(args: argparse.Namespace) -> int:
    from obsstack.demo.settings import DemoSettings
    from obsstack.instrumentation import prepare_multiprocess_dir
    from obsstack.instrumentation.multiprocess import ENV as MULTIPROC_ENV

    listen = listen_address(args.listen)
    if args.workers < 1:
        raise ConfigError("--workers", "", f"must be at least 1 (got {args.workers})")
    settings = DemoSettings.from_environment()
    overrides = {
        "postgres_dsn": args.postgres_dsn,
        "redis_url": args.redis_url,
        "schema": args.schema,
        "redis_prefix": args.redis_prefix,
        "service_name": args.service_name,
        "time_scale": args.time_scale,
    }
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    # Workers are new processes: they read the settings back from the environment.
    os.environ.update(settings.environment())
    DemoSettings.from_environment()  # fail now, with exit 2, rather than in every worker
    if args.workers > 1:
        os.environ.setdefault(MULTIPROC_ENV, tempfile.mkdtemp(prefix="obsstack-demo-metrics-"))
    prepare_multiprocess_dir()  # empties PROMETHEUS_MULTIPROC_DIR when it is set
    serve(
        "obsstack.demo.app:create_app",
        listen,
        factory=True,
        workers=args.workers,
        access_log=True,  # one JSON access line per request, with its trace and request ids
    )
    return 0


def run_traffic_command(args: argparse.Namespace) -> int:
    from obsstack.core import __version__
    from obsstack.core.logs import configure_logging
    from obsstack.demo.traffic import TrafficSettings, run_traffic

    duration = None
    if args.duration:
        try:
            duration = parse_duration(args.duration)
        except ValueError as exc:
            raise ConfigError("--duration", "", str(exc)) from None
    try:
        burst_every = parse_duration(args.burst_every)
    except ValueError as exc:
        raise ConfigError("--burst-every", "", str(exc)) from None
    if args.rate <= 0:
        raise ConfigError("--rate", "", f"must be positive (got {args.rate:g})")
    configure_logging(
        "INFO",
        levels={"httpx": "warning"},
        service_name=TRAFFIC_SERVICE_NAME,
        service_version=__version__,
    )
    statuses = run_traffic(
        TrafficSettings(
            target=args.target.rstrip("/"),
            rate=args.rate,
            duration=duration,
            requests=args.requests,
            concurrency=args.concurrency,
            seed=args.seed,
            burst_every=burst_every,
        )
    )
    print(json.dumps({"statuses": dict(sorted(statuses.items()))}), file=sys.stdout)
    return 0
