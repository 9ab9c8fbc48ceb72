"""`obsstack generate` refuses a mounted file the bundle's containers (other users) cannot read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from obsstack.core.spec import ConfigError
from obsstack.stack.generate import check_readable_by_containers

REPO = Path(__file__).resolve().parents[2]


def test_a_private_mounted_file_is_a_clear_error(tmp_path: Path):
    (tmp_path / "compose/loki").mkdir(parents=True)
    shutil.copy(REPO / "compose/docker-compose.yml", tmp_path / "compose/docker-compose.yml")
    loki = tmp_path / "compose/loki/loki.yaml"
    loki.write_text("auth_enabled: false\n")
    loki.chmod(0o644)
    check_readable_by_containers(tmp_path)
    loki.chmod(0o600)  # what a umask of 077 leaves
    with pytest.raises(ConfigError) as error:
        check_readable_by_containers(tmp_path)
    assert str(error.value) == (
        "compose/loki/loki.yaml: mode 0600: the bundle's containers (users nobody, 10001, 472) "
        "cannot read it; run `chmod -R a+rX compose/loki/loki.yaml` (a umask such as 077 at "
        "checkout makes files private)"
    )
