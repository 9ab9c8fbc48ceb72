"""CPU time and memory of processes read from /proc, for the exporter benchmarks.

CPU is what the kernel charged (``utime + stime`` of ``/proc/PID/stat``), so other work on the
machine does not inflate it the way it inflates wall time. A server that forks a process per
session (PostgreSQL) is measured as a tree: the postmaster, the children it has reaped
(``cutime + cstime``) and the children still alive.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    """CPU seconds charged to ``pid`` (all its threads), with its reaped children if asked."""
    fields = _stat_fields(pid)
    # After the command name: state=0, ppid=1, ..., utime=11, stime=12, cutime=13, cstime=14.
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def children(pid: int) -> list[int]:
    """Every live descendant of ``pid``."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue  # ended while we looked
        parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root``, of the children it reaped and of its live descendants.

    A child that ends between the listing and the read is missed once; the postmaster reaps
    backends at once, so that is a few ms in a measurement of seconds.
    """
    total = cpu_seconds(root, reaped_children=True)
    for child in children(root):
        try:
            total += cpu_seconds(child)
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_delay_seconds(pid: int) -> float:
    """Seconds the threads of ``pid`` have spent ready to run but waiting for a CPU (the
    second field of ``/proc/PID/task/TID/schedstat``): what a busy machine adds to latency."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
    return total / 1e9


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid``."""
    found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(found[1]) * 1024 if found else 0


def signal_tree(root: int, sig: signal.Signals) -> None:
    """Send ``sig`` to ``root`` and all its descendants (SIGSTOP first stops the root, so it
    forks no new child meanwhile)."""
    os.kill(root, sig)
    for child in children(root):
        try:
            os.kill(child, sig)
        except ProcessLookupError:
            continue


def machine() -> str:
    """One line on the CPU, cores, memory and load of this machine."""
    model = ""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"^Model name:\s+(.+)$", lscpu, re.M)
    if found:
        model = found[1].strip()
    memory = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    gib = int(memory[1]) / 1024 / 1024 if memory else 0.0
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPU {model or platform.processor()}, {gib:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}, load average {load}"
    )
