"""Deterministic YAML for generated rule and test files, with the do-not-edit header."""

from __future__ import annotations

from typing import Any

import yaml

from obsstack.core.artifacts import HEADER


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (PromQL, descriptions), insertion order kept."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # indent list items under their key


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(data: Any, source: str) -> str:
    """``data`` as YAML under a header naming what it was generated from."""
    return to_yaml_documents([data], source, explicit_start=False)


def to_yaml_documents(documents: list[Any], source: str, explicit_start: bool = True) -> str:
    """Several YAML documents, each starting ``---``, under one header."""
    body = yaml.dump_all(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        width=1 << 16,  # never fold long PromQL or descriptions
        allow_unicode=True,
        default_flow_style=False,
        explicit_start=explicit_start,
    )
    return f"# {HEADER}: edit {source} and run `obsstack generate`\n{body}"
