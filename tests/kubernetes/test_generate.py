"""``obsstack generate`` writes kubernetes/generated deterministically and ``--check`` catches
a hand edit; a broken kubernetes/exporter.yaml is one line naming the file and key, exit 2,
nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

from obsstack.cli import main
from obsstack.core.artifacts import GenerateContext
from obsstack.kubernetes import generate
from tests.support.paths import ROOT

OUTPUT = ROOT / generate.OUTPUT


def test_regeneration_is_byte_identical_to_the_committed_files(tmp_path):
    assert main(["generate", "--output-dir", str(tmp_path)]) == 0
    fresh = sorted(p.name for p in (tmp_path / generate.OUTPUT).iterdir())
    assert fresh == sorted(p.name for p in OUTPUT.iterdir())
    for name in fresh:
        assert (tmp_path / generate.OUTPUT / name).read_bytes() == (OUTPUT / name).read_bytes()


def test_output_is_deterministic():
    context = GenerateContext(ROOT)
    assert generate.generate(context) == generate.generate(context)


def test_check_reports_a_hand_edited_object(tmp_path, capsys):
    assert main(["generate", "--output-dir", str(tmp_path)]) == 0
    edited = tmp_path / generate.OUTPUT / "monitors.yaml"
    edited.write_text(edited.read_text().replace("interval: 15s", "interval: 1m", 1))
    capsys.readouterr()
    assert main(["generate", "--check", "--output-dir", str(tmp_path)]) == 1
    assert f"{generate.OUTPUT}/monitors.yaml: differs" in capsys.readouterr().out


def _root_copy(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for part in ("alerts/slos.yaml", "compose/alerting.yaml", "compose/docker-compose.yml"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / part, root / part)
    shutil.copytree(ROOT / "compose" / "exporter", root / "compose" / "exporter")
    (root / "kubernetes").mkdir()
    return root


def test_a_bad_exporter_config_is_one_line_and_nothing_is_written(tmp_path, capsys):
    root = _root_copy(tmp_path)
    text = (ROOT / generate.EXPORTER_CONFIG).read_text().replace("kind: redis", "kind: redys")
    (root / generate.EXPORTER_CONFIG).write_text(text)
    out = tmp_path / "out"
    assert main(["generate", "--root", str(root), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "kubernetes/exporter.yaml: dependencies[1].kind" in err
    assert not out.exists()


def test_a_missing_exporter_config_is_one_line_and_nothing_is_written(tmp_path, capsys):
    root = _root_copy(tmp_path)
    out = tmp_path / "out"
    assert main(["generate", "--root", str(root), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    missing = root / generate.EXPORTER_CONFIG
    assert err == f"obsstack generate: {missing}: cannot read: No such file or directory\n"
    assert not out.exists()
