"""The flags of ``obsstack dashboards render`` and ``compare`` (parsed before anything heavy is
imported)."""

from __future__ import annotations

import argparse

from obsstack.core.spec import parse_duration


def add_render_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """The flags ``render`` and ``compare`` share."""
    parser.add_argument(
        "--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090"
    )
    parser.add_argument(
        "--last",
        default=None,
        help="time range ending now, e.g. 1h or 30m (default: each dashboard's own range)",
    )
    parser.add_argument(
        "--from",
        dest="start",
        default=None,
        help="start: now-2h, seconds since 1970, or ISO 8601 (UTC unless given)",
    )
    parser.add_argument("--to", dest="end", default=None, help="end (default: now)")
    parser.add_argument(
        "--out", default=default_out, help=f"output directory (default: {default_out})"
    )
    parser.add_argument(
        "--dashboard",
        action="append",
        metavar="UID",
        help="render only this dashboard (repeatable)",
    )
    parser.add_argument(
        "--scrape-interval",
        type=_seconds,
        default=None,
        metavar="DURATION",
        help="the data source's scrape interval, for $__rate_interval "
        "(default: Prometheus's global scrape_interval)",
    )
    parser.add_argument(
        "--loki", default=None, metavar="URL", help="Loki base URL, for Loki panels"
    )
    parser.add_argument(
        "--jaeger", default=None, metavar="URL", help="Jaeger base URL, for Jaeger panels"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per query")


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration like 15s (got {text!r})") from None
