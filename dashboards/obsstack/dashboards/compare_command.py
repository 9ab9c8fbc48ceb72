"""``obsstack dashboards compare REV_A [REV_B]``: a dashboard change reviewed as pictures.

The generated dashboards of two git revisions (``git show REV:dashboards/generated/X.json`` in
the obsstack directory; without REV_B, the files on disk) are rendered from the same Prometheus
over the same time range into ``a/`` and ``b/``, and ``index.html`` puts each pair side by side
under the list of what changed; changed panels are outlined in orange in both pictures, removed
ones in A, added ones in B (panels that only moved are listed, not outlined). Unchanged
dashboards are listed, and drawn only with ``--all``.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from html import escape
from pathlib import Path

from obsstack.core.spec import ConfigError
from obsstack.dashboards.compare import DashboardChange, diff_dashboards
from obsstack.dashboards.render_command import (
    Loaded,
    connect,
    load_directory,
    parse_dashboard,
    render_all,
    require_matplotlib,
    time_range,
    write_output,
)
from obsstack.dashboards.render_html import notices, page, with_data
from obsstack.dashboards.render_model import DashboardDrawn

GENERATED = "dashboards/generated"
WORKTREE = "working tree"


def run_compare(args: argparse.Namespace) -> int:
    """The ``compare`` subcommand."""
    from obsstack.core.root import find_root

    require_matplotlib()
    root = find_root(args.root)
    old = load_revision(root, args.rev_a, "REV_A")
    new = (
        load_revision(root, args.rev_b, "REV_B") if args.rev_b else load_directory(root / GENERATED)
    )
    if args.dashboard:
        wanted = set(args.dashboard)
        known = {b.get("uid") for _, b in old + new}
        for uid in args.dashboard:
            if uid not in known:
                raise ConfigError("--dashboard", "", f"unknown uid {uid!r} in either revision")
        old = [(n, b) for n, b in old if b.get("uid") in wanted]
        new = [(n, b) for n, b in new if b.get("uid") in wanted]
    changes = diff_dashboards(dict(old), dict(new))
    window = time_range(args)
    sources = connect(args)
    drawn = {"changed", "added", "removed"} | ({"unchanged"} if args.all else set())
    shown = {c.file for c in changes if c.status in drawn}
    labels = (args.rev_a, args.rev_b or WORKTREE)
    now = time.time()

    def produce(out: Path) -> None:
        sides = []
        for side, boards in (("a", old), ("b", new)):
            marks = {c.file: c.marked(side) for c in changes}
            picked = [(n, b) for n, b in boards if n in shown]
            (out / side).mkdir()
            sides.append(render_all(picked, out / side, sources, window, marks, now))
        (out / "index.html").write_text(compare_page(changes, labels, sides[0], sides[1]))

    write_output(Path(args.out), produce)
    for change in changes:
        print(
            f"{change.file}: {change.status}"
            + "".join(f"\n  {p.kind} {p.key}" for p in change.panels)
        )
    print(f"side by side: {Path(args.out) / 'index.html'}")
    return 0


def load_revision(root: Path, rev: str, name: str) -> Loaded:
    """The generated dashboards as committed in ``rev``."""
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if commit is None:
        raise ConfigError(name, "", f"unknown revision {rev!r} in {root}")
    listing = _git(root, "ls-tree", "--name-only", commit.strip(), f"{GENERATED}/") or ""
    files = [line for line in listing.splitlines() if line.endswith(".json")]
    if not files:
        raise ConfigError(name, "", f"no {GENERATED}/*.json in revision {rev!r}")
    loaded = []
    for path in files:
        text = _git(root, "show", f"{commit.strip()}:./{path}") or ""
        loaded.append((Path(path).name, parse_dashboard(text, f"{rev}:{path}")))
    return loaded


def _git(root: Path, *argv: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *argv], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ConfigError("git", "", "not installed: compare reads revisions with git") from None
    return done.stdout if done.returncode == 0 else None


def compare_page(
    changes: list[DashboardChange],
    labels: tuple[str, str],
    before: list[DashboardDrawn],
    after: list[DashboardDrawn],
) -> str:
    """``index.html``: the changes, then each changed dashboard's pictures side by side."""
    a = {b.source: b for b in before}
    b = {d.source: d for d in after}
    summary = "".join(
        f'<tr><td><a href="#{escape(c.file)}">{escape(c.title)}</a></td>'
        f'<td class="{"changed" if c.status != "unchanged" else ""}">{c.status}</td>'
        f"<td>{sum(1 for p in c.panels if p.kind != 'moved')}</td></tr>"
        for c in changes
    )
    body = (
        f"<p>A = {escape(labels[0])}, B = {escape(labels[1])}; changed, added and removed "
        "panels are outlined in orange, moved ones listed only.</p>\n"
        "<table><tr><th>dashboard</th><th>status</th><th>panels changed</th>"
        f"</tr>{summary}</table>\n"
    )
    for change in changes:
        if change.file not in a and change.file not in b:
            continue
        items = [*change.details]
        items += [f"{p.kind} {p.key}" + "".join(f"; {d}" for d in p.details) for p in change.panels]
        listed = "".join(f"<li>{escape(i)}</li>" for i in items)
        body += (
            f'<h2 id="{escape(change.file)}">{escape(change.title)} ({change.status})</h2>\n'
            f'<ul>{listed}</ul>\n<div class="side">{_cell("a", a.get(change.file), labels[0])}'
            f"{_cell('b', b.get(change.file), labels[1])}</div>\n"
        )
    return page(f"Dashboards: {labels[0]} vs {labels[1]}", body)


def _cell(side: str, board: DashboardDrawn | None, label: str) -> str:
    if board is None:
        return f"<div><h3>{escape(label)}</h3><p>(not in this revision)</p></div>"
    src = f"{side}/{board.png}"
    return (
        f"<div><h3>{escape(label)}: {with_data(board)} panels with data</h3>"
        f'<a href="{escape(src)}"><img src="{escape(src)}" alt="{escape(board.title)}"></a>'
        f"{notices(board.panels)}</div>"
    )
