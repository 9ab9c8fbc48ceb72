"""Generic HTTP(S) check: method, expected status codes, optional body match, headers from
secrets, TLS certificate expiry and rate-limit headers. Presets fill in the defaults for
OpenAI (``GET /v1/models``) and Supabase (``GET /auth/v1/health``)."""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass

from obsstack.core import naming
from obsstack.core.spec import Section
from obsstack.probe.kinds import web
from obsstack.probe.model import Kept, ProbeFailure, Report

NAME = "http"
METHODS = ("GET", "HEAD", "POST", "OPTIONS")


@dataclass(frozen=True)
class Preset:
    default_url: str | None
    path: str
    api_key_header: tuple[str, str]


PRESETS = {
    "openai": Preset("https://api.openai.com", "/v1/models", ("Authorization", "Bearer ")),
    "supabase": Preset(None, "/auth/v1/health", ("apikey", "")),
}

RATE_LIMIT_HEADERS = {
    "x-ratelimit-remaining-requests": naming.DEPENDENCY_HTTP_RATELIMIT_REMAINING_REQUESTS,
    "x-ratelimit-remaining-tokens": naming.DEPENDENCY_HTTP_RATELIMIT_REMAINING_TOKENS,
    "x-ratelimit-limit-requests": naming.DEPENDENCY_HTTP_RATELIMIT_LIMIT_REQUESTS,
    "x-ratelimit-limit-tokens": naming.DEPENDENCY_HTTP_RATELIMIT_LIMIT_TOKENS,
}


@dataclass(frozen=True)
class Settings:
    endpoint: web.Endpoint
    method: str
    path: str
    expected_status: tuple[int, ...]
    body_match: re.Pattern[str] | None


def read_settings(section: Section) -> Settings:
    preset_name = section.string("preset", None, choices=tuple(PRESETS))
    preset = PRESETS.get(preset_name or "", Preset(None, "", ("Authorization", "Bearer ")))
    endpoint = web.read_endpoint(
        section, default_url=preset.default_url, api_key_header=preset.api_key_header
    )
    if preset_name and not any(
        header.lower() == preset.api_key_header[0].lower() for header in endpoint.headers
    ):
        raise section.error("api_key", f"is required by the {preset_name} preset (or api_key_file)")
    expected = section.raw("expected_status", [200])
    if (
        not isinstance(expected, list)
        or not expected
        or not all(
            isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599
            for code in expected
        )
    ):
        raise section.error("expected_status", "must be a list of HTTP status codes (100-599)")
    pattern = section.string("body_match", None)
    try:
        body_match = re.compile(pattern) if pattern else None
    except re.error as exc:
        raise section.error("body_match", f"invalid regular expression: {exc}") from None
    path = section.string("path", None)
    return Settings(
        endpoint=endpoint,
        method=section.string("method", "GET", choices=METHODS),
        path=path or preset.path,
        expected_status=tuple(expected),
        body_match=body_match,
    )


async def probe(settings: Settings, budget: float, report: Report, kept: Kept) -> None:
    url = settings.endpoint.url + settings.path
    async with web.client(settings.endpoint, budget) as http:
        response = await web.fetch(http, settings.method, url)
    report.set(naming.DEPENDENCY_HTTP_STATUS_CODE, response.status_code)
    if response.tls_expiry is not None:
        report.set(naming.DEPENDENCY_HTTP_TLS_EXPIRY, response.tls_expiry)
    for header, spec in RATE_LIMIT_HEADERS.items():
        value = response.headers.get(header)
        if value is not None:
            # A malformed header is not worth failing the dependency over.
            with contextlib.suppress(ValueError):
                number = float(value)
                if math.isfinite(number):
                    report.set(spec, number)
    if response.status_code not in settings.expected_status:
        raise ProbeFailure(
            naming.REASON_UNHEALTHY,
            f"HTTP {response.status_code} from {settings.path or '/'}, "
            f"expected {', '.join(map(str, settings.expected_status))}",
        )
    # body_match reads the first MAX_BODY_BYTES of the body: a probe never holds more.
    if settings.body_match is not None and not settings.body_match.search(response.text):
        raise ProbeFailure(naming.REASON_UNHEALTHY, "response body does not match body_match")
