"""A stand-in for the otelcol-contrib binary (none exists on this machine), for ``obsstack up``:
it listens where the bundle's Collector configuration says (the ``COLLECTOR_*`` variables the
native runner sets), answers its health check, and receives OTLP/HTTP as the Collector does,
writing each log record it decodes as one JSON line to ``$FAKE_RECORD_DIR/otlp-logs.jsonl``.

Run through an executable named ``otelcol-contrib`` (see :func:`install`).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from tests.instrumentation.otlp import ReceivedLog, collect_logs

ROOT = Path(__file__).resolve().parents[2]


def install(bin_dir: Path) -> Path:
    """An ``otelcol-contrib`` executable in ``bin_dir`` running this double."""
    path = bin_dir / "otelcol-contrib"
    path.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.support.fake_collector import main\nmain()\n"
    )
    path.chmod(0o755)
    return path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    out: Path
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # the health_check extension
        self._answer(200, b"ok", "text/plain")

    def do_POST(self) -> None:  # the OTLP/HTTP receiver
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/v1/logs":
            message = ExportLogsServiceRequest()
            message.ParseFromString(body)
            received: list[ReceivedLog] = []
            collect_logs(message, received)
            with self.lock, self.out.open("a") as file:
                for record in received:
                    file.write(json.dumps(asdict(record), default=str) + "\n")
        self._answer(200, ExportLogsServiceResponse().SerializeToString(), "application/x-protobuf")


def _server(variable: str) -> ThreadingHTTPServer:
    host, _, port = os.environ[variable].rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), _Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    _Handler.out = Path(os.environ["FAKE_RECORD_DIR"]) / "otlp-logs.jsonl"
    servers = [_server("COLLECTOR_HEALTH_ENDPOINT"), _server("COLLECTOR_OTLP_HTTP_ENDPOINT")]
    threading.Thread(target=servers[1].serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
