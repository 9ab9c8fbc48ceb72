"""Every obsstack server against slow and hostile clients: real processes on free ports, the
probe exporter and the KPI exporter on this host's PostgreSQL and Redis, clients on raw sockets.

Servers get an explicit descriptor limit (``prlimit``), as a service manager would give them.
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.processes import (
    OBSSTACK,
    Process,
    free_port,
    http_ok,
    require_binary,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[1]
KIB = 1024
HALF_HEAD = b"GET /health HTTP/1.1\r\nHost: obsstack\r\n"  # the blank line never comes
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
SHORT = 2  # seconds, the header and body timeouts of with_short_timeouts


@dataclass
class Server:
    name: str
    port: int
    process: Process
    max_body_size: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def health_seconds(self) -> float:
        started = time.monotonic()
        response = httpx.get(self.url("/health"), timeout=5)
        assert response.status_code == 200, response.text
        return time.monotonic() - started

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_lines(self) -> list[str]:
        return self.process.output().splitlines()


def start(
    name: str,
    argv: list[str],
    directory: Path,
    descriptors: int = 4096,
    env: dict[str, str] | None = None,
) -> Server:
    """``argv`` run with ``{port}`` filled in, at most ``descriptors`` open files."""
    port = free_port()
    process = Process(
        [
            require_binary("prlimit"),
            f"--nofile={descriptors}:{descriptors}",
            *(part.replace("{port}", str(port)) for part in argv),
        ],
        directory / f"{name}.log",
        env=env,
        cwd=ROOT,
    )
    return Server(name, port, process, 1024 * KIB if name == "oncall-sink" else 64 * KIB)


def sink_argv(directory: Path) -> list[str]:
    (directory / "routing_key").write_text(ROUTING_KEY)
    (directory / "api_key").write_text("eb243592-faa2-4ba2-a551-1afdaaf2b9f5")
    return [
        *OBSSTACK,
        "oncall-sink",
        "--listen",
        "127.0.0.1:{port}",
        "--pagerduty-routing-key-file",
        str(directory / "routing_key"),
        "--opsgenie-api-key-file",
        str(directory / "api_key"),
    ]


PROBE_ARGV = [*OBSSTACK, "serve", "--config", str(ROOT / "exporters/config/exporter.yaml")]
PROBE_ARGV += ["--listen", "127.0.0.1:{port}"]


@contextlib.contextmanager
def serving(servers: list[Server]) -> Iterator[dict[str, Server]]:
    try:
        for server in servers:
            wait_until(http_ok(server.url("/health")), 30, f"{server.name} /health")
        yield {server.name: server for server in servers}
    finally:
        for server in servers:
            server.process.stop()


@pytest.fixture(scope="module", autouse=True)
def descriptors_for_clients() -> Iterator[None]:
    """Room for 1000 client sockets in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        raise AssertionError(f"RLIMIT_NOFILE hard limit {hard}: these tests need 2048")
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def with_defaults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """The probe exporter and the on-call inbox with their default limits."""
    directory = tmp_path_factory.mktemp("defaults")
    servers = [
        start("probe", PROBE_ARGV, directory),
        start("oncall-sink", sink_argv(directory), directory),
    ]
    with serving(servers) as started:
        yield started


@pytest.fixture(scope="module")
def with_short_timeouts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Every server obsstack runs, with header and body timeouts of SHORT seconds."""
    directory = tmp_path_factory.mktemp("short")
    tag = uuid.uuid4().hex[:10]
    schema, prefix = f"obsstack_demo_s{tag}", f"obsstack_demo_s{tag}:"
    timeout = f"{SHORT}s"
    env = {"OBSSTACK_SERVER_HEADER_TIMEOUT": timeout, "OBSSTACK_SERVER_BODY_TIMEOUT": timeout}
    demo = [*OBSSTACK, "demo", "serve", "--listen", "127.0.0.1:{port}", "--workers", "2"]
    kpis = [*OBSSTACK, "kpis", "--listen", "127.0.0.1:{port}"]
    servers = [
        start("probe", PROBE_ARGV, directory, env=env),
        start("kpis", kpis, directory, env=env),
        start("oncall-sink", sink_argv(directory), directory, env=env),
        start("demo", [*demo, "--schema", schema, "--redis-prefix", prefix], directory, env=env),
    ]
    try:
        with serving(servers) as started:
            yield started
    finally:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q", "-c",
             f"DROP SCHEMA IF EXISTS {schema} CASCADE"],
            check=False, capture_output=True,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=6379)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)


def connect(port: int, sent: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if sent:
        sock.sendall(sent)
    return sock


def hold(port: int, count: int, sent: bytes = b"") -> list[socket.socket]:
    return [connect(port, sent) for _ in range(count)]


def closed_by_server(socks: list[socket.socket], within: float, enough: int | None = None) -> int:
    """How many of ``socks`` the server closes within ``within`` seconds (unread data: none).

    With ``enough``, returns as soon as that many are closed.
    """
    closed = 0
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + within
        while True:
            remaining = deadline - time.monotonic()
            for key, _ in selector.select(max(remaining, 0)):
                selector.unregister(key.fileobj)
                try:
                    data = key.fileobj.recv(1)  # type: ignore[union-attr]
                except ConnectionResetError:
                    data = b""
                assert data == b"", f"unexpected data {data!r}"
                closed += 1
            if remaining <= 0 or not selector.get_map() or closed == enough:
                break
    return closed


def read_response(sock: socket.socket) -> bytes:
    """One HTTP response with a Content-Length, read whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line[15:]) for line in lines if line.startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return data


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


