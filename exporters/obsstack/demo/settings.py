"""Settings of the demo platform, read from ``OBSSTACK_DEMO_*`` variables (set by the CLI too).

Environment variables carry them to every uvicorn worker, and to the compose service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from urllib.parse import quote, urlsplit, urlunsplit

from obsstack.core.spec import ConfigError, parse_duration
from obsstack.demo.schema import DEFAULT_SCHEMA, SCHEMA_NAME

PREFIX = "OBSSTACK_DEMO_"
# The demo's HTTP clients close a connection idle this long instead of reusing it: well within
# any server's keep-alive (uvicorn's 5 s, gunicorn's 2 s), so that no request goes out on a
# connection the server is closing at that moment (a reset, counted as a failure).
IDLE_CONNECTION_SECONDS = 1.0


@dataclass(frozen=True)
class DemoSettings:
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Put into the URLs above, URL-escaped: a password with "/", "@" or ":" works as written.
    postgres_password: str = ""
    redis_password: str = ""
    schema: str = DEFAULT_SCHEMA
    redis_prefix: str = "obsstack_demo:"
    service_name: str = "saas-api"
    model_url: str = ""  # the stand-in for the external AI API; "" = this service itself
    time_scale: float = 1.0  # multiplies every simulated latency (tests run at 0.01)
    backup_interval: float = 120.0
    sync_interval: float = 30.0
    log_level: str = "info"

    def environment(self) -> dict[str, str]:
        """These settings as ``OBSSTACK_DEMO_*`` variables."""
        return {PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> DemoSettings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            if name not in env:
                continue
            raw = env[name]
            if f.name in ("backup_interval", "sync_interval"):
                try:
                    values[f.name] = float(raw) if _is_number(raw) else parse_duration(raw)
                except ValueError:
                    raise ConfigError(name, "", f"invalid duration {raw!r}") from None
            elif f.name == "time_scale":
                if not _is_number(raw) or float(raw) <= 0:
                    raise ConfigError(name, "", f"must be a positive number (got {raw!r})")
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.postgres_password or settings.redis_password:
            settings = replace(
                settings,
                postgres_dsn=with_password(settings.postgres_dsn, settings.postgres_password),
                redis_url=with_password(settings.redis_url, settings.redis_password),
            )
        if not SCHEMA_NAME.match(settings.schema):
            raise ConfigError(
                PREFIX + "SCHEMA", "", f"must match {SCHEMA_NAME.pattern} (got {settings.schema!r})"
            )
        return settings


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (URL-escaped) as its userinfo password; unchanged if empty."""
    if not password:
        return url
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0].partition(":")[0] if "@" in parts.netloc else ""
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
