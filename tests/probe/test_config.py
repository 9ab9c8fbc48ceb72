"""The configuration file: the documented example loads; every mistake is one exact line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from obsstack.cli import main
from obsstack.probe.config import load_config
from obsstack.probe.kinds import NAMES

REPO = Path(__file__).resolve().parents[2]
BAD = sorted((REPO / "tests/data/bad/exporter").glob("*.yaml"))
EXAMPLE_ENV = {
    "PG_PASSWORD": "pg-pw",
    "NEO4J_PASSWORD": "neo-pw",
    "QDRANT_API_KEY": "qd-key",
    "ES_API_KEY": "es-key",
    "OPENAI_API_KEY": "sk-key",
    "SUPABASE_ANON_KEY": "anon",
    "BILLING_PROBE_TOKEN": "billing-token",
}


def documented_example(tmp_path: Path) -> Path:
    text = (REPO / "exporters/CONFIGURATION.md").read_text()
    block = text.split("## Complete example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in {
        "scrape_token": "tok",
        "replica_dsn": "postgresql://u:p@replica/app",
        "redis_password": "redis-pw",
        "es_ca.pem": "unused",
    }.items():
        (secrets / name).write_text(value + "\n")
    path = tmp_path / "exporter.yaml"
    path.write_text(block)
    return path


def test_documented_example_loads_and_covers_every_kind(tmp_path: Path):
    config = load_config(documented_example(tmp_path), env=EXAMPLE_ENV)
    assert {d.kind for d in config.dependencies} == set(NAMES)
    by_name = {d.name: d for d in config.dependencies}
    assert by_name["postgres"].settings.password == "pg-pw"
    assert by_name["postgres-replica"].settings.dsn == "postgresql://u:p@replica/app"
    assert by_name["postgres-replica"].timeout == 2.0
    assert by_name["postgres-replica"].settings.connection_lifetime == 30.0
    assert by_name["postgres"].settings.connection_lifetime == 60.0
    assert by_name["openai"].circuit.cooldown == 120.0
    assert by_name["neo4j"].circuit.cooldown is None  # a trial at every scrape while open
    # a dsn keeps its own ?sslmode=: asyncpg reads it only when no sslmode is passed
    assert by_name["postgres-replica"].settings.sslmode is None
    assert by_name["postgres"].settings.sslmode == "require"
    assert by_name["openai"].settings.endpoint.url == "https://api.openai.com"
    assert by_name["openai"].settings.path == "/v1/models"
    assert config.auth is not None and config.auth.bearer_token == "tok"
    assert config.secrets.scrub("tok redis-pw sk-key") == "<redacted> <redacted> <redacted>"


def test_shipped_default_config_is_valid(capsys):
    assert main(["check-config", str(REPO / "exporters/config/exporter.yaml")]) == 0
    assert capsys.readouterr().out.endswith(
        "ok (2 dependencies, 2 critical, listen 127.0.0.1:9410)\n"
    )


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_is_one_exact_line_and_exit_2(path: Path, tmp_path: Path, capsys, monkeypatch):
    expected = re.match(r"# expect: (.*)", path.read_text()).group(1)  # type: ignore[union-attr]
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    monkeypatch.chdir(tmp_path)
    for name in ("PG_PASSWORD", "PW", "TOKEN", "PG_DSN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PW", "x")
    monkeypatch.setenv("TOKEN", "x")
    monkeypatch.setenv("PG_DSN", "postgresql://db/app")
    if path.stem == "secret-twice":
        (tmp_path / "pw").write_text("x")
    code = main(["check-config", path.name])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == f"obsstack check-config: {path.name}: {expected}\n"


def test_unreadable_file_is_a_config_error(tmp_path: Path, capsys):
    assert main(["check-config", str(tmp_path / "absent.yaml")]) == 2
    err = capsys.readouterr().err
    missing = tmp_path / "absent.yaml"
    assert err == f"obsstack check-config: {missing}: cannot read: No such file or directory\n"


def test_serve_rejects_a_bad_listen_override(capsys):
    code = main(
        ["serve", "--config", str(REPO / "exporters/config/exporter.yaml"), "--listen", "localhost"]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        "obsstack serve: --listen: must be HOST:PORT (got 'localhost')\n"
    )
