"""HTTP plumbing shared by the HTTP-based kinds: settings, client, a capped body read and
error classification."""

from __future__ import annotations

import base64
import codecs
import functools
import json
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from obsstack.core import naming
from obsstack.core.spec import Section
from obsstack.probe.model import ProbeFailure


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach an HTTP service. Header values are secrets."""

    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    ca_file: str | None = None
    insecure_skip_verify: bool = False


def read_endpoint(
    section: Section,
    *,
    default_url: str | None = None,
    api_key_header: tuple[str, str] = ("Authorization", "Bearer "),
) -> Endpoint:
    """Read ``url``, ``headers``, ``tls`` and the credentials every HTTP kind accepts.

    Credentials: ``username`` + ``password`` (basic auth), ``api_key`` (sent as
    ``api_key_header``: header name and value prefix) or ``bearer_token``; each secret
    may also be given as ``*_file``.
    """
    url = section.string("url", default_url)
    if url is None:
        raise section.error("url", "is required")
    written = section.data.get("url", url)  # as written: an expanded ${VAR} may be secret
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        valid = False
    if not valid:
        raise section.error("url", f"must be an http:// or https:// URL (got {written!r})")
    if parts.username or parts.password:
        raise section.error("url", "must not carry credentials; use username and password_file")
    headers = dict(section.str_map("headers", {}))
    for value in headers.values():
        section.secrets.add(value)
    username = section.string("username", None)
    password = section.secret("password")
    if (username is None) != (password is None):
        raise section.error("username", "username and password go together")
    if username is not None and password is not None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {section.secrets.add(token)}"
    api_key = section.secret("api_key")
    if api_key is not None:
        header, prefix = api_key_header
        headers[header] = prefix + api_key
    bearer = section.secret("bearer_token")
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    tls = section.section("tls", optional=True)
    ca_file = tls.string("ca_file", None)
    if ca_file is not None:
        ca_file = str(section.base_dir / ca_file)
    insecure = tls.boolean("insecure_skip_verify", False)
    tls.close()
    return Endpoint(url.rstrip("/"), headers, ca_file, insecure)


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The context trusting ``ca_file`` (the system's CAs when None), loaded again when the
    file changes (a rotated CA bundle)."""
    if ca_file is None:
        return _loaded_context(None, None)
    try:
        info = os.stat(ca_file)
    except OSError:
        return _loaded_context(ca_file, None)  # fails as loading it does, with its own error
    return _loaded_context(ca_file, (info.st_ino, info.st_size, info.st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _loaded_context(ca_file: str | None, version: tuple[int, int, int] | None) -> ssl.SSLContext:
    # Loading a CA bundle costs ~20 ms of CPU on the event loop: once per bundle version.
    return ssl.create_default_context(cafile=ca_file)


# The most of an answer's body a probe reads; the rest is never received (the connection is
# closed), so a huge or endless body costs at most this much memory.
MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class Answer:
    """An HTTP response with at most MAX_BODY_BYTES of its body."""

    status_code: int
    headers: httpx.Headers
    path: str  # of the request, for messages (never the query string: it may hold a key)
    body: bytes
    complete: bool  # False when the body was longer than MAX_BODY_BYTES and was cut there
    encoding: str = "utf-8"
    tls_expiry: float | None = None  # notAfter of the verified server certificate (Unix time)

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding, errors="replace")


@asynccontextmanager
async def client(endpoint: Endpoint, budget: float) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for one probe: no redirects, no proxies from the environment, bodies
    asked for uncompressed (only raw bytes are read, so their size is the memory they take)."""
    verify = False if endpoint.insecure_skip_verify else _tls_context(endpoint.ca_file)
    async with httpx.AsyncClient(
        headers={
            "User-Agent": "obsstack-probe",
            "Accept-Encoding": "identity",
            **endpoint.headers,
        },
        timeout=httpx.Timeout(budget),
        verify=verify,
        follow_redirects=False,
        trust_env=False,
    ) as http:
        yield http


def _certificate_expiry(response: httpx.Response) -> float | None:
    """notAfter of the verified peer certificate, as Unix time (None over plain HTTP)."""
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    certificate = ssl_object.getpeercert()
    if not certificate or "notAfter" not in certificate:
        return None  # not verified (insecure_skip_verify): the fields are not decoded
    return float(ssl.cert_time_to_seconds(str(certificate["notAfter"])))


def _encoding(response: httpx.Response) -> str:
    name = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        return "utf-8"
    return name


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    """Up to MAX_BODY_BYTES of the body, and whether that was all of it."""
    chunks, size = [], 0
    async for chunk in response.aiter_raw():
        room = MAX_BODY_BYTES - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), True


async def fetch(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Answer:
    """Send one request and read at most MAX_BODY_BYTES of the answer; transport errors become
    ProbeFailure, 401/403 an auth failure."""
    try:
        async with http.stream(method, url, **kwargs) as response:
            body, complete = await _read_capped(response)
            answer = Answer(
                status_code=response.status_code,
                headers=response.headers,
                path=response.request.url.path,
                body=body,
                complete=complete,
                encoding=_encoding(response),
                tls_expiry=_certificate_expiry(response),
            )
    except httpx.TimeoutException as exc:
        raise ProbeFailure(naming.REASON_TIMEOUT, f"timed out: {type(exc).__name__}") from None
    except httpx.ConnectError as exc:
        if isinstance(exc.__cause__, ssl.SSLError) or "SSL" in str(exc):
            raise ProbeFailure(naming.REASON_PROTOCOL, f"TLS handshake failed: {exc}") from None
        raise ProbeFailure(
            naming.REASON_REFUSED, f"cannot connect: {exc}", transient=True
        ) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise ProbeFailure(
            naming.REASON_PROTOCOL, f"connection broken: {type(exc).__name__}", transient=True
        ) from None
    if answer.status_code in (401, 403):
        raise ProbeFailure(naming.REASON_AUTH, f"HTTP {answer.status_code} from {answer.path}")
    return answer


def json_body(answer: Answer) -> Any:
    """The answer's JSON document; anything else (or a cut body) is a protocol failure."""
    if not answer.complete:
        raise ProbeFailure(
            naming.REASON_PROTOCOL,
            f"answer from {answer.path} is larger than {MAX_BODY_BYTES // 1024} KiB",
        )
    encoding = answer.headers.get("content-encoding", "identity")
    if encoding.lower() != "identity":
        raise ProbeFailure(
            naming.REASON_PROTOCOL,
            f"answer from {answer.path} is compressed ({encoding}) although identity was asked",
        )
    try:
        return json.loads(answer.body)
    except ValueError:
        raise ProbeFailure(
            naming.REASON_PROTOCOL,
            f"expected JSON from {answer.path}, "
            f"got {answer.headers.get('content-type', 'no content type')}",
        ) from None


def expect_status(answer: Answer, *codes: int) -> None:
    if answer.status_code not in codes:
        raise ProbeFailure(naming.REASON_UNHEALTHY, f"HTTP {answer.status_code} from {answer.path}")


def field_of(document: Any, *path: str, kind: type = object) -> Any:
    """``document[path...]`` checked against ``kind``; missing or mistyped is a protocol failure."""
    value = document
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise ProbeFailure(naming.REASON_PROTOCOL, f"response has no {'.'.join(path)}")
        value = value[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProbeFailure(
            naming.REASON_PROTOCOL, f"response field {'.'.join(path)} is not {kind.__name__}"
        )
    return value
