"""``obsstack up`` draws the dashboards from its Prometheus without Grafana, and the on-call
inbox page it names links them; without the drawing library the stack starts all the same."""

from __future__ import annotations

import datetime
import importlib.util
import json
import re
import socket
from pathlib import Path
from typing import Any

import httpx

from obsstack.stack import rendering
from obsstack.stack.runner import Options, down, up
from tests.bundle.test_runner import obsstack
from tests.support.paths import ROOT
from tests.support.processes import free_port, wait_until

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# node-exporter given a port too: its default (9100) is left to the test that holds it
# (tests/bundle/test_runner.py::test_up_then_down).
NAMES = ("prometheus", "alertmanager", "exporter", "oncall-sink", "node-exporter")


def raw_get(address: str, path: str, token: str) -> tuple[int, bytes]:
    """GET ``path`` as written, dot segments and all (an HTTP client would normalise them)."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = f"GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n"
        sock.sendall((head + "Connection: close\r\n\r\n").encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status, _, body = answer.partition(b"\r\n\r\n")
    return int(status.split()[1]), body


def hours(label: str) -> float:
    """The length of a rendered time range, ``2026-12-03 08:00:00 to 09:00:00 UTC``."""
    start, end = label.removesuffix(" UTC").split(" to ")
    if len(end) == len("09:00:00"):
        end = f"{start[:10]} {end}"
    moments = [datetime.datetime.fromisoformat(text) for text in (start, end)]
    return (moments[1] - moments[0]).total_seconds() / 3600


def test_up_serves_the_rendered_dashboards_from_the_inbox_page(tmp_path: Path):
    state = tmp_path / "state"
    ports = {name: free_port() for name in NAMES}
    args = [f"--port={name}={port}" for name, port in ports.items()]
    started = obsstack("up", "--state-dir", str(state), "--no-demo", "--scrape-interval", "1s",
                       *args)  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr
        inbox = f"127.0.0.1:{ports['oncall-sink']}"
        assert (
            f"dashboards: http://{inbox}/dashboards/ (the last 1h, drawn from Prometheus every "
            "60s; the inbox page's login)"
        ) in started.stdout.splitlines()
        token = (state / "config" / "secrets" / "oncall_token").read_text()
        auth = {"Authorization": f"Bearer {token}"}

        page = httpx.get(f"http://{inbox}/", headers=auth, timeout=10)
        assert page.status_code == 200 and "<a href=dashboards/>Dashboards</a>" in page.text
        index_url = f"http://{inbox}/dashboards/"

        def rendered() -> bool:
            return httpx.get(index_url, headers=auth, timeout=10).status_code == 200

        wait_until(rendered, 240, "the first rendering of the dashboards", interval=1)
        index = httpx.get(index_url, headers=auth, timeout=10)
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        pictures = sorted(set(re.findall(r'<img src="([^"]+)"', index.text)))
        expected = sorted(p.stem + ".png" for p in (ROOT / "dashboards/generated").glob("*.json"))
        assert pictures == expected and len(pictures) == 5
        for picture in pictures:
            served = httpx.get(index_url + picture, headers=auth, timeout=10)
            assert served.status_code == 200, picture
            assert served.headers["content-type"] == "image/png"
            assert served.content.startswith(PNG_MAGIC) and len(served.content) > 10_000
        drawn: list[dict[str, Any]] = httpx.get(
            index_url + "render.json", headers=auth, timeout=10
        ).json()
        assert {hours(board["time_range"]) for board in drawn} == {1.0}  # not their own ranges
        assert {board["uid"] for board in drawn} == {
            json.loads(p.read_text())["uid"] for p in (ROOT / "dashboards/generated").glob("*.json")
        }

        # The render directory is state/dashboards; the tokens are next door in state/config.
        for path in (
            "/dashboards/../config/secrets/oncall_token",
            "/dashboards/%2e%2e/config/secrets/oncall_token",
            "/dashboards/..%2fconfig%2fsecrets%2foncall_token",
            "/dashboards/%2e%2e%2fconfig%2fsecrets%2fscrape_token",
            "/dashboards/../run/dashboards.json",
        ):
            status, body = raw_get(inbox, path, token)
            assert status in (400, 404), path
            assert token.encode() not in body and b'"pid"' not in body, path
        records = {p.stem for p in (state / "run").glob("*.json")}
        assert rendering.NAME in records
    finally:
        stopped = obsstack("down", "--state-dir", str(state))
    assert stopped.stdout.splitlines()[0].startswith(f"stopped {rendering.NAME} (pid ")
    assert not [p for p in state.iterdir() if p.name.startswith(".dashboards.")]


def test_without_the_drawing_library_up_says_so_once_and_starts(tmp_path, monkeypatch):
    real = importlib.util.find_spec

    def without_matplotlib(name: str, *args: Any) -> Any:
        return None if name == "matplotlib" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_matplotlib)
    ports = {name: free_port() for name in NAMES}
    options = Options.at(ROOT, state_dir=tmp_path / "state", ports=ports, with_demo=False)
    try:
        lines = up(options)
        skipped = [line for line in lines if "matplotlib" in line]
        assert skipped == [
            "  dashboards     skipped: matplotlib is not installed "
            "(pip install 'obsstack[render]'; make setup does)"
        ]
        assert not [line for line in lines if line.startswith("dashboards:")]
        records = {p.stem for p in (tmp_path / "state" / "run").glob("*.json")}
        assert rendering.NAME not in records and "oncall-sink" in records
        token = (tmp_path / "state" / "config" / "secrets" / "oncall_token").read_text()
        page = httpx.get(
            f"http://127.0.0.1:{ports['oncall-sink']}/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert page.status_code == 200 and "dashboards/" not in page.text
    finally:
        down(options)
