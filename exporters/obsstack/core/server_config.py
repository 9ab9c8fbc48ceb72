"""The ``server:`` section every obsstack server's configuration file has: where it listens,
how much it logs, and the credentials its endpoints require."""

from __future__ import annotations

from dataclasses import dataclass

from obsstack.core.serving import parse_listen
from obsstack.core.spec import Section

LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Auth:
    """Credentials every endpoint but /health requires: a bearer token or basic auth."""

    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class ServerSettings:
    listen: str
    log_level: str
    log_levels: dict[str, str]  # logger name -> level
    auth: Auth | None


def read_server(server: Section, default_listen: str) -> ServerSettings:
    """``listen``, ``log_level``, ``log_levels`` and ``auth`` of a ``server:`` section; the
    caller reads its own keys, then closes the section."""
    listen = server.string("listen", default_listen)
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise server.error("listen", str(exc)) from None
    log_level = server.string("log_level", "info", choices=LOG_LEVELS)
    log_levels = server.str_map("log_levels", {})
    for logger, level in log_levels.items():
        if level not in LOG_LEVELS:
            raise server.error(
                f"log_levels.{logger}", f"must be one of {', '.join(LOG_LEVELS)} (got {level!r})"
            )
    return ServerSettings(listen, log_level, log_levels, _auth(server))


def _auth(server: Section) -> Auth | None:
    if not server.has("auth"):
        server.raw("auth", None)
        return None
    section = server.section("auth")
    token = section.secret("bearer_token")
    has_basic = section.has("basic")
    basic = section.section("basic", optional=True)
    section.close()
    if has_basic:
        if token is not None:
            raise section.error("basic", "set either bearer_token or basic, not both")
        auth = Auth(
            username=basic.string("username"), password=basic.secret("password", required=True)
        )
        basic.close()
        return auth
    if token is None:
        raise section.error(None, "needs bearer_token_file or basic")
    return Auth(bearer_token=token)
