"""How every obsstack HTTP server is run: its listen address, its limits and its uvicorn settings.

The limits (:class:`ServerLimits`) keep a slow or hostile client from stalling a server; they are
described for users in exporters/CONFIGURATION.md, section "Servers".
"""

from __future__ import annotations

import functools
import logging
import os
import resource
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from obsstack.core.spec import ConfigError, parse_duration

log = logging.getLogger("obsstack.serving")

ENV_PREFIX = "OBSSTACK_SERVER_"  # OBSSTACK_SERVER_MAX_CONNECTIONS, ..._HEADER_TIMEOUT, ...
# Descriptors kept for what a server opens itself (database pools, probes, log files).
RESERVED_DESCRIPTORS = 64


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise ValueError(f"must be a positive whole number (got {text!r})")
    return int(text)


def _positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"must be positive (got {text!r})")
    return seconds


@dataclass(frozen=True)
class ServerLimits:
    """What clients may hold of one server process.

    ``max_connections``: open connections; beyond it the oldest connection waiting for a request
    is closed (or the new one, when every connection has a request in progress).
    ``header_timeout``: seconds for a complete request head, from the connection's start or the
    end of the previous response. ``body_timeout``: seconds from the end of the head to the end
    of the body. ``max_body_size``: bytes of a request body; larger ones get 413 unread.
    """

    max_connections: int = 512
    header_timeout: float = 10.0
    body_timeout: float = 15.0
    max_body_size: int = 64 * 1024

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value <= 0:
                raise ValueError(f"{field.name} must be positive (got {value})")

    def from_environment(self, env: Mapping[str, str]) -> ServerLimits:
        """These limits with the ``OBSSTACK_SERVER_*`` variables of ``env`` applied.

        A malformed value is a ConfigError naming the variable (exit 2).
        """
        parsers: dict[str, Callable[[str], float]] = {
            "max_connections": _positive_int,
            "header_timeout": _positive_duration,
            "body_timeout": _positive_duration,
            "max_body_size": _positive_int,
        }
        changes: dict[str, Any] = {}
        for name, parse in parsers.items():
            variable = ENV_PREFIX + name.upper()
            text = env.get(variable, "").strip()
            if text:
                try:
                    changes[name] = parse(text)
                except ValueError as exc:
                    raise ConfigError(variable, "", str(exc)) from None
        return replace(self, **changes)

    def within_descriptors(self, descriptors: int) -> ServerLimits:
        """These limits with at most as many connections as ``descriptors`` leave room for.

        A connection takes one descriptor; a server also needs some for itself. Staying below
        the process' limit means accept() never fails: the connection limit closes idle
        connections before the descriptors run out.
        """
        room = descriptors - min(RESERVED_DESCRIPTORS, descriptors // 4)
        if room >= self.max_connections:
            return self
        return replace(self, max_connections=max(room, 1))


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


def _descriptor_limit() -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def serve(
    app: Any,
    listen: tuple[str, int],
    limits: ServerLimits | None = None,
    **options: Any,
) -> None:
    """Run ``app`` (an ASGI app or an import string) until SIGTERM or SIGINT.

    ``limits`` (default :class:`ServerLimits`) are overridden by ``OBSSTACK_SERVER_*``
    variables and bounded by the process' descriptor limit (RLIMIT_NOFILE). Logging stays as
    configured by :func:`obsstack.core.logs.configure_logging` (JSON on stderr); no ``Server``
    header; in-flight requests get five seconds on shutdown. ``options`` go to uvicorn.
    """
    import uvicorn

    from obsstack.core.connection_limits import LimitedH11Protocol

    wanted = (limits or ServerLimits()).from_environment(os.environ)
    descriptors = _descriptor_limit()
    limits = wanted if descriptors is None else wanted.within_descriptors(descriptors)
    if limits.max_connections < wanted.max_connections:
        log.warning(
            "connection limit lowered from %d to %d: the process may open %d descriptors "
            "(RLIMIT_NOFILE)",
            wanted.max_connections,
            limits.max_connections,
            descriptors,
        )
    settings: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": 5,
        # One idle deadline for a kept-alive connection, the header timeout, not uvicorn's own
        # 5 s as well: that equals the idle expiry of common clients (httpx's), and a client that
        # reuses a connection as the server closes it gets a reset in place of an answer.
        "timeout_keep_alive": limits.header_timeout,
        # A class bound to the limits: picklable, so worker processes get them too.
        "http": functools.partial(LimitedH11Protocol, limits=limits),
        "loop": "obsstack.core.server_loop:new_event_loop",
        **options,
    }
    uvicorn.run(app, host=listen[0], port=listen[1], **settings)
