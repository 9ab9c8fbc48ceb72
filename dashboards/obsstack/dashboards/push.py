"""``obsstack dashboards push``: upload the generated dashboards to a Grafana over its HTTP API.

For Grafana instances that are not provisioned from files (the bundle's Grafana is: see
``compose/grafana/provisioning``). Each dashboard is saved with ``POST /api/dashboards/db``,
``overwrite: true``, so its uid decides which dashboard it replaces; all go into one folder,
found by title through ``GET /api/folders`` or created with ``POST /api/folders``.

Exit codes: 0 every dashboard uploaded, 1 an upload failed (401, 403, 412, unreachable host,
any other refusal; one line each on stderr), 2 bad input (token file, URL, no dashboards).
The token is read from a file and never printed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from obsstack.core.root import find_root
from obsstack.core.secret_files import SecretFileProblem, read_secret
from obsstack.core.spec import ConfigError, Secrets
from obsstack.dashboards.commands import DEFAULT_FOLDER, GENERATED

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_STATUS_TEXT = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 412: "Precondition Failed"}


class PushError(Exception):
    """An upload failed; the message is one line, free of the token."""


def run_push(args: argparse.Namespace) -> int:
    base_url = _base_url(args.grafana_url)
    token = _read_token(args.token_file)
    boards = load_dashboards(args.dashboards_dir or find_root(args.root) / GENERATED)
    secrets = Secrets()
    secrets.add(token)
    client = GrafanaClient(base_url, token, args.timeout, args.token_file)
    failures = 0
    try:
        folder_uid = client.folder(args.folder)
        for board in boards:
            try:
                saved = client.save(board, folder_uid)
            except DashboardRefused as exc:
                failures += 1
                print(f"obsstack dashboards push: {secrets.scrub(str(exc))}", file=sys.stderr)
                continue
            print(f"uploaded {board['title']!r} -> {base_url}{saved.url} (version {saved.version})")
    except PushError as exc:
        print(f"obsstack dashboards push: {secrets.scrub(str(exc))}", file=sys.stderr)
        return 1
    finally:
        client.close()
    if failures:
        return 1
    print(f"{len(boards)} dashboards uploaded to folder {args.folder!r}")
    return 0


def _base_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("--grafana-url", "", f"must be an http:// or https:// URL (got {text!r})")
    if parts.username or parts.password:
        raise ConfigError("--grafana-url", "", "must not carry credentials: use --token-file")
    return text.rstrip("/")


def _read_token(path: Path) -> str:
    try:
        return read_secret(path, "the token file")
    except SecretFileProblem as problem:
        raise ConfigError(str(path), "", problem.reason) from None


def load_dashboards(directory: Path) -> list[dict[str, Any]]:
    """Every ``*.json`` dashboard of ``directory``, sorted by file name."""
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise ConfigError(str(directory), "", "no dashboard JSON files (run `obsstack generate`)")
    boards = []
    for path in paths:
        try:
            board = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(str(path), "", f"not a dashboard JSON file: {exc}") from None
        if not isinstance(board, dict) or not board.get("uid") or not board.get("title"):
            raise ConfigError(str(path), "", "not a dashboard (no uid or title)")
        boards.append(board)
    return boards


@dataclass(frozen=True)
class Saved:
    url: str
    version: int


class DashboardRefused(PushError):
    """Grafana refused one dashboard (the others may still be saved)."""


class GrafanaClient:
    """The few calls of Grafana's HTTP API that pushing needs, with one-line errors."""

    def __init__(self, base_url: str, token: str, timeout: float, token_file: Path) -> None:
        self.base_url = base_url
        self.token_file = token_file
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, what: str, body: Any = None) -> httpx.Response:
        try:
            response = self.http.request(method, path, json=body)
        except httpx.TimeoutException:
            raise PushError(f"Grafana at {self.base_url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise PushError(f"cannot reach Grafana at {self.base_url}: {exc}") from None
        if response.status_code == 401:
            raise PushError(
                f"Grafana at {self.base_url} rejected the token in {self.token_file} "
                "(401 Unauthorized)"
            )
        if response.status_code == 403:
            raise PushError(
                f"the token in {self.token_file} may not {what} (403 Forbidden): it needs the "
                "Editor role, or dashboards:write and folders:create"
            )
        return response

    def folder(self, title: str) -> str:
        """The uid of the folder called ``title``, created if there is none."""
        response = self._call("GET", "/api/folders", "list folders")
        _expect(response, "list folders")
        for folder in response.json():
            if folder.get("title") == title:
                return str(folder["uid"])
        uid = _NOT_SLUG.sub("-", title.lower()).strip("-")[:40] or DEFAULT_FOLDER
        response = self._call(
            "POST", "/api/folders", f"create the folder {title!r}", {"uid": uid, "title": title}
        )
        _expect(response, f"create the folder {title!r}")
        return str(response.json()["uid"])

    def save(self, board: dict[str, Any], folder_uid: str) -> Saved:
        """Create or replace the dashboard with ``board``'s uid, in the folder."""
        what = f"save dashboard {board['title']!r}"
        body = {
            "dashboard": {**board, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "obsstack dashboards push",
        }
        response = self._call("POST", "/api/dashboards/db", what, body)
        if response.status_code == 412:
            detail = _detail(response)
            raise DashboardRefused(
                f"Grafana refused to {what} (412 Precondition Failed"
                f"{', ' + detail.status if detail.status else ''}): {detail.message}"
            )
        if response.status_code != 200:
            raise DashboardRefused(_unexpected(response, what))
        saved = response.json()
        return Saved(url=str(saved.get("url", "")), version=int(saved.get("version", 0)))


@dataclass(frozen=True)
class _Detail:
    message: str
    status: str


def _detail(response: httpx.Response) -> _Detail:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = " ".join(str(body.get("message") or response.reason_phrase).split())
    return _Detail(message=message[:200], status=str(body.get("status") or ""))


def _unexpected(response: httpx.Response, what: str) -> str:
    code = response.status_code
    reason = _STATUS_TEXT.get(code, response.reason_phrase)
    return f"Grafana refused to {what} ({code} {reason}): {_detail(response).message}"


def _expect(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        raise PushError(_unexpected(response, what))
