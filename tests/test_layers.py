"""The layout: one ``obsstack`` namespace whose rooms import only the layers below them.

Read from the source, so a new import that points up or sideways fails here before anyone
has to untangle it. The layers and what each room owns are drawn in ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from tests.support.paths import ROOT

# Bottom to top. A room imports the core and rooms of lower layers, never one of its own layer.
LAYERS: list[set[str]] = [
    {"core"},
    {"probe", "instrumentation", "kpis", "alerts", "inbox"},
    {"demo", "dashboards"},
    {"stack"},
    {"kubernetes"},
    {"generate"},
    {"cli"},
]
LAYER = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}
SOURCE_ROOTS = ("exporters", "alerts", "dashboards", "compose", "kubernetes")


def modules() -> dict[str, Path]:
    """Every module of the namespace, by dotted name."""
    found = {}
    for source_root in SOURCE_ROOTS:
        base = ROOT / source_root
        for path in sorted((base / "obsstack").rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(path: Path) -> set[str]:
    """The obsstack modules and names ``path`` imports, lazily or not."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {name for name in names if name.split(".")[0] == "obsstack"}


def room(module: str) -> str:
    return module.split(".")[1]


def test_every_module_is_in_a_room_of_a_layer():
    strays = sorted(name for name in modules() if name == "obsstack" or room(name) not in LAYER)
    assert strays == []


def test_imports_point_only_down():
    upward = []
    for name, path in modules().items():
        for target in imported(path):
            if len(target.split(".")) < 2 or room(target) == room(name):
                continue
            if LAYER[room(target)] >= LAYER[room(name)]:
                upward.append(f"{name} imports {target}")
    assert upward == []


def test_the_core_imports_no_application():
    core = {name: path for name, path in modules().items() if room(name) == "core"}
    assert core, "the core has modules"
    reaching_out = sorted(
        f"{name} imports {target}"
        for name, path in core.items()
        for target in imported(path)
        if room(target) != "core"
    )
    assert reaching_out == []


def test_obsstack_is_a_namespace_and_every_package_is_in_the_wheel():
    """No folder makes ``obsstack`` a regular package (it would hide the other folders' rooms),
    and pyproject.toml lists every package, so the wheel carries all of them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert not any((ROOT / r / "obsstack" / "__init__.py").exists() for r in SOURCE_ROOTS)
    packages = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert set(project["packages"]) - {"obsstack"} == packages
    for package, folder in project["package-dir"].items():
        assert (ROOT / folder).is_dir(), package
