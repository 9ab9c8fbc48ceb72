"""The HTML page listing rendered dashboards: title, uid, time range, panels with data, and
the picture, each panel without data named under it."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from obsstack.dashboards.render_model import CANVAS, TEXT, DashboardDrawn, PanelDrawn

STYLE = f"""
body {{ background: {CANVAS}; color: {TEXT}; font-family: sans-serif; margin: 16px; }}
a {{ color: #6E9FFF; }}
table {{ border-collapse: collapse; margin-bottom: 16px; }}
td, th {{ border-bottom: 1px solid #2C3235; padding: 4px 10px; text-align: left; }}
img {{ max-width: 100%; border: 1px solid #2C3235; }}
.changed {{ color: #FF9830; }}
.notice {{ color: #9FA7B3; font-size: 90%; }}
.side {{ display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }}
"""


def page(title: str, body: str) -> str:
    """A complete HTML document in the renderer's style."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{body}</body>\n</html>\n"
    )


def with_data(board: DashboardDrawn) -> str:
    """``12/15``: panels that drew data, of all panels."""
    return f"{sum(1 for p in board.panels if p.drawn)}/{len(board.panels)}"


def notices(panels: Sequence[PanelDrawn]) -> str:
    """A list of the panels that show a notice instead of data."""
    items = [
        f"<li>{escape(p.title)}: {escape(p.notice)}</li>"
        for p in panels
        if p.notice and not p.drawn
    ]
    return f'<ul class="notice">{"".join(items)}</ul>\n' if items else ""


def index_page(boards: Sequence[DashboardDrawn]) -> str:
    """``index.html``: a table of the dashboards, then each picture."""
    rows = "".join(
        f'<tr><td><a href="#{escape(b.uid)}">{escape(b.title)}</a></td><td>{escape(b.uid)}</td>'
        f"<td>{escape(b.time_range)}</td><td>{with_data(b)}</td>"
        f'<td><a href="{escape(b.png)}">{escape(b.png)}</a></td></tr>'
        for b in boards
    )
    sections = "".join(
        f'<h2 id="{escape(b.uid)}">{escape(b.title)}</h2>\n'
        f"<p>{escape(b.time_range)}, from {escape(b.source)}</p>\n"
        f'<a href="{escape(b.png)}"><img src="{escape(b.png)}" alt="{escape(b.title)}"></a>\n'
        f"{notices(b.panels)}"
        for b in boards
    )
    table = (
        "<table><tr><th>dashboard</th><th>uid</th><th>time range</th>"
        f"<th>panels with data</th><th>picture</th></tr>{rows}</table>\n"
    )
    return page("Dashboards", table + sections)