@pytest.mark.parametrize("name", ["probe", "oncall-sink"])
def test_health_answers_within_a_second_while_1000_connections_are_held(with_defaults, name):
    server = with_defaults[name]
    held = hold(server.port, 500) + hold(server.port, 500, HALF_HEAD)
    try:
        # Once the server has taken them all in, the connection limit (512) has closed the
        # oldest idle ones to make room; the health checks then come while 512 are held.
        assert closed_by_server(held, 30, enough=1000 - 512) == 1000 - 512
        latencies = [server.health_seconds() for _ in range(5)]
        assert max(latencies) < 1.0, latencies  # Kubernetes' default probe timeout
        assert server.descriptors() < 512 + 40
        if name == "probe":
            assert httpx.get(server.url("/metrics"), timeout=5).status_code == 200
    finally:
        close_all(held)


def test_a_request_head_must_arrive_within_the_header_timeout(with_short_timeouts):
    server = with_short_timeouts["oncall-sink"]
    started = time.monotonic()  # no deadline of the connections below ends before SHORT after
    keep_alive = connect(server.port, b"GET /health HTTP/1.1\r\nHost: obsstack\r\n\r\n")
    assert read_response(keep_alive).startswith(b"HTTP/1.1 200 OK")
    keep_alive.sendall(b"GET /heal")  # the next request on a kept-alive connection, half sent
    half_sent = hold(server.port, 100, HALF_HEAD)
    silent = hold(server.port, 100)
    trickling = hold(server.port, 10, b"G")
    while time.monotonic() - started < SHORT - 0.7:
        for sock in trickling:
            sock.sendall(b"E")
        time.sleep(0.1)
    everything = [keep_alive, *half_sent, *silent, *trickling]
    try:
        assert closed_by_server(everything, within=0) == 0
        # A complete request meanwhile, on a connection of its own, is answered.
        assert server.health_seconds() < 1.0
        assert closed_by_server(everything, within=SHORT + 2) == len(everything)
    finally:
        close_all(everything)


def test_a_kept_alive_connection_stays_open_for_the_whole_header_timeout(tmp_path):
    """Past uvicorn's own 5 s keep-alive, which equals httpx's idle expiry: a client reusing a
    connection at the moment the server closed it would get a reset in place of an answer."""
    timeout = 8
    env = {"OBSSTACK_SERVER_HEADER_TIMEOUT": f"{timeout}s"}
    server = start("oncall-sink", sink_argv(tmp_path), tmp_path, env=env)
    request = b"GET /health HTTP/1.1\r\nHost: obsstack\r\n\r\n"
    with serving([server]):
        kept = connect(server.port, request)
        try:
            assert read_response(kept).startswith(b"HTTP/1.1 200 OK")
            assert closed_by_server([kept], within=6) == 0
            kept.sendall(request)
            assert read_response(kept).startswith(b"HTTP/1.1 200 OK")
            assert closed_by_server([kept], within=timeout + 2) == 1
        finally:
            kept.close()


def test_a_request_body_must_arrive_within_the_body_timeout(with_short_timeouts):
    server = with_short_timeouts["oncall-sink"]
    head = b"POST /v2/enqueue HTTP/1.1\r\nHost: obsstack\r\nContent-Type: application/json\r\n"
    started = time.monotonic()
    stalled = connect(server.port, head + b'Content-Length: 100\r\n\r\n{"routing_key":')
    trickling = connect(server.port, head + b"Content-Length: 1000\r\n\r\n{")
    while time.monotonic() - started < SHORT - 0.7:
        trickling.sendall(b" ")
        time.sleep(0.1)
    gone = connect(server.port, head + b"Content-Length: 100\r\n\r\n{")
    gone.close()  # a client that leaves mid-body
    try:
        assert closed_by_server([stalled, trickling], within=0) == 0
        assert closed_by_server([stalled, trickling], within=SHORT + 2) == 2
    finally:
        close_all([stalled, trickling])
    time.sleep(0.2)
    errors = [line for line in server.log_lines() if '"level": "ERROR"' in line]
    assert errors == [], "a client's slow or broken body is no server error"
    assert "Traceback" not in server.process.output()


