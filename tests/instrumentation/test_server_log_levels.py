"""A level named for uvicorn's loggers holds when the application object is given to
``uvicorn.run(app, log_level=...)``, which sets those loggers to its own level after the
application configured logging. A real uvicorn server in a child process, asked over HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Process, free_port, http_ok, running, wait_until

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import uvicorn
from fastapi import FastAPI
from obsstack.core.logs import configure_logging
from obsstack.instrumentation import instrument_app

configure_logging("INFO")
app = FastAPI()

@app.get("/ping")
def ping():
    return {"status": "ok"}

instrument_app(app, "levels", tracing=False, log_export=False)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info", log_config=None)
"""


@pytest.mark.parametrize(
    ("levels", "access_lines"),
    [("uvicorn.access=warning", 0), ("", 1)],
    ids=["access-off", "uvicorn-level"],
)
def test_a_level_named_for_uvicorns_loggers_holds_against_its_log_level(
    tmp_path, levels, access_lines
):
    port = free_port()
    server = Process(
        [sys.executable, "-c", SCRIPT, str(port)],
        tmp_path / "server.log",
        env={"OBSSTACK_LOG_LEVELS": levels},
        cwd=ROOT,
    )
    with running(server):
        wait_until(http_ok(f"http://127.0.0.1:{port}/ping"), 30, "the server to answer")
        assert httpx.get(f"http://127.0.0.1:{port}/ping?again=1").status_code == 200
        if access_lines:
            wait_until(lambda: "again=1" in server.output(), 5, "the second access line")
    output = server.output()
    assert "Application startup complete" in output  # uvicorn.error keeps uvicorn's info
    assert output.count('"logger": "uvicorn.access"') == access_lines * 2
