"""What one scrape does on PostgreSQL, read from the server's own log.

With ``log_connections`` and ``log_statement = all`` switched on for a few scrapes, the log says
how many connections each scrape opened and which statements it ran: the check that a fast
probe still runs a real query on every scrape (and so still sees a failing connection path),
rather than answering from a cache.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import httpx

from benchmarks.anchor_exporters import SCRAPE_HEADERS, Target
from benchmarks.anchor_faults import scrape
from tests.support.servers import PrivatePostgres

_CONNECTION = re.compile(r"LOG:\s+connection received")
_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d ")  # log_line_prefix starts with the time
_STATEMENT = re.compile(r"LOG:\s+(?:statement|execute [^:]*):\s+(?P<sql>.*)$")


@dataclass(frozen=True)
class Audit:
    connections: float  # per scrape
    statements: float  # per scrape
    common: list[tuple[str, float]]  # the most frequent statements, per scrape


def _set_logging(pg: PrivatePostgres, on: bool) -> None:
    value = "on" if on else "off"
    pg.psql(f"ALTER SYSTEM SET log_connections = {value}")
    pg.psql(f"ALTER SYSTEM SET log_statement = '{'all' if on else 'none'}'")
    pg.psql("SELECT pg_reload_conf()")


def audit(targets: list[Target], pg: PrivatePostgres, count: int = 20) -> dict[Target, Audit]:
    """``count`` scrapes of each target, one target after the other, with statement logging."""
    log = pg.workdir / "postgres.log"
    found: dict[Target, Audit] = {}
    _set_logging(pg, True)
    try:
        with httpx.Client(headers=SCRAPE_HEADERS, timeout=10) as client:
            scrape(client, targets[0], 10)  # the reload has been read once this is logged
            for target in targets:
                offset = log.stat().st_size
                for _ in range(count):
                    scrape(client, target, 10)
                with log.open(errors="replace") as text:
                    text.seek(offset)
                    lines = text.read().splitlines()
                found[target] = _summary(lines, count)
    finally:
        _set_logging(pg, False)
    return found


def _entries(lines: list[str]) -> list[str]:
    """Log entries, a statement's continuation lines joined to its first line."""
    entries: list[str] = []
    for line in lines:
        if _ENTRY.match(line) or not entries:
            entries.append(line)
        else:
            entries[-1] += " " + line.strip()
    return entries


def _summary(lines: list[str], count: int) -> Audit:
    entries = _entries(lines)
    connections = sum(1 for entry in entries if _CONNECTION.search(entry))
    statements: Counter[str] = Counter()
    for entry in entries:
        matched = _STATEMENT.search(entry)
        if matched:
            statements[" ".join(matched["sql"].split())[:48]] += 1
    return Audit(
        connections / count,
        sum(statements.values()) / count,
        [(sql, n / count) for sql, n in statements.most_common(3)],
    )


def audit_table(found: dict[Target, Audit], count: int = 20) -> list[str]:
    lines = [
        f"What a scrape runs on PostgreSQL (its log, {count} scrapes each):",
        "",
        "| exporter | connections opened / scrape | statements / scrape | most frequent |",
        "|---|---:|---:|---|",
    ]
    for target, seen in found.items():
        common = "; ".join(f"`{sql}` x{n:g}" for sql, n in seen.common) or "-"
        lines.append(
            f"| {target.exporter} | {seen.connections:g} | {seen.statements:g} | {common} |"
        )
    return lines
