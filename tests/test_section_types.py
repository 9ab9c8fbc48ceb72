"""The strict reader's accessors are typed: what each returns, with and without a default, is
checked by mypy here (``assert_type``) and by the values at run time."""

from __future__ import annotations

from pathlib import Path
from typing import assert_type

from obsstack.core.spec import Section


def test_each_accessor_returns_its_type(tmp_path: Path):
    section = Section(
        {
            "name": "db",
            "port": 5432,
            "ratio": 0.5,
            "on": True,
            "every": "30s",
            "hosts": ["a", "b"],
            "headers": {"x": "1"},
            "items": [{"k": "v"}],
        },
        str(tmp_path / "config.yaml"),
    )
    assert assert_type(section.string("name"), str) == "db"
    assert assert_type(section.string("missing", None), str | None) is None
    assert assert_type(section.integer("port"), int) == 5432
    assert assert_type(section.integer("absent", 7), int) == 7
    assert assert_type(section.float("ratio"), float) == 0.5
    assert assert_type(section.boolean("on"), bool) is True
    assert assert_type(section.boolean("off", False), bool) is False
    assert assert_type(section.duration("every"), float) == 30.0
    assert assert_type(section.duration("never", None), float | None) is None
    assert assert_type(section.str_list("hosts"), list[str]) == ["a", "b"]
    assert assert_type(section.str_map("headers"), dict[str, str]) == {"x": "1"}
    [item] = assert_type(section.sections("items"), list[Section])
    assert item.string("k") == "v"
    assert assert_type(section.sections("none", []), list[Section]) == []
