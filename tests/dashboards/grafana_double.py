"""A test double of Grafana's HTTP API: the folder and dashboard endpoints ``obsstack dashboards
push`` calls, following Grafana's documented API (Folder API and Dashboard API, Grafana 11):

- every call needs ``Authorization: Bearer <token>``: unknown token -> 401
  ``{"message": "invalid API key"}``; a Viewer token may read but not write -> 403
  ``{"message": "Access denied"}``;
- ``GET /api/folders`` -> ``[{"id", "uid", "title"}]``; ``GET /api/folders/<uid>`` -> the folder
  or 404; ``POST /api/folders {"uid", "title"}`` -> 200 the folder, 409 when a folder of that
  title exists, 412 when the uid is taken;
- ``POST /api/dashboards/db {"dashboard", "folderUid", "overwrite", "message"}`` -> 200
  ``{"id", "uid", "url", "status": "success", "version", "slug"}``; 400 for an unknown folder;
  412 ``{"status": "name-exists"}`` when another dashboard of that title is in the folder,
  ``version-mismatch`` when the uid exists and ``overwrite`` is false, ``plugin-dashboard`` for
  dashboards marked as a plugin's;
- ``GET /api/dashboards/uid/<uid>`` -> ``{"dashboard", "meta": {"folderUid", "version"}}``.

It is not Grafana: it stores what it is sent and checks only what the documentation says the
endpoints check.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class GrafanaState:
    tokens: dict[str, str] = field(default_factory=dict)  # token -> role (Admin/Editor/Viewer)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    plugin_dashboards: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    next_id: int = 1


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class GrafanaDouble:
    """Serves the API above on 127.0.0.1 on a free port until ``close()``."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.state = GrafanaState(tokens=dict(tokens))
        state = self.state
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with lock:
                    state.requests.append(Request(method, self.path, dict(self.headers), body))
                    status, reply = route(state, method, self.path, self.headers, body)
                self._reply(status, reply)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def add_folder(self, uid: str, title: str) -> None:
        self.state.folders[uid] = {"id": self._new_id(), "uid": uid, "title": title}

    def add_dashboard(self, dashboard: dict[str, Any], folder_uid: str) -> None:
        self.state.dashboards[dashboard["uid"]] = {
            "dashboard": dashboard,
            "folderUid": folder_uid,
            "version": 1,
            "id": self._new_id(),
        }

    def _new_id(self) -> int:
        self.state.next_id += 1
        return self.state.next_id

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.state.requests if r.method == method and r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def route(state: GrafanaState, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any]:
    auth = headers.get("Authorization", "")
    role = state.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
    if role is None:
        return 401, {"message": "invalid API key", "messageId": "api-key.invalid"}
    path = path.split("?")[0]
    if method == "POST" and role == "Viewer":
        return 403, {"message": "Access denied"}
    if method == "GET" and path == "/api/folders":
        return 200, list(state.folders.values())
    if method == "GET" and path.startswith("/api/folders/"):
        folder = state.folders.get(path.removeprefix("/api/folders/"))
        return (200, folder) if folder else (404, {"message": "folder not found"})
    if method == "POST" and path == "/api/folders":
        return _create_folder(state, body)
    if method == "POST" and path == "/api/dashboards/db":
        return _save_dashboard(state, body)
    if method == "GET" and path.startswith("/api/dashboards/uid/"):
        stored = state.dashboards.get(path.removeprefix("/api/dashboards/uid/"))
        if stored is None:
            return 404, {"message": "Dashboard not found"}
        meta = {"folderUid": stored["folderUid"], "version": stored["version"]}
        return 200, {"dashboard": stored["dashboard"], "meta": meta}
    return 404, {"message": "Not found"}


def _create_folder(state: GrafanaState, body: Any) -> tuple[int, Any]:
    title = (body or {}).get("title")
    if not title:
        return 400, {"message": "folder title cannot be empty"}
    if any(f["title"] == title for f in state.folders.values()):
        return 409, {"message": "a folder with the same name already exists"}
    uid = body.get("uid") or f"f{state.next_id}"
    if uid in state.folders:
        return 412, {"message": "a folder with the same uid already exists"}
    state.next_id += 1
    state.folders[uid] = {"id": state.next_id, "uid": uid, "title": title}
    return 200, state.folders[uid]


def _save_dashboard(state: GrafanaState, body: Any) -> tuple[int, Any]:
    dashboard = (body or {}).get("dashboard")
    if not isinstance(dashboard, dict) or not dashboard.get("title"):
        return 400, {"message": "Dashboard title cannot be empty"}
    folder_uid = body.get("folderUid", "")
    if folder_uid and folder_uid not in state.folders:
        return 400, {"message": "folder not found"}
    uid = dashboard.get("uid") or f"d{state.next_id}"
    if uid in state.plugin_dashboards:
        return 412, {"message": "The dashboard belongs to plugin", "status": "plugin-dashboard"}
    for other_uid, stored in state.dashboards.items():
        same_title = stored["dashboard"]["title"] == dashboard["title"]
        if other_uid != uid and same_title and stored["folderUid"] == folder_uid:
            return 412, {
                "message": "A dashboard with the same name in the folder already exists",
                "status": "name-exists",
            }
    existing = state.dashboards.get(uid)
    if existing and not body.get("overwrite") and dashboard.get("version") != existing["version"]:
        return 412, {
            "message": "The dashboard has been changed by someone else",
            "status": "version-mismatch",
        }
    version = existing["version"] + 1 if existing else 1
    state.next_id += 1
    ident = existing["id"] if existing else state.next_id
    saved = {**dashboard, "id": ident, "uid": uid, "version": version}
    state.dashboards[uid] = {
        "dashboard": saved,
        "folderUid": folder_uid,
        "version": version,
        "id": ident,
    }
    slug = _slug(dashboard["title"])
    return 200, {
        "id": ident,
        "uid": uid,
        "url": f"/d/{uid}/{slug}",
        "status": "success",
        "version": version,
        "slug": slug,
    }
