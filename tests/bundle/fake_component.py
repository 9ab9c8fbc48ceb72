#!/usr/bin/env python3
"""A stand-in for the loki, jaeger, otelcol-contrib and grafana binaries (none exists on this
machine): it records how it was started and answers 200 on the ports the real one serves
(health and /metrics: for Jaeger and the Collector, those their config file names with the
environment's values), so the native runner's handling of them can be tested."""

import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

NAME = Path(sys.argv[0]).name


def expanded_config() -> dict[str, Any]:
    """The --config file as the real binary reads it: ${env:NAME:-default} from the environment."""
    path = next(a for a in sys.argv if a.startswith("--config=")).split("=", 1)[1]

    def value(match: re.Match[str]) -> str:
        return os.environ.get(match[1]) or match[2]

    return dict(yaml.safe_load(re.sub(r"\$\{env:(\w+):-([^}]*)\}", value, Path(path).read_text())))


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def telemetry_port(config: dict[str, Any]) -> int:
    [reader] = config["service"]["telemetry"]["metrics"]["readers"]
    return int(reader["pull"]["exporter"]["prometheus"]["port"])


def ports() -> list[int]:
    """Where the real binary would answer health checks and scrapes."""
    if NAME == "loki":
        flag = next(a for a in sys.argv if a.startswith("-server.http-listen-port="))
        return [int(flag.split("=")[1])]
    if NAME == "jaeger":
        config = expanded_config()
        extensions = config["extensions"]
        return [
            port_of(extensions["healthcheckv2"]["http"]["endpoint"]),
            telemetry_port(config),
            port_of(extensions["jaeger_query"]["http"]["endpoint"]),
        ]
    if NAME.startswith("otelcol"):
        config = expanded_config()
        return [
            port_of(config["extensions"]["health_check"]["endpoint"]),
            telemetry_port(config),
            port_of(config["exporters"]["prometheus"]["endpoint"]),
        ]
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