def test_an_oversized_body_gets_413_unread(with_short_timeouts):
    server = with_short_timeouts["oncall-sink"]
    head = b"POST /v2/enqueue HTTP/1.1\r\nHost: obsstack\r\nContent-Type: application/json\r\n"
    rss_before = server.rss_kib()

    declared = connect(server.port, head + b"Content-Length: 1073741824\r\n\r\n")
    assert read_response(declared).startswith(b"HTTP/1.1 413 ")
    assert closed_by_server([declared], within=1) == 1
    declared.close()

    chunked = connect(server.port, head + b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (64 * KIB, b" " * 64 * KIB)
    sent = 0
    with contextlib.suppress(ConnectionError):
        while sent < 256 * 1024 * KIB:  # 256 MiB, if the server read on
            chunked.sendall(chunk)
            sent += 64 * KIB
    assert sent < 32 * 1024 * KIB, f"{sent} bytes sent before the server stopped reading"
    assert read_response(chunked).startswith(b"HTTP/1.1 413 ")
    chunked.close()
    assert server.rss_kib() - rss_before < 16 * 1024

    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "large-event",
        "payload": {
            "summary": "a large event",
            "source": "obsstack",
            "severity": "info",
            "custom_details": {"log": "x" * 900 * KIB},
        },
    }
    large = httpx.post(server.url("/v2/enqueue"), json=event, timeout=5)
    assert large.status_code == 202, large.text  # within the inbox's 1 MiB


@pytest.mark.parametrize("name", ["probe", "kpis", "oncall-sink", "demo"])
def test_every_server_closes_half_sent_connections_and_refuses_large_bodies(
    with_short_timeouts, name
):
    server = with_short_timeouts[name]
    half_sent = connect(server.port, HALF_HEAD)
    try:
        assert closed_by_server([half_sent], within=SHORT - 0.7) == 0
        assert closed_by_server([half_sent], within=2) == 1
    finally:
        half_sent.close()
    over = server.max_body_size + 1
    large = connect(server.port, b"POST /health HTTP/1.1\r\nHost: obsstack\r\n")
    large.sendall(b"Content-Length: %d\r\n\r\n" % over)
    assert read_response(large).startswith(b"HTTP/1.1 413 ")
    large.close()


def test_a_server_with_256_descriptors_stays_up_under_300_connections(tmp_path):
    server = start("oncall-sink", sink_argv(tmp_path), tmp_path, descriptors=256)
    with serving([server]):
        held = hold(server.port, 300)
        try:
            time.sleep(0.5)
            assert max(server.health_seconds() for _ in range(3)) < 1.0
            assert server.descriptors() < 256
        finally:
            close_all(held)
        wait_until(http_ok(server.url("/health")), 2, "/health once the clients went")
        lines = server.log_lines()
        assert len(lines) < 12, lines
        assert any("connection limit lowered from 512 to 192" in line for line in lines)
        assert not any("cannot accept" in line for line in lines)


# A server whose descriptors are taken by something else than its clients (a leak, a library).
DESCRIPTOR_HOG = """
import os, sys
from obsstack.core.logs import configure_logging
from obsstack.core.serving import serve

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        taken = []
        try:
            while True:
                taken.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        for fd in taken[-8:]:
            os.close(fd)
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

configure_logging()
serve(app, ("127.0.0.1", int(sys.argv[1])))
"""


def test_accept_errors_are_logged_at_a_bounded_rate_and_accepting_resumes(tmp_path):
    argv = [sys.executable, "-c", DESCRIPTOR_HOG, "{port}"]
    server = start("descriptor-hog", argv, tmp_path, descriptors=256)
    with serving([server]):
        cpu_before = server.cpu_seconds()
        held = hold(server.port, 300)
        try:
            time.sleep(3)
            assert server.cpu_seconds() - cpu_before < 1.0, "the server spins on accept()"
        finally:
            close_all(held)
        wait_until(http_ok(server.url("/health")), 5, "/health once the clients went")
        lines = server.log_lines()
        failures = [line for line in lines if "cannot accept connections" in line]
        assert len(failures) == 1, failures
        assert "Too many open files (RLIMIT_NOFILE 256); retrying every second" in failures[0]
        assert len(lines) < 12, lines


def test_a_malformed_limit_variable_stops_the_server_with_exit_2(tmp_path):
    argv = [part.replace("{port}", str(free_port())) for part in sink_argv(tmp_path)]
    result = subprocess.run(
        argv,
        env={**os.environ, "OBSSTACK_SERVER_HEADER_TIMEOUT": "10"},
        capture_output=True, text=True, cwd=ROOT, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "obsstack oncall-sink: OBSSTACK_SERVER_HEADER_TIMEOUT: invalid duration '10'"
    )
