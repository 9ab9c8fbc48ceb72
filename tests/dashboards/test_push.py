"""``obsstack dashboards push`` against an HTTP double of Grafana's API (grafana_double.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from obsstack.cli import main
from obsstack.dashboards.generate import OUTPUT_DIR
from tests.dashboards.grafana_double import GrafanaDouble
from tests.support.paths import ROOT as REPO_ROOT
from tests.support.processes import free_port

EDITOR_TOKEN = "glsa_editor_5f2b9c1d7e3a4b6c8d0e"
VIEWER_TOKEN = "glsa_viewer_0a1b2c3d4e5f6a7b8c9d"


@pytest.fixture()
def grafana() -> Iterator[GrafanaDouble]:
    double = GrafanaDouble({EDITOR_TOKEN: "Editor", VIEWER_TOKEN: "Viewer"})
    yield double
    double.close()


def token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "grafana-token"
    path.write_text(token + "\n")
    return path


def push(url: str, token_path: Path, *extra: str) -> int:
    return main(
        ["dashboards", "push", "--grafana-url", url, "--token-file", str(token_path), *extra]
    )


def committed() -> list[Path]:
    return sorted((REPO_ROOT / OUTPUT_DIR).glob("*.json"))


def test_push_uploads_every_dashboard_into_a_new_folder(grafana, tmp_path, capsys):
    assert push(grafana.url, token_file(tmp_path, EDITOR_TOKEN)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert grafana.state.folders == {
        "obsstack": {
            "id": grafana.state.folders["obsstack"]["id"],
            "uid": "obsstack",
            "title": "obsstack",
        }
    }
    assert len(grafana.state.dashboards) == len(committed())
    for path in committed():
        uid = json.loads(path.read_text())["uid"]
        stored = grafana.state.dashboards[uid]
        assert stored["folderUid"] == "obsstack"
        assert stored["version"] == 1
        assert f"-> {grafana.url}/d/{uid}/" in out
    assert out.splitlines()[-1] == f"{len(committed())} dashboards uploaded to folder 'obsstack'"
    (request,) = grafana.calls("POST", "/api/dashboards/db")[:1]
    assert request.headers["Authorization"] == f"Bearer {EDITOR_TOKEN}"
    assert request.body["overwrite"] is True
    assert request.body["folderUid"] == "obsstack"


def test_pushing_again_overwrites_by_uid_and_reuses_the_folder(grafana, tmp_path, capsys):
    token = token_file(tmp_path, EDITOR_TOKEN)
    assert push(grafana.url, token) == 0
    assert push(grafana.url, token) == 0
    assert len(grafana.state.dashboards) == len(committed())
    assert {d["version"] for d in grafana.state.dashboards.values()} == {2}
    assert len(grafana.calls("POST", "/api/folders")) == 1
    assert "(version 2)" in capsys.readouterr().out


def test_an_existing_folder_is_found_by_title(grafana, tmp_path):
    grafana.add_folder("aB3dE9", "Observability")
    assert push(grafana.url, token_file(tmp_path, EDITOR_TOKEN), "--folder", "Observability") == 0
    assert grafana.calls("POST", "/api/folders") == []
    assert {d["folderUid"] for d in grafana.state.dashboards.values()} == {"aB3dE9"}


def test_a_bad_token_is_one_line_exit_1_and_never_printed(grafana, tmp_path, capsys):
    path = token_file(tmp_path, "glsa_wrong_token_1234567890")
    assert push(grafana.url, path) == 1
    out, err = capsys.readouterr()
    assert err == (
        f"obsstack dashboards push: Grafana at {grafana.url} rejected the token in {path} "
        "(401 Unauthorized)\n"
    )
    assert "glsa_wrong_token" not in out + err
    assert grafana.state.dashboards == {}


def test_a_viewer_token_is_forbidden(grafana, tmp_path, capsys):
    path = token_file(tmp_path, VIEWER_TOKEN)
    assert push(grafana.url, path) == 1
    out, err = capsys.readouterr()
    assert err == (
        f"obsstack dashboards push: the token in {path} may not create the folder 'obsstack' "
        "(403 Forbidden): it needs the Editor role, or dashboards:write and folders:create\n"
    )
    assert VIEWER_TOKEN not in out + err


def test_a_dashboard_refused_with_412_is_reported_and_the_others_are_saved(
    grafana, tmp_path, capsys
):
    grafana.add_folder("obsstack", "obsstack")
    grafana.add_dashboard({"uid": "hand-made", "title": "Stack health"}, "obsstack")
    assert push(grafana.url, token_file(tmp_path, EDITOR_TOKEN)) == 1
    out, err = capsys.readouterr()
    assert err == (
        "obsstack dashboards push: Grafana refused to save dashboard 'Stack health' "
        "(412 Precondition Failed, name-exists): A dashboard with the same name in the folder "
        "already exists\n"
    )
    saved = set(grafana.state.dashboards) - {"hand-made"}
    assert len(saved) == len(committed()) - 1 and "obsstack-stack-health" not in saved
    assert "dashboards uploaded" not in out


def test_an_unreachable_grafana_is_one_line_exit_1(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert push(url, token_file(tmp_path, EDITOR_TOKEN)) == 1
    out, err = capsys.readouterr()
    assert err.startswith(f"obsstack dashboards push: cannot reach Grafana at {url}: ")
    assert err.count("\n") == 1
    assert EDITOR_TOKEN not in out + err


@pytest.mark.parametrize(
    ("setup", "url", "expected"),
    [
        (
            "missing",
            None,
            "obsstack dashboards: {path}: cannot read the token file: No such file or directory\n",
        ),
        ("empty", None, "obsstack dashboards: {path}: the token file is empty\n"),
        (
            "ok",
            "grafana:3000",
            "obsstack dashboards: --grafana-url: must be an http:// or https:// URL "
            "(got 'grafana:3000')\n",
        ),
        (
            "ok",
            "http://admin:secret@grafana:3000",
            "obsstack dashboards: --grafana-url: must not carry credentials: use --token-file\n",
        ),
    ],
    ids=["missing token file", "empty token file", "URL without scheme", "URL with credentials"],
)
def test_bad_input_exits_2_before_any_request(grafana, tmp_path, capsys, setup, url, expected):
    path = tmp_path / "token"
    if setup == "empty":
        path.write_text("\n")
    elif setup == "ok":
        path.write_text(EDITOR_TOKEN)
    assert push(url or grafana.url, path) == 2
    assert capsys.readouterr().err == expected.format(path=path)
    assert grafana.state.requests == []


def test_an_empty_dashboards_dir_exits_2(grafana, tmp_path, capsys):
    empty = tmp_path / "boards"
    empty.mkdir()
    assert (
        push(grafana.url, token_file(tmp_path, EDITOR_TOKEN), "--dashboards-dir", str(empty)) == 2
    )
    assert "no dashboard JSON files" in capsys.readouterr().err
