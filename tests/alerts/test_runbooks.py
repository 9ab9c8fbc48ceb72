"""Every alert links to a runbook section that exists, and every alert has a section."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml

from obsstack.alerts import load_default_spec
from tests.support.paths import ROOT as REPO_ROOT

RUNBOOKS = REPO_ROOT / "docs/runbooks.md"


def anchors() -> set[str]:
    """GitHub's anchors for the headings of docs/runbooks.md."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", RUNBOOKS.read_text(), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def alerts() -> list[dict[str, Any]]:
    rules = []
    for path in sorted((REPO_ROOT / "alerts/generated").glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def test_every_runbook_url_points_at_an_existing_section():
    base = load_default_spec().runbooks_url
    existing = anchors()
    for rule in alerts():
        url = rule["annotations"]["runbook_url"]
        parts = urlsplit(url)
        assert url.startswith(base + "#"), url
        assert parts.path.endswith("/docs/runbooks.md"), url
        assert parts.fragment in existing, f"{rule['alert']}: no section #{parts.fragment}"


def test_every_alert_name_has_its_own_section():
    headings = set(re.findall(r"^## (\w+)$", RUNBOOKS.read_text(), re.M))
    assert {rule["alert"] for rule in alerts()} == headings
