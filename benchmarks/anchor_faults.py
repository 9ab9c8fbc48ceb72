"""Scraping exporters the way Prometheus does while a dependency is hung or blackholed.

A :class:`Poller` scrapes one target every second (a new scrape starts once the last one ended,
never two at once, as Prometheus does), with ``X-Prometheus-Scrape-Timeout-Seconds`` and a
client that gives up at that timeout, as Prometheus does. After the dependency resumes it
keeps polling until the target says up again: the time from the resume to the end of that
scrape is the time to report a recovered dependency.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from benchmarks.anchor_exporters import SCRAPE_HEADERS, Target


@dataclass(frozen=True)
class Scrape:
    """One scrape: when it started and ended (monotonic seconds), and what the target said."""

    start: float
    end: float
    up: float | None  # None: no answer within the timeout, or no up sample in it

    @property
    def seconds(self) -> float:
        return self.end - self.start


def scrape(client: httpx.Client, target: Target, timeout: float) -> Scrape:
    started = time.monotonic()
    try:
        response = client.get(
            target.url, headers={"X-Prometheus-Scrape-Timeout-Seconds": f"{timeout:g}"}
        )
        up = target.up_value(response.text) if response.status_code == 200 else None
    except httpx.HTTPError:
        up = None
    return Scrape(started, time.monotonic(), up)


@dataclass
class Poller:
    """Scrapes ``target`` every ``interval`` seconds from ``start()`` until told to stop.

    With ``until_up``, once ``resumed`` is set it scrapes at once (an idle poller does not wait
    for its next slot), or ``phase`` seconds after the resume if given, and stops at the first
    scrape ending after the resume that says up, or ``give_up`` seconds after the resume.
    """

    target: Target
    resumed: threading.Event
    until_up: bool
    timeout: float = 5.0
    interval: float = 1.0
    give_up: float = 60.0
    phase: float | None = None
    scrapes: list[Scrape] = field(default_factory=list)
    resumed_at: float | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        client = httpx.Client(headers=SCRAPE_HEADERS, timeout=httpx.Timeout(self.timeout))
        next_at = time.monotonic()
        kicked = False
        with client:
            while True:
                now = time.monotonic()
                if self.resumed.is_set() and not kicked and self.resumed_at is not None:
                    kicked = True
                    next_at = now if self.phase is None else self.resumed_at + self.phase
                if self.resumed_at is not None:
                    if not self.until_up or now - self.resumed_at > self.give_up:
                        return
                    if self.recovery() is not None:
                        return
                if now < next_at:
                    time.sleep(min(next_at - now, 0.01))
                    continue
                self.scrapes.append(scrape(client, self.target, self.timeout))
                next_at += self.interval
                next_at = max(next_at, time.monotonic())

    def recovery(self) -> float | None:
        """Seconds from the resume to the end of the first scrape after it that said up."""
        if self.resumed_at is None:
            return None
        for one in self.scrapes:
            if one.end > self.resumed_at and one.up == 1.0:
                return one.end - self.resumed_at
        return None

    def scrapes_to_up(self) -> int | None:
        """How many scrapes answered after the resume, up to the first that said up."""
        if self.resumed_at is None:
            return None
        after = [s for s in self.scrapes if s.end > self.resumed_at]
        for count, one in enumerate(after, start=1):
            if one.up == 1.0:
                return count
        return None

    def during_fault(self, started: float, ended: float) -> list[Scrape]:
        """The scrapes that started and ended between ``started`` and ``ended``."""
        return [s for s in self.scrapes if s.start >= started and s.end < ended]


def describe_answers(scrapes: list[Scrape]) -> str:
    """What the scrapes said, most frequent first: "0 x12, no answer x3"."""
    counts = Counter("no answer" if s.up is None else f"up {s.up:g}" for s in scrapes).most_common()
    return ", ".join(f"{what} x{count}" for what, count in counts) or "-"


def describe_seconds(scrapes: list[Scrape]) -> str:
    """Median (max) scrape time."""
    if not scrapes:
        return "-"
    seconds = [s.seconds for s in scrapes]
    return f"{_short(statistics.median(seconds))} ({_short(max(seconds))})"


def _short(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def recovery_text(recoveries: list[float | None], give_up: float) -> str:
    """Median and range of the recovery times of every run; "> give_up" for none seen."""
    seen = [r for r in recoveries if r is not None]
    missed = len(recoveries) - len(seen)
    if not seen:
        return f"> {give_up:g} s (never, {missed} runs)"
    text = f"{_short(statistics.median(seen))} ({_short(min(seen))}-{_short(max(seen))})"
    return text + (f", {missed} runs > {give_up:g} s" if missed else "")


def count_text(counts: list[int | None]) -> str:
    """Median (max) of the scrapes until up over the runs; "-" if never up."""
    seen = [c for c in counts if c is not None]
    if not seen:
        return "-"
    missed = len(counts) - len(seen)
    text = f"{statistics.median(seen):g} ({max(seen)})"
    return text + (f", {missed} runs never" if missed else "")
