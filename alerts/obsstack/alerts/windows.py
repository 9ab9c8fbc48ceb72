"""Alert window tables: data (``windows.yaml`` here and a spec's ``alert_windows``), not code.

A table lists, per tier (``page``, ``ticket``), a ``for:`` and the (long, short, factor)
windows, with factors written for the table's ``period``. :meth:`WindowTable.tiers_for` scales
them to an SLO's period: ``factor x slo period / table period``, which keeps the share of the
error budget each window burns before it fires (``budget share x period / long window``).
"""

from __future__ import annotations

from dataclasses import dataclass

from obsstack.alerts.model import TIER_NAMES, AlertTier, AlertWindow, number_text
from obsstack.core.root import packaged
from obsstack.core.spec import YEAR, Section, format_duration, open_document, parse_duration

BUILTIN_PATH = packaged("obsstack.alerts", "windows.yaml")
DEFAULT_TABLE = "sre-workbook"
VERSION = "obsstack/v1"


@dataclass(frozen=True)
class TableTier:
    name: str
    for_seconds: float
    windows: tuple[AlertWindow, ...]


@dataclass(frozen=True)
class WindowTable:
    """A named window table; ``source`` is where it was declared, for error messages."""

    name: str
    period: float
    tiers: tuple[TableTier, ...]
    source: str = ""

    def tiers_for(self, period: float) -> tuple[AlertTier, ...]:
        """The tiers with factors scaled to an SLO of ``period`` seconds."""
        scale = period / self.period
        return tuple(
            AlertTier(
                tier.name,  # type: ignore[arg-type]
                tier.for_seconds,
                tuple(
                    AlertWindow(w.long, w.short, float(number_text(w.factor * scale)))
                    for w in tier.windows
                ),
            )
            for tier in self.tiers
        )

    @property
    def longest(self) -> float:
        return max(w.long for tier in self.tiers for w in tier.windows)

    @property
    def spans(self) -> tuple[float, ...]:
        """Every long and short window of every tier, ascending, without repeats."""
        found = {span for tier in self.tiers for w in tier.windows for span in (w.long, w.short)}
        return tuple(sorted(found))


def read_for(section: Section, key: str = "for") -> float:
    """A ``for:`` duration; unlike other durations it may be ``0s``; at most a year."""
    value = section.raw(key, "0s")
    if not isinstance(value, str):
        raise section.error(key, "must be a duration such as 0s, 2m or 15m")
    try:
        seconds = parse_duration(value)
    except ValueError:
        shown = repr(value if len(value) <= 60 else value[:60] + "...")
        raise section.error(key, f"invalid duration {shown} (use e.g. 0s, 2m, 15m)") from None
    if seconds > YEAR:
        raise section.error(key, f"must be at most {format_duration(YEAR)} (got {value!r})")
    return seconds


def _read_window(item: Section) -> AlertWindow:
    long = item.duration("long")
    short = item.duration("short")
    factor = item.float("factor", minimum=0, exclusive=True)
    if short >= long:
        raise item.error(
            "short",
            f"must be shorter than the long window {format_duration(long)} "
            f"(got {format_duration(short)})",
        )
    return AlertWindow(long, short, factor)


def read_table(name: str, table: Section) -> WindowTable:
    """One table: ``period``, then ``page`` and/or ``ticket`` with ``for`` and ``windows``."""
    period = table.duration("period")
    tiers = []
    for tier_name in TIER_NAMES:
        if not table.has(tier_name):
            continue
        tier = table.section(tier_name)
        for_seconds = read_for(tier)
        windows = tier.each("windows", _read_window)
        if not windows:
            raise tier.error("windows", "must list at least one window")
        tier.close()
        tiers.append(TableTier(tier_name, for_seconds, tuple(windows)))
    table.close()
    if not tiers:
        raise table.error(None, "must have a page or a ticket tier")
    return WindowTable(name, period, tuple(tiers), table.path)


def read_tables(parent: Section, key: str) -> dict[str, WindowTable]:
    """The tables under ``key`` (a mapping of names to tables); none when ``key`` is absent."""
    if not parent.has(key):
        parent.raw(key, None)
        return {}
    tables = parent.section(key)
    names: list[str] = tables.keys()
    return {name: read_table(name, tables.section(name)) for name in names}


def builtin_tables() -> dict[str, WindowTable]:
    """The tables shipped in ``alerts/obsstack/alerts/windows.yaml``."""
    document = open_document(BUILTIN_PATH)
    document.string("version", choices=(VERSION,))
    tables = read_tables(document, "tables")
    document.close()
    return tables


def describe(tier: AlertTier) -> str:
    """``14.4x over 1h and 5m, or 6x over 6h and 30m``: a tier's windows, for annotations."""
    return ", or ".join(
        f"{number_text(w.factor)}x over {w.long_name} and {w.short_name}" for w in tier.windows
    )
