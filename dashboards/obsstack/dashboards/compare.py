"""What changed between two versions of the generated dashboards, panel by panel.

Panels are matched by row title and panel title (the n-th panel of the same title in the same
row, for the SLO rows that repeat them), so a panel that got new thresholds is "changed", one
that only changed place "moved", and a retitled one is "removed" and "added". For a changed
panel the differences are
named: type, grid position, unit, decimals, min/max, thresholds, value mappings, and each query's
expression, legend and instant/range mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from obsstack.dashboards.render import panel_keys

Json = dict[str, Any]


@dataclass
class PanelChange:
    key: str
    kind: str  # "added", "removed", "changed", "moved" (only its grid position differs)
    details: list[str] = field(default_factory=list)


@dataclass
class DashboardChange:
    """One dashboard file: its status in the two revisions, and its panels' changes."""

    file: str
    title: str
    status: str  # "added", "removed", "changed", "unchanged"
    panels: list[PanelChange] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # dashboard-level: title, variables, time

    def marked(self, side: str) -> frozenset[str]:
        """The panel keys to outline in the picture of ``side`` ("a" or "b"): changed ones,
        and the removed ones in A, the added ones in B (a panel that only moved is not)."""
        shown = {"changed", "removed" if side == "a" else "added"}
        return frozenset(p.key for p in self.panels if p.kind in shown)


def diff_dashboards(old: dict[str, Json], new: dict[str, Json]) -> list[DashboardChange]:
    """Each file in either revision (file name -> dashboard), in file order."""
    changes = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before is None or after is None:
            present = after if after is not None else before
            assert present is not None
            status = "added" if before is None else "removed"
            changes.append(DashboardChange(name, str(present.get("title", name)), status))
            continue
        panels = diff_panels(before, after)
        details = _differences(_board_signature(before), _board_signature(after))
        status = "changed" if panels or details else "unchanged"
        changes.append(
            DashboardChange(name, str(after.get("title", name)), status, panels, details)
        )
    return changes


def diff_panels(before: Json, after: Json) -> list[PanelChange]:
    """Panels added, removed or changed from ``before`` to ``after``."""
    old, new = panel_keys(before), panel_keys(after)
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        if key not in new:
            changes.append(PanelChange(key, "removed"))
        elif key not in old:
            changes.append(PanelChange(key, "added"))
        else:
            details = _differences(panel_signature(old[key]), panel_signature(new[key]))
            moved = all(d.startswith("position:") for d in details)
            if details:
                changes.append(PanelChange(key, "moved" if moved else "changed", details))
    return changes


def panel_signature(panel: Json) -> dict[str, Any]:
    """What a reviewer cares about in a panel, by name."""
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    grid = panel.get("gridPos") or {}
    steps = (defaults.get("thresholds") or {}).get("steps") or []
    signature: dict[str, Any] = {
        "type": panel.get("type"),
        "position": ", ".join(f"{k}={grid.get(k)}" for k in "xywh"),
        "unit": defaults.get("unit"),
        "decimals": defaults.get("decimals"),
        "min": defaults.get("min"),
        "max": defaults.get("max"),
        "thresholds": ", ".join(_step(s) for s in steps),
        "mappings": _compact(defaults.get("mappings")),
        "overrides": _compact((panel.get("fieldConfig") or {}).get("overrides")),
        "thresholds style": ((defaults.get("custom") or {}).get("thresholdsStyle") or {}).get(
            "mode"
        ),
        "description": panel.get("description"),
    }
    for target in panel.get("targets") or []:
        ref = target.get("refId", "?")
        signature[f"query {ref}"] = target.get("expr")
        signature[f"legend {ref}"] = target.get("legendFormat")
        signature[f"instant {ref}"] = bool(target.get("instant")) and not target.get("range")
    return signature


def _board_signature(board: Json) -> dict[str, Any]:
    variables = (board.get("templating") or {}).get("list") or []
    return {
        "title": board.get("title"),
        "time range": _compact(board.get("time")),
        "variables": ", ".join(str(v.get("name")) for v in variables),
    }


def _step(step: Json) -> str:
    value = step.get("value")
    return f"{step.get('color')}" if value is None else f"{step.get('color')} from {value}"


def _compact(value: Any) -> str | None:
    return None if not value else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    for name in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(name), after.get(name)
        if old != new:
            out.append(f"{name}: {_shown(old)} -> {_shown(new)}")
    return out


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    text = str(value)
    return repr(text) if len(text) <= 160 else repr(text[:157] + "...")
