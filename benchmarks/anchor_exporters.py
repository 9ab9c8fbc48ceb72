"""The exporters compared by ``benchmarks.probe_anchors``, each started on a free port.

obsstack's probe exporter (one process per dependency, as the anchors are) beside Debian's
postgres_exporter 0.11, redis_exporter 1.45 and blackbox_exporter 0.23; none runs as a systemd
service: each binary is started here with its own flags and stopped at the end.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.processes import (
    OBSSTACK,
    Process,
    free_port,
    http_ok,
    require_binary,
    wait_until,
)

POSTGRES_EXPORTER = "prometheus-postgres-exporter"
REDIS_EXPORTER = "prometheus-redis-exporter"
BLACKBOX_EXPORTER = "prometheus-blackbox-exporter"

# What Prometheus 2.42 sends with every scrape (the timeout header is set per request).
SCRAPE_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0",
}

# blackbox modules: a TCP connect, and Redis' PING answered by +PONG.
BLACKBOX_MODULES = {
    "modules": {
        "tcp_connect": {"prober": "tcp", "timeout": "5s"},
        "redis_ping": {
            "prober": "tcp",
            "timeout": "5s",
            "tcp": {"query_response": [{"send": "PING"}, {"expect": "^\\+PONG"}]},
        },
    }
}


@dataclass(frozen=True)
class Target:
    """One thing Prometheus would scrape: an exporter's URL and the sample saying "up"."""

    exporter: str  # the row's name
    dependency: str  # "postgres" or "redis"
    url: str
    pid: int
    up_sample: re.Pattern[str]
    instance: str = ""  # tells apart two sets of exporters scraped at different intervals

    def up_value(self, body: str) -> float | None:
        found = self.up_sample.search(body)
        return float(found[1]) if found else None


OBSSTACK_UP = re.compile(r"^dependency_up\{[^}]*\} (\S+)$", re.M)
PG_UP = re.compile(r"^pg_up (\S+)$", re.M)
REDIS_UP = re.compile(r"^redis_up (\S+)$", re.M)
PROBE_SUCCESS = re.compile(r"^probe_success (\S+)$", re.M)


class Exporters:
    """Starts the exporters, remembers them, and stops them all in ``close()``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[Process] = []
        self._blackbox: tuple[Process, int] | None = None

    def _start(
        self, name: str, argv: list[str], health: str, env: dict[str, str] | None = None
    ) -> Process:
        process = Process(argv, self.workdir / f"{name}.log", env=env)
        self.processes.append(process)
        wait_until(http_ok(health), 20, name)
        return process

    def obsstack(self, name: str, kind: str, port: int, instance: str = "") -> Target:
        """``obsstack serve`` probing one dependency with the shipped defaults."""
        listen = free_port()
        dependency: dict[str, object] = {"name": kind, "kind": kind, "port": port}
        if kind == "postgres":
            dependency["sslmode"] = "disable"  # as the postgres_exporter's DSN says
        config = {
            "server": {"listen": f"127.0.0.1:{listen}", "log_level": "warning"},
            "dependencies": [dependency],
        }
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        process = self._start(
            name,
            [*OBSSTACK, "serve", "--config", str(path)],
            f"http://127.0.0.1:{listen}/health",
        )
        url = f"http://127.0.0.1:{listen}/metrics"
        return Target("obsstack probe", kind, url, process.pid, OBSSTACK_UP, instance)

    def postgres_exporter(self, name: str, port: int, instance: str = "") -> Target:
        listen = free_port()
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
        process = self._start(
            name,
            [require_binary(POSTGRES_EXPORTER), f"--web.listen-address=127.0.0.1:{listen}"],
            f"http://127.0.0.1:{listen}/",
            env={"DATA_SOURCE_NAME": dsn},
        )
        url = f"http://127.0.0.1:{listen}/metrics"
        return Target("postgres_exporter", "postgres", url, process.pid, PG_UP, instance)

    def redis_exporter(self, name: str, port: int, instance: str = "") -> Target:
        listen = free_port()
        process = self._start(
            name,
            [
                require_binary(REDIS_EXPORTER),
                f"-redis.addr=redis://127.0.0.1:{port}",
                f"-web.listen-address=127.0.0.1:{listen}",
            ],
            f"http://127.0.0.1:{listen}/",
        )
        url = f"http://127.0.0.1:{listen}/metrics"
        return Target("redis_exporter", "redis", url, process.pid, REDIS_UP, instance)

    def blackbox(self, dependency: str, port: int, instance: str = "") -> Target:
        """A target of the one blackbox_exporter: tcp_connect for PostgreSQL, PING for Redis."""
        if self._blackbox is None:
            listen = free_port()
            path = self.workdir / "blackbox.yml"
            path.write_text(yaml.safe_dump(BLACKBOX_MODULES))
            process = self._start(
                "blackbox",
                [
                    require_binary(BLACKBOX_EXPORTER),
                    f"--config.file={path}",
                    f"--web.listen-address=127.0.0.1:{listen}",
                ],
                f"http://127.0.0.1:{listen}/-/healthy",
            )
            self._blackbox = (process, listen)
        process, listen = self._blackbox
        module = "tcp_connect" if dependency == "postgres" else "redis_ping"
        return Target(
            f"blackbox {module}",
            dependency,
            f"http://127.0.0.1:{listen}/probe?module={module}&target=127.0.0.1:{port}",
            process.pid,
            PROBE_SUCCESS,
            instance,
        )

    def close(self) -> None:
        for process in self.processes:
            process.stop()


def versions(*programs: str) -> dict[str, str]:
    """The version line of every program compared, or of ``programs`` only (``obsstack``,
    ``postgres_exporter``, ``redis_exporter``, ``blackbox_exporter``)."""

    def first_line(argv: list[str], pattern: str) -> str:
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        found = re.search(pattern, out.stdout + out.stderr)
        return found[0].strip() if found else "?"

    commands = {
        "postgres_exporter": lambda: first_line(
            [require_binary(POSTGRES_EXPORTER), "--version"], r"version \S+"
        ),
        "redis_exporter": lambda: first_line(
            [require_binary(REDIS_EXPORTER), "-version"], r"Exporter \S+"
        ).replace("Exporter ", "version "),
        "blackbox_exporter": lambda: first_line(
            [require_binary(BLACKBOX_EXPORTER), "--version"], r"version \S+"
        ),
        "obsstack": lambda: first_line([*OBSSTACK, "--version"], r"\S+$"),
    }
    return {name: version() for name, version in commands.items() if name in (programs or commands)}
