"""Backfill the benchmark's history into Prometheus' TSDB with ``promtool``.

``promtool tsdb create-blocks-from openmetrics FILE DIR`` (Prometheus 2.42) reads OpenMetrics
text: ``name{labels} value timestamp`` lines, timestamps in seconds, the file ending with
``# EOF``; each series' samples in time order (series may interleave); no ``# TYPE`` needed.
It maps the whole file and, for every block window (aligned to multiples of the block
duration since the epoch), parses the whole file again: so one file per window, and
``--max-block-duration`` set to the largest block Prometheus itself would compact to. With a
35-day retention Prometheus compacts up to 10 % of it, its ranges 2h, 6h, 18h and 54h: 54h
blocks leave it nothing to compact, so no compaction runs during the measurement.

Each window's file is written, turned into a block and deleted by one of two worker
processes (peak disk: two files). The blocks are moved into the running Prometheus' data
directory at the end; Prometheus loads new blocks within a minute.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

BLOCK_MS = 54 * 3600 * 1000


@dataclass(frozen=True)
class Stream:
    """Series sampled together (one scrape target, or one rule group's record).

    Samples at ``offset + n * step`` ms, from ``start`` (included) to ``end`` (excluded).
    A counter's value is ``rate * (t - origin)``; a record's is ``values`` itself.
    """

    prefixes: tuple[str, ...]  # "name{labels} "
    values: tuple[float, ...]
    counter: bool
    start: int
    end: int
    offset: int
    step: int

    @property
    def first(self) -> int:
        """The time of the stream's first sample, ``end`` or later if it has none."""
        return self.start + (self.offset - self.start) % self.step


@dataclass(frozen=True)
class Window:
    path: Path
    out_dir: Path
    begin: int
    end: int
    tick: int  # at most the smallest step: each stream has at most one sample per tick
    origin: float
    streams: tuple[Stream, ...]


def _stamp(t: int) -> str:
    return f" {t // 1000}.{t % 1000:03d}\n"


def write_window(window: Window) -> tuple[int, int]:
    """Write the window's OpenMetrics file; its samples and bytes."""
    samples = 0
    with open(window.path, "w") as out:
        for base in range(window.begin, window.end, window.tick):
            parts = []
            for stream in window.streams:
                t = base + (stream.offset - base) % stream.step
                if not (
                    t < base + window.tick and t < window.end and stream.start <= t < stream.end
                ):
                    continue
                stamp = _stamp(t)
                if stream.counter:
                    age = t / 1000 - window.origin
                    parts += [
                        f"{p}{r * age:.6f}{stamp}"
                        for p, r in zip(stream.prefixes, stream.values, strict=True)
                    ]
                else:
                    parts += [
                        f"{p}{v!r}{stamp}"
                        for p, v in zip(stream.prefixes, stream.values, strict=True)
                    ]
            samples += len(parts)
            out.write("".join(parts))
        out.write("# EOF\n")
    return samples, window.path.stat().st_size


def build_window(window: Window) -> tuple[int, int, float]:
    """Write the window's file, make its block with promtool, delete the file.

    Returns samples, bytes of text and seconds taken.
    """
    started = time.monotonic()
    samples, size = write_window(window)
    window.out_dir.mkdir(parents=True, exist_ok=True)
    promtool = shutil.which("promtool") or "promtool"
    hours = BLOCK_MS // 3_600_000
    # GOGC=400: the parser allocates per line; less garbage collection, ~15 % faster.
    argv = ["tsdb", "create-blocks-from", "openmetrics", "--quiet"]
    argv += [f"--max-block-duration={hours}h", str(window.path), str(window.out_dir)]
    subprocess.run(
        [promtool, *argv],
        check=True,
        capture_output=True,
        env={**os.environ, "GOGC": "400"},
    )
    window.path.unlink()
    return samples, size, time.monotonic() - started


@dataclass
class Backfill:
    """Samples and text written, blocks made, and how long it took."""

    samples: int = 0
    text_bytes: int = 0
    blocks: int = 0
    seconds: float = 0.0
    windows: int = 0


def windows_for(streams: list[Stream], origin: float, workdir: Path) -> list[Window]:
    """One window per aligned block range the streams cover, the biggest first."""
    tick = min(s.step for s in streams)
    first = min(s.start for s in streams)
    last = max(s.end for s in streams)
    windows = []
    for begin in range(first - first % BLOCK_MS, last, BLOCK_MS):
        end = begin + BLOCK_MS
        inside = tuple(s for s in streams if s.start < end and s.end > begin)
        if inside:
            name = f"window-{begin // 1000}"
            windows.append(
                Window(
                    workdir / f"{name}.om",
                    workdir / "blocks" / name,
                    begin,
                    end,
                    tick,
                    origin,
                    inside,
                )
            )

    def weight(w: Window) -> int:
        return sum(
            len(s.prefixes) * (min(s.end, w.end) - max(s.start, w.begin)) // s.step
            for s in w.streams
        )

    return sorted(windows, key=weight, reverse=True)


def backfill(streams: list[Stream], origin: float, workdir: Path, data_dir: Path) -> Backfill:
    """Make the blocks of ``streams`` and move them into ``data_dir``."""
    started = time.monotonic()
    streams = [s for s in streams if s.first < s.end]
    if not streams:
        return Backfill()
    workdir.mkdir(parents=True, exist_ok=True)
    windows = windows_for(streams, origin, workdir)
    result = Backfill(windows=len(windows))
    # spawn: the parent serves the fleet from a thread, which a fork would copy mid-request.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        for samples, size, _seconds in pool.map(build_window, windows):
            result.samples += samples
            result.text_bytes += size
    for window in windows:
        for block in window.out_dir.iterdir():
            if (block / "meta.json").exists():
                block.rename(data_dir / block.name)
                result.blocks += 1
    result.seconds = time.monotonic() - started
    return result
