"""``obsstack dashboards compare``: two revisions of a dashboard rendered side by side, the
changed, added and removed panels named on the page and outlined in the pictures.

A throw-away git repository in tmp_path holds an obsstack directory whose
dashboards/generated/fixture.json changes between two commits; both are drawn from the real
Prometheus of fixed_prometheus.py over its fixed hour.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from obsstack.cli import main
from obsstack.dashboards.compare import diff_dashboards
from tests.dashboards.fixed_prometheus import FIXED_RANGE
from tests.support.paths import ROOT
from tests.support.servers import PrivatePrometheus

pytestmark = pytest.mark.e2e

FIXTURE = json.loads((ROOT / "tests" / "data" / "dashboards" / "render-fixture.json").read_text())


def git(repo: Path, *argv: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def commit(repo: Path, board: dict[str, Any], message: str) -> str:
    path = repo / "dashboards" / "generated" / "fixture.json"
    path.write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def changed(board: dict[str, Any]) -> dict[str, Any]:
    """The fixture with the gauge's unit and thresholds changed and the payload stat retitled."""
    board = copy.deepcopy(board)
    for item in board["panels"]:
        if item.get("title") == "Ratio":
            item["fieldConfig"]["defaults"]["unit"] = "percent"
            item["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] = 0.8
        if item.get("title") == "Payload":
            item["title"] = "Payload size"
    return board


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    repo = tmp_path / "repo"
    (repo / "compose").mkdir(parents=True)
    (repo / "compose" / "docker-compose.yml").write_text("services: {}\n")
    (repo / "dashboards" / "generated").mkdir(parents=True)
    git(repo, "init", "-q")
    first = commit(repo, FIXTURE, "first")
    second = commit(repo, changed(FIXTURE), "second")
    return repo, first, second


def compare(repo: Path, url: str, out: Path, *revs: str) -> int:
    return main(
        [
            "dashboards",
            "compare",
            *revs,
            "--root",
            str(repo),
            "--prometheus",
            url,
            *FIXED_RANGE,
            "--out",
            str(out),
        ]
    )


def panels(out: Path, side: str) -> dict[str, dict[str, Any]]:
    record = json.loads((out / side / "render.json").read_text())[0]
    return {p["title"]: p for p in record["panels"]}


def test_a_changed_panel_is_named_and_outlined_on_both_sides(
    fixed_prometheus: PrivatePrometheus, repo, tmp_path, capsys
):
    root, first, second = repo
    out = tmp_path / "out"
    assert compare(root, fixed_prometheus.url, out, first, second) == 0
    printed = capsys.readouterr().out
    assert "fixture.json: changed\n  changed Values / Ratio\n" in printed
    assert "  removed Values / Payload\n  added Values / Payload size\n" in printed
    page = (out / "index.html").read_text()
    assert "changed Values / Ratio; unit: &#x27;percentunit&#x27; -&gt; &#x27;percent&#x27;" in (
        page
    )
    assert "thresholds: &#x27;red, orange from 0.9, green from 0.99&#x27; -&gt; " in page
    assert '<img src="a/fixture.png"' in page and '<img src="b/fixture.png"' in page
    before, after = panels(out, "a"), panels(out, "b")
    assert {t for t, p in before.items() if p["changed"]} == {"Ratio", "Payload"}
    assert {t for t, p in after.items() if p["changed"]} == {"Ratio", "Payload size"}
    assert before["Ratio"]["values"][0]["text"] == "95%"
    assert after["Ratio"]["values"][0]["text"] == "0.950%"  # the new unit, drawn
    assert after["Ratio"]["values"][0]["colour"] == before["Ratio"]["values"][0]["colour"]


def test_without_rev_b_the_working_tree_is_compared(
    fixed_prometheus: PrivatePrometheus, repo, tmp_path, capsys
):
    root, first, _second = repo
    out = tmp_path / "out"
    assert compare(root, fixed_prometheus.url, out, "HEAD") == 0
    assert capsys.readouterr().out.startswith("fixture.json: unchanged\n")
    assert not (out / "b" / "fixture.png").exists()  # unchanged: listed, not drawn
    assert compare(root, fixed_prometheus.url, out, first) == 0
    assert "fixture.json: changed" in capsys.readouterr().out
    assert (out / "b" / "fixture.png").exists()


def test_an_unknown_revision_is_named_and_nothing_is_written(repo, tmp_path, capsys):
    root, first, _second = repo
    out = tmp_path / "out"
    code = compare(root, "http://127.0.0.1:9", out, first, "nope")
    assert code == 2
    assert capsys.readouterr().err == (
        f"obsstack dashboards: REV_B: unknown revision 'nope' in {root}\n"
    )
    assert not out.exists()


def test_dashboards_added_and_removed_between_revisions():
    one, other = copy.deepcopy(FIXTURE), copy.deepcopy(FIXTURE)
    other["title"] = "Other"
    changes = diff_dashboards({"one.json": one}, {"one.json": one, "other.json": other})
    assert [(c.file, c.status, c.panels) for c in changes] == [
        ("one.json", "unchanged", []),
        ("other.json", "added", []),
    ]
    changes = diff_dashboards({"other.json": other}, {})
    assert [(c.file, c.title, c.status) for c in changes] == [("other.json", "Other", "removed")]


def test_a_panel_that_only_moved_is_listed_but_not_outlined():
    after = copy.deepcopy(FIXTURE)
    for item in after["panels"]:
        if item.get("title") == "Nothing here":
            item["gridPos"]["w"] = 4
    (change,) = diff_dashboards({"f.json": FIXTURE}, {"f.json": after})
    assert [(p.kind, p.key, p.details) for p in change.panels] == [
        (
            "moved",
            "Tables and notices / Nothing here",
            ["position: 'x=8, y=16, w=8, h=6' -> 'x=8, y=16, w=4, h=6'"],
        ),
    ]
    assert change.status == "changed"
    assert change.marked("a") == change.marked("b") == frozenset()
