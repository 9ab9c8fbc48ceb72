"""How every obsstack HTTP server is run: its listen address and its uvicorn settings."""

from __future__ import annotations

from typing import Any

from exporters.spec import ConfigError


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 hosts in brackets) -> (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be HOST:PORT (got {text!r})")
    return host.strip("[]"), int(port)


def listen_address(text: str, option: str = "--listen") -> tuple[str, int]:
    """A command-line listen address; malformed is a ConfigError naming the option (exit 2)."""
    try:
        return parse_listen(text)
    except ValueError as exc:
        raise ConfigError(option, "", str(exc)) from None


def serve(app: Any, listen: tuple[str, int], **options: Any) -> None:
    """Run ``app`` (an ASGI app or an import string) until SIGTERM or SIGINT.

    Logging stays as configured by :func:`exporters.logs.configure_logging` (JSON on stderr);
    no ``Server`` header; in-flight requests get five seconds on shutdown.
    """
    import uvicorn

    settings: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": 5,
        **options,
    }
    uvicorn.run(app, host=listen[0], port=listen[1], **settings)
