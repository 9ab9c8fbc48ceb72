"""Server limits: their defaults, the OBSSTACK_SERVER_* variables, the descriptor bound, and the
log lines that stay few however often an event repeats. Real servers: test_serving_clients.py."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

import pytest

from obsstack.core.server_loop import AcceptErrorLog, BoundedLog, WarningRateLimit
from obsstack.core.serving import ServerLimits
from obsstack.core.spec import ConfigError


def test_the_defaults_suit_an_exporter():
    assert ServerLimits() == ServerLimits(
        max_connections=512, header_timeout=10.0, body_timeout=15.0, max_body_size=65536
    )


def test_variables_override_the_limits_a_command_chose():
    inbox = ServerLimits(max_body_size=1024 * 1024)
    env = {
        "OBSSTACK_SERVER_MAX_CONNECTIONS": "2000",
        "OBSSTACK_SERVER_HEADER_TIMEOUT": "2s",
        "OBSSTACK_SERVER_BODY_TIMEOUT": "1m30s",
        "OBSSTACK_SERVER_UNRELATED": "x",
    }
    assert inbox.from_environment(env) == ServerLimits(
        max_connections=2000, header_timeout=2.0, body_timeout=90.0, max_body_size=1024 * 1024
    )
    assert inbox.from_environment({"OBSSTACK_SERVER_MAX_BODY_SIZE": " 4096 "}) == ServerLimits(
        max_body_size=4096
    )
    assert inbox.from_environment({"OBSSTACK_SERVER_MAX_CONNECTIONS": ""}) == inbox


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "OBSSTACK_SERVER_MAX_CONNECTIONS",
            "0",
            "OBSSTACK_SERVER_MAX_CONNECTIONS: must be a positive whole number (got '0')",
        ),
        (
            "OBSSTACK_SERVER_MAX_BODY_SIZE",
            "1MiB",
            "OBSSTACK_SERVER_MAX_BODY_SIZE: must be a positive whole number (got '1MiB')",
        ),
        (
            "OBSSTACK_SERVER_HEADER_TIMEOUT",
            "10",
            "OBSSTACK_SERVER_HEADER_TIMEOUT: invalid duration '10'",
        ),
        (
            "OBSSTACK_SERVER_BODY_TIMEOUT",
            "0s",
            "OBSSTACK_SERVER_BODY_TIMEOUT: must be positive (got '0s')",
        ),
    ],
)
def test_a_malformed_variable_is_an_error_naming_it(variable, value, message):
    with pytest.raises(ConfigError) as error:
        ServerLimits().from_environment({variable: value})
    assert str(error.value) == message


def test_a_limit_must_be_positive():
    with pytest.raises(ValueError, match=r"^header_timeout must be positive \(got 0\)$"):
        ServerLimits(header_timeout=0)


@pytest.mark.parametrize(
    ("descriptors", "connections"),
    [(1024, 512), (256, 192), (100, 75), (2, 2), (1, 1)],
)
def test_connections_stay_within_the_descriptors_of_the_process(descriptors, connections):
    assert ServerLimits().within_descriptors(descriptors).max_connections == connections


async def test_a_repeated_event_is_one_line_then_a_count_per_interval(caplog):
    caplog.set_level(logging.INFO, "tests.serving")
    bounded = BoundedLog(logging.getLogger("tests.serving"), logging.INFO, "closed %s", 0.1)
    for n in range(50):
        bounded(n)
    assert [r.getMessage() for r in caplog.records] == ["closed 0"]
    await asyncio.sleep(0.15)
    for n in range(50, 60):
        bounded(n)  # within the interval the summary opened
    await asyncio.sleep(0.3)
    assert [r.getMessage() for r in caplog.records] == [
        "closed 0",
        "closed 49 (and 49 more in the last 0.1s)",
        "closed 59 (and 10 more in the last 0.1s)",
    ]
    assert [getattr(r, "suppressed", None) for r in caplog.records] == [None, 49, 10]
    bounded(60)  # a quiet interval has passed: at once again
    assert caplog.records[-1].getMessage() == "closed 60"


async def test_uvicorn_warnings_about_bad_requests_are_bounded(caplog):
    caplog.set_level(logging.INFO, "tests.uvicorn")
    logger = logging.getLogger("tests.uvicorn")
    rate_limit = WarningRateLimit()
    logger.addFilter(rate_limit)
    try:
        for _ in range(1000):
            logger.warning("Invalid HTTP request received.")
            logger.warning("Unsupported upgrade request.")
            logger.info("Started server process [%d]", 1)
    finally:
        logger.removeFilter(rate_limit)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "Invalid HTTP request received.",
        "Unsupported upgrade request.",
    ]
    assert sum(r.levelno == logging.INFO for r in caplog.records) == 1000


async def test_failed_accepts_are_one_line_per_interval_other_errors_go_on(caplog):
    loop = asyncio.get_running_loop()
    handler = AcceptErrorLog()
    with socket.socket() as listening:
        for _ in range(500):
            handler(
                loop,
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(errno.EMFILE, "Too many open files"),
                    "socket": listening,
                },
            )
    handler(loop, {"message": "Task exception was never retrieved"})
    lines = [(r.name, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2
    assert lines[0][0] == "obsstack.serving"
    assert lines[0][1].startswith("cannot accept connections: Too many open files (RLIMIT_NOFILE ")
    assert lines[0][1].endswith("); retrying every second")
    assert lines[1] == ("asyncio", "Task exception was never retrieved")
