"""One ``server:`` section: the probe exporter's and the KPI exporter's configuration files read
it with the same code, so the same section gets the same result or the same one-line error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsstack.core.server_config import Auth
from obsstack.core.spec import ConfigError
from obsstack.kpis.config import SHIPPED as KPI_CONFIG
from obsstack.kpis.config import load_config as load_kpis
from obsstack.probe.config import load_config as load_exporter

EXPORTER = {"dependencies": [{"name": "web", "kind": "http", "url": "http://127.0.0.1:9"}]}
KPIS = {k: v for k, v in yaml.safe_load(KPI_CONFIG.read_text()).items() if k != "server"}
READERS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "exporter": (load_exporter, EXPORTER),
    "kpis": (load_kpis, KPIS),
}


def load(tmp_path: Path, reader: str, server: dict[str, Any]) -> Any:
    read, rest = READERS[reader]
    path = tmp_path / f"{reader}.yaml"
    path.write_text(yaml.safe_dump({"version": "obsstack/v1", "server": server, **rest}))
    return read(path, env={"KPI_DB_PASSWORD": "x"})


@pytest.mark.parametrize("reader", READERS)
def test_the_same_section_reads_the_same(tmp_path: Path, reader: str):
    (tmp_path / "token").write_text("scrape-token\n")
    config = load(
        tmp_path,
        reader,
        {
            "listen": "127.0.0.1:19999",
            "log_level": "warning",
            "log_levels": {"obsstack.probe": "debug"},
            "auth": {"bearer_token_file": "token"},
        },
    )
    assert (config.listen, config.log_level) == ("127.0.0.1:19999", "warning")
    assert config.log_levels == {"obsstack.probe": "debug"}
    assert config.auth == Auth(bearer_token="scrape-token")


@pytest.mark.parametrize(
    ("server", "error"),
    [
        ({"listen": "nowhere"}, "server.listen: "),
        ({"log_level": "loud"}, "server.log_level: must be one of debug, info, warning, error"),
        ({"log_levels": {"httpx": "loud"}}, "server.log_levels.httpx: must be one of debug"),
        ({"auth": {}}, "server.auth: needs bearer_token_file or basic"),
        (
            {
                "auth": {
                    "bearer_token": "tok-123456",
                    "basic": {"username": "u", "password": "pw-123456"},
                }
            },
            "server.auth.basic: set either bearer_token or basic, not both",
        ),
        ({"colour": "blue"}, "server.colour: unknown key"),
    ],
)
def test_the_same_mistake_is_the_same_error(tmp_path: Path, server: dict[str, Any], error: str):
    messages = []
    for reader in READERS:
        with pytest.raises(ConfigError) as raised:
            load(tmp_path, reader, server)
        messages.append(str(raised.value).split(": ", 1)[1])
        assert error in str(raised.value)
    assert messages[0] == messages[1]
