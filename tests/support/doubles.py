"""Network doubles for dependencies this machine does not run, and for network faults.

``Blackhole`` accepts TCP connections and never answers (a hung server). ``HttpDouble`` is an
HTTP(S) server answering from a routing table; each test module that uses it documents which
real API the routes follow; ``fallback`` answers the paths a table cannot list (``/{id}/...``).
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Blackhole:
    """A TCP server that accepts connections and never sends a byte.

    ``accepted`` counts connections ever made; ``open_connections()`` those the client has not
    closed yet, so a test can prove that a timed-out probe closed its socket.
    """

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = int(self.server.getsockname()[1])
        self.accepted = 0
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._running:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._connections.append(connection)

    def open_connections(self) -> int:
        """Connections whose client has not closed its side (what it sent is read and dropped)."""
        still_open = 0
        with self._lock:
            for connection in self._connections:
                connection.setblocking(False)
                try:
                    while connection.recv(1 << 16):
                        pass  # discard the request; an empty read means the client closed
                except BlockingIOError:
                    still_open += 1
                except OSError:
                    pass  # reset by the client: closed too
        return still_open

    def close(self) -> None:
        self._running = False
        self.server.close()
        self._thread.join(2)
        with self._lock:
            for connection in self._connections:
                connection.close()


@dataclass
class Reply:
    status: int = 200
    body: Any = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), "application/json"
        return str(self.body).encode(), "text/plain; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: dict[str, str] = field(default_factory=dict)
    idle: float | None = None  # seconds its connection was idle before it; None: a new one


Route = Callable[[Request], Reply] | Reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up before its answer is written (what timeout tests do) is not
        # the double's error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class HttpDouble:
    """An HTTP(S) server answering ``routes[(method, path)]``, else ``fallback``, else 404."""

    def __init__(
        self,
        routes: Mapping[tuple[str, str], Route],
        tls: TlsFiles | None = None,
        fallback: Callable[[Request], Reply] | None = None,
    ) -> None:
        self.routes = routes
        self.fallback = fallback
        self.requests: list[Request] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, as real servers do
            answered: float | None = None  # when the connection's last answer was written

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                path, _, query = self.path.partition("?")
                request = Request(
                    self.command,
                    path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                    dict(urllib.parse.parse_qsl(query)),
                    None if self.answered is None else time.monotonic() - self.answered,
                )
                double.requests.append(request)
                route = double.routes.get((request.method, request.path), double.fallback)
                reply = route(request) if callable(route) else route or Reply(404, "not found")
                if reply.delay:
                    threading.Event().wait(reply.delay)
                body, content_type = reply.encoded()
                self.send_response(reply.status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if request.method != "HEAD":
                    self.wfile.write(body)
                self.answered = time.monotonic()

            do_GET = do_POST = do_HEAD = do_OPTIONS = _handle

        self.server = _Server(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert, tls.key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.port = int(self.server.server_address[1])
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str


def self_signed_certificate(directory: Path, days: int = 30) -> TlsFiles:
    """A certificate for 127.0.0.1 valid for ``days`` days, made with the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            str(days),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return TlsFiles(str(cert), str(key))
