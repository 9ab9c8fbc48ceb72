"""Private instances of real servers (Redis, PostgreSQL, Prometheus), on free ports.

The machine's shared PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are never stopped
or reconfigured: tests that kill or hang a dependency start one of these instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.processes import (
    Process,
    free_port,
    http_ok,
    port_open,
    require_binary,
    wait_until,
)

PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class PrivateRedis:
    """``redis-server`` on a free port; ``stop()`` and ``start()`` again on the same port."""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.password = password
        self.process: Process | None = None

    def start(self) -> PrivateRedis:
        argv = [
            require_binary("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
        ]
        if self.password:
            argv += ["--requirepass", self.password]
        self.process = Process(argv, self.workdir / f"redis-{self.port}.log")
        wait_until(port_open(self.port), 10, f"redis on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def _pg_binary(name: str) -> str:
    for directory in PG_BIN_CANDIDATES:
        if (directory / name).exists():
            return str(directory / name)
    return require_binary(name)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl) in a temp dir, on a free port."""

    def __init__(self, password: str | None = None) -> None:
        # Its own directory directly under /tmp: the postgres user must be able to reach it.
        self.workdir = Path(tempfile.mkdtemp(prefix="obsstack-pg-"))
        self.datadir = self.workdir / "pgdata"
        self.port = free_port()
        self.password = password
        self.user = "postgres"
        self._run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            self._run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.workdir, "postgres")
        self._initdb()

    def _initdb(self) -> None:
        argv = [
            *self._run_as,
            _pg_binary("initdb"),
            "-D",
            str(self.datadir),
            "-U",
            self.user,
            "--no-sync",
            "-E",
            "UTF8",
        ]
        if self.password:
            pwfile = self.workdir / "pwfile"
            pwfile.write_text(self.password)
            if self._run_as:
                shutil.chown(pwfile, "postgres")
            argv += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        else:
            argv += ["--auth=trust"]
        subprocess.run(argv, check=True, capture_output=True)

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} -c fsync=off"
        subprocess.run(
            [
                *self._run_as,
                _pg_binary("pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                options,
                "-l",
                str(self.workdir / "postgres.log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [
                *self._run_as,
                _pg_binary("pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                mode,
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
        )

    def destroy(self) -> None:
        """Stop the server and delete its files."""
        self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def psql(self, sql: str) -> str:
        env = {**os.environ, "PGPASSWORD": self.password or ""}
        out = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-Atc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return out.stdout.strip()


class PrivatePrometheus:
    """The Debian ``prometheus`` binary with a given configuration, on a free port."""

    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        rule_files: list[Path] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = dict(config)
        if rule_files:
            config["rule_files"] = [str(p) for p in rule_files]
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.extra_args = extra_args or []
        self.process: Process | None = None

    def start(self) -> PrivatePrometheus:
        argv = [
            require_binary("prometheus"),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            *self.extra_args,
        ]
        self.process = Process(argv, self.workdir / "prometheus.log")
        wait_until(http_ok(f"{self.url}/-/ready"), 30, "prometheus to be ready")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query through the HTTP API; the result vector (or matrix) list."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def last_evaluations(self, longest: float) -> dict[str, str]:
        """Rule group name -> when it was last evaluated (RFC 3339; "0001-..." before its
        first evaluation), for the groups evaluated at most every ``longest`` seconds."""
        response = httpx.get(f"{self.url}/api/v1/rules", timeout=10)
        response.raise_for_status()
        groups = response.json()["data"]["groups"]
        return {g["name"]: g["lastEvaluation"] for g in groups if g["interval"] <= longest}

    def targets(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/targets", timeout=10)
        response.raise_for_status()
        return list(response.json()["data"]["activeTargets"])
