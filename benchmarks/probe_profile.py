"""Where a Python exporter's CPU goes while it is scraped: a py-spy profile in a table.

py-spy samples the running process from outside (``--nonblocking``: it never pauses it); each
sample is a stack. A library's "self" share counts the samples whose innermost frame is in it,
its "inclusive" share those with one of its frames anywhere in the stack.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.anchor_exporters import SCRAPE_HEADERS, Target
from benchmarks.anchor_faults import scrape
from tests.support.processes import Process, free_port, http_ok, wait_until

# py-spy is installed beside the Python running the benchmark (the dev extra).
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*)\)$")


def library(path: str) -> str:
    """The package a frame's file belongs to: ``asyncpg``, ``obsstack``, ``asyncio``..."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/obsstack/" in path:
        return "obsstack"
    found = re.search(r"/lib/python3\.\d+/([^/]+)", path)
    if found:
        return found[1].removesuffix(".py")
    return path.rsplit("/", 1)[-1] or "?"


def summarize(
    raw: str, top: int = 8
) -> tuple[list[tuple[str, float, float]], list[tuple[str, float]]]:
    """From py-spy's raw output (one ``frame;frame;... count`` line per distinct stack,
    outermost frame first): (library, self share, inclusive share) of the busiest libraries,
    and (function, self share) of the busiest functions."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        libraries = []
        function = "?"
        for frame in stack.split(";"):
            found = _FRAME.match(frame)
            libraries.append(library(found["path"]) if found else "?")
            function = f"{found['function']} ({libraries[-1]})" if found else frame
        if not libraries:
            continue
        total += count
        own[libraries[-1]] += count
        functions[function] += count
        for name in set(libraries):
            anywhere[name] += count
    if not total:
        return [], []
    return (
        [(name, own[name] / total, anywhere[name] / total) for name, _ in own.most_common(top)],
        [(name, n / total) for name, n in functions.most_common(top)],
    )


def profile_scrapes(target: Target, count: int, workdir: Path, timeout: float = 10.0) -> str:
    """Profile ``count`` healthy scrapes of ``target``; a Markdown table of where CPU went."""
    if not Path(PY_SPY).exists():
        return f"(no profile of {target.exporter}: py-spy is not installed, `pip install py-spy`)"
    output = workdir / f"profile-{target.dependency}.txt"
    spy = subprocess.Popen(
        [
            PY_SPY,
            "record",
            "--pid",
            str(target.pid),
            "--rate",
            "500",
            "--format",
            "raw",
            "--full-filenames",
            "--nolineno",
            "--nonblocking",
            "--gil",  # only samples holding the GIL: CPU, not waiting in epoll
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    with httpx.Client(headers=SCRAPE_HEADERS, timeout=timeout) as client:
        for _ in range(count):
            scrape(client, target, timeout)
    spy.send_signal(signal.SIGINT)
    spy.wait(30)
    libraries, functions = summarize(output.read_text() if output.exists() else "")
    lines = [
        f"Profile of {target.exporter} ({target.dependency}), {count} scrapes, samples "
        "holding the GIL:",
        "",
        "| library | self | inclusive | | function | self |",
        "|---|---:|---:|---|---|---:|",
    ]
    for index in range(max(len(libraries), len(functions))):
        left = "| | |"
        if index < len(libraries):
            name, own, anywhere = libraries[index]
            left = f"{name} | {own:.0%} | {anywhere:.0%} |"
        right = "| |"
        if index < len(functions):
            right = f"{functions[index][0]} | {functions[index][1]:.0%} |"
        lines.append(f"| {left} | {right}")
    return "\n".join(lines)


_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| (?P<indent>\s*)(?P<name>\S+)$")


@dataclass
class Import:
    """A module the program imported itself, and the packages imported on its behalf."""

    name: str
    nested: set[str] = field(default_factory=set)


def program_imports(config: Path, workdir: Path) -> list[Import]:
    """What ``obsstack serve --config config`` imports by its first scrape answered, in
    order (``python -X importtime``: a module's own imports are printed before it, indented)."""
    port = free_port()
    log = workdir / "importtime.log"
    argv = [sys.executable, "-X", "importtime", "-m", "obsstack.cli", "serve"]
    process = Process([*argv, "--config", str(config), "--listen", f"127.0.0.1:{port}"], log)
    try:
        wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 30, "obsstack serve")
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        process.stop()
    found: list[Import] = []
    nested: set[str] = set()
    for line in log.read_text(errors="replace").splitlines():
        matched = _IMPORT_LINE.match(line)
        if not matched:
            continue
        if matched["indent"]:
            nested.add(matched["name"].split(".")[0])
        else:
            found.append(Import(matched["name"], nested))
            nested = set()
    return found


def _third_party(name: str) -> bool:
    if name.startswith("_"):  # .pth hooks run at start-up: part of "Python alone"
        return False
    spec = importlib.util.find_spec(name.split(".")[0])
    return bool(spec and spec.origin and "site-packages" in spec.origin)


def _rss_after_importing(modules: list[str]) -> float | None:
    code = (
        "import importlib, re\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        pass\n"
        "print(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return int(out.stdout.strip()) / 1024 if out.returncode == 0 else None


def _steps(imports: list[Import]) -> list[tuple[str, list[str]]]:
    """Rows of the footprint: each import with third-party packages in it on its own,
    consecutive standard-library imports together."""
    steps: list[tuple[str, list[str]]] = [("Python alone", [])]
    for one in imports:
        packages = sorted(p for p in one.nested if _third_party(p) and p != one.name)
        if _third_party(one.name) or packages or one.name.startswith("obsstack"):
            label = one.name + (f" (with {', '.join(packages)})" if packages else "")
            steps.append((label, [one.name]))
        elif steps[-1][0].startswith("standard library"):
            steps[-1][1].append(one.name)
        else:
            steps.append(("standard library", [one.name]))
    return [
        (f"standard library ({len(m)} modules)" if label == "standard library" else label, m)
        for label, m in steps
    ]


def import_footprint(config: Path, workdir: Path) -> str:
    """A Markdown table: the RSS of a fresh interpreter importing, in the same order, what the
    exporter imports by its first scrape."""
    lines = ["| + imported | RSS | added |", "|---|---:|---:|"]
    modules: list[str] = []
    previous = 0.0
    small, small_total = 0, 0.0
    for label, step in _steps(program_imports(config, workdir)):
        modules += step
        rss = _rss_after_importing(modules)
        if rss is None:
            lines.append(f"| {label} | (import failed) | |")
            continue
        added, previous = rss - previous, rss
        if added < 0.5:  # the table shows where the memory goes, not every module
            small, small_total = small + 1, small_total + added
            continue
        lines.append(f"| {label} | {rss:.1f} MiB | {added:+.1f} MiB |")
    lines.append(
        f"| {small} other steps, under 0.5 MiB each | {previous:.1f} MiB | {small_total:+.1f} MiB |"
    )
    return "\n".join(lines)
