"""The on-call inbox serves the rendered dashboards read-only at /dashboards/, behind its token,
and nothing outside the render directory, however the path is spelled."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from obsstack.inbox.server import create_app
from tests.support.processes import Process, free_port, http_ok, running, wait_until

KEY = "0123456789abcdef0123456789abcdef"
GENIE = "eb243592-faa2-4ba2-a551-1afdaaf2b9f5"
TOKEN = "inbox-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PNG = b"\x89PNG\r\n\x1a\n" + b"picture" * 10
SECRET = b"do not serve me"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A render directory as ``obsstack dashboards render`` leaves it, and files beside it."""
    tmp_path = tmp_path_factory.mktemp("inbox")
    out = tmp_path / "dashboards"
    out.mkdir()
    (out / "index.html").write_text('<img src="service-overview.png">')
    (out / "service-overview.png").write_bytes(PNG)
    (out / "render.json").write_text("[]\n")
    (out / "notes.txt").write_bytes(SECRET)  # not a type the renderer writes
    (out / ".staging.png").write_bytes(SECRET)  # a temporary name
    (out / "sub").mkdir()
    (out / "sub" / "inner.png").write_bytes(SECRET)
    (tmp_path / "secret.png").write_bytes(SECRET)
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "rk").write_text(KEY)
    (tmp_path / "gk").write_text(GENIE)
    (out / "leak.png").symlink_to(tmp_path / "secret.png")
    return tmp_path


@pytest.fixture(scope="module")
def inbox(files: Path) -> Iterator[str]:
    """``obsstack oncall-sink --dashboards-dir``, a real server on a free port."""
    tmp_path, rendered = files, files / "dashboards"
    port = free_port()
    process = Process(
        [sys.executable, "-m", "obsstack.cli", "oncall-sink", "--listen", f"127.0.0.1:{port}",
         "--pagerduty-routing-key-file", str(tmp_path / "rk"),
         "--opsgenie-api-key-file", str(tmp_path / "gk"), "--token-file", str(tmp_path / "token"),
         "--dashboards-dir", str(rendered)],
        tmp_path / "sink.log",
    )  # fmt: skip
    with running(process):
        wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 20, "the inbox")
        yield f"127.0.0.1:{port}"


def test_the_page_links_the_index_which_shows_the_pictures(inbox):
    page = httpx.get(f"http://{inbox}/", headers=BEARER)
    assert page.status_code == 200 and "<a href=dashboards/>Dashboards</a>" in page.text
    index = httpx.get(f"http://{inbox}/dashboards/", headers=BEARER)
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert 'src="service-overview.png"' in index.text
    picture = httpx.get(f"http://{inbox}/dashboards/service-overview.png", headers=BEARER)
    assert picture.headers["content-type"] == "image/png" and picture.content == PNG
    record = httpx.get(f"http://{inbox}/dashboards/render.json", headers=BEARER)
    assert record.headers["content-type"] == "application/json" and record.text == "[]\n"
    moved = httpx.get(f"http://{inbox}/dashboards", headers=BEARER)
    assert moved.status_code == 308 and moved.headers["location"] == "/dashboards/"


def test_the_dashboards_want_the_token_as_the_page_does(inbox):
    for path in ("/dashboards/", "/dashboards/service-overview.png"):
        refused = httpx.get(f"http://{inbox}{path}")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith(
            "Basic"
        )
        assert httpx.get(f"http://{inbox}{path}", auth=("anyone", TOKEN)).status_code == 200


def raw_get(address: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` byte for byte as written (an HTTP client would normalise dot segments)."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\n"
        sock.sendall((request + "Connection: close\r\n\r\n").encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    "path",
    [
        "/dashboards/../secret.png",
        "/dashboards/%2e%2e/secret.png",
        "/dashboards/..%2fsecret.png",
        "/dashboards/%2e%2e%2fsecret.png",
        "/dashboards/%2fetc%2fpasswd",
        "/dashboards//etc/passwd",
        "/dashboards/leak.png",  # a symbolic link out of the directory
        "/dashboards/sub/inner.png",
        "/dashboards/.staging.png",
        "/dashboards/notes.txt",
        "/dashboards/../token",
        "/dashboards/%2e%2e/token",
    ],
)
def test_nothing_outside_the_render_directory_is_served(inbox, path):
    status, body = raw_get(inbox, path)
    assert status in (400, 404), (path, status)
    assert SECRET not in body and TOKEN.encode() not in body


async def test_before_the_first_render_the_index_says_so(tmp_path):
    app = create_app(KEY, GENIE, TOKEN, tmp_path / "not-yet")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as client:
        answer = await client.get("/dashboards/", headers=BEARER)
    assert answer.status_code == 404 and "no dashboards rendered yet" in answer.text


async def test_without_a_render_directory_there_is_no_link_and_no_route():
    transport = httpx.ASGITransport(app=create_app(KEY, GENIE, TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as client:
        page = await client.get("/", headers=BEARER)
        assert page.status_code == 200 and "dashboards/" not in page.text
        assert (await client.get("/dashboards/", headers=BEARER)).status_code == 404
