#!/usr/bin/env python3
"""A stand-in for the loki, jaeger, otelcol-contrib and grafana binaries (none exists on this
machine): it records how it was started and answers 200 on the ports the real one serves
(health and /metrics), so the native runner's handling of them can be tested."""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NAME = Path(sys.argv[0]).name


def ports() -> list[int]:
    if NAME == "loki":
        flag = next(a for a in sys.argv if a.startswith("-server.http-listen-port="))
        return [int(flag.split("=")[1])]
    if NAME == "jaeger":
        return [13134, 14269, 16686]
    if NAME.startswith("otelcol"):
        return [13133, 8888, 8889]
    return [int(os.environ["GF_SERVER_HTTP_PORT"])]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"# a fake component\n" if self.path == "/metrics" else b"ok\n"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


record = Path(os.environ["FAKE_RECORD_DIR"]) / f"{NAME}.json"
record.write_text(json.dumps({"argv": sys.argv, "env": dict(os.environ)}))
servers = [ThreadingHTTPServer(("127.0.0.1", port), Handler) for port in ports()]
for server in servers[1:]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
servers[0].serve_forever()
