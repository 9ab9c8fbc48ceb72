"""Credentials echoed back altered, and text sent by dependencies, never reach an output.

Dependencies (and proxies in front of them) copy what they received into their errors, rarely
verbatim: truncated, upper-cased, URL-encoded, as the base64 ``Authorization`` header they got
(``user:secret``), as a hex dump. Their error texts can be any length and hold control
characters. The doubles below echo every credential they receive in all those forms, inside
long error texts: a PostgreSQL server (v3 protocol: refused password, refused session, failed
query), a Redis server (RESP: WRONGPASS to HELLO, an error reply to PING), and HTTP APIs
(Neo4j error codes, an Elasticsearch status, a Qdrant answer that is not JSON, error bodies and
headers of OpenAI, Supabase and plain HTTP checks).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import httpx
import pytest
import yaml

from obsstack.core.redaction import clean_text
from obsstack.core.spec import Secrets
from obsstack.probe.engine import MAX_DETAIL_CHARS
from tests.support.doubles import HttpDouble, Reply, Request
from tests.support.processes import OBSSTACK, Process, free_port, http_ok, wait_until
from tests.support.wire_doubles import HELLO_REPLY, PostgresDouble, RespDouble, resp_error

HEAD = "S3ntinel"  # every sentinel starts so: any 8 characters of one in any output is a leak
UNUSUAL = "p@ss/w%rd+&=\"'\\<x>#?;~ !$(*)"  # characters that URL, JSON, HTML and YAML escape
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def sentinel(field: str, *, header: bool = False) -> str:
    """A secret for ``field``: headers carry ASCII only, passwords carry any character."""
    return f"{HEAD}-{field}:{UNUSUAL}{'' if header else 'é€ü'}-end"


def altered(secret: str, user: str) -> dict[str, str]:
    """The forms in which a dependency, a proxy or a driver may echo ``secret``."""
    data = secret.encode()
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {
        "verbatim": secret,
        "upper": secret.upper(),
        "lower": secret.lower(),
        "first 8": secret[:8],
        "first half": secret[: len(secret) // 2],
        "url-encoded": quote(secret, safe=""),
        "url-encoded, upper": quote(secret, safe="").upper(),
        "form-encoded": quote_plus(secret),
        "base64": base64.b64encode(data).decode(),
        "base64, truncated": base64.b64encode(data).decode()[:12],
        "base64url": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "base64 of user:secret": basic,
        "base64 of user:secret, truncated": basic[: len(basic) * 2 // 3],
        "Basic header": f"Authorization: Basic {basic}",
        "hex": data.hex(),
        "hex, upper": data.hex().upper(),
        "user prefix": f"{user}:{secret}",
        "json": json.dumps(secret),
        "bytes repr": repr(data),
    }


def reveals(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets of which 8 leading characters can be read in ``text``: as they are, in any
    case, or after URL, HTML, base64 or hex decoding of any part of it."""
    views = [text, unquote(text), unquote_plus(text), html.unescape(text)]
    for token in re.findall(r"[A-Za-z0-9+/_-]{8,}", text):
        for skip in range(4):
            part = token[skip:]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(ValueError, binascii.Error):
                    views.append(decode(part + "=" * (-len(part) % 4)).decode(errors="replace"))
    for token in re.findall(r"[0-9a-fA-F]{16,}", text):
        for skip in (0, 1):
            part = token[skip:]
            views.append(bytes.fromhex(part[: len(part) // 2 * 2]).decode(errors="replace"))
    lowered = [view.lower() for view in views]
    return [s for s in secrets if any(s[:8].lower() in view for view in lowered)]


def leaked_forms(text: str, secrets: Iterable[str]) -> list[str]:
    """Every altered form (of 8 characters or more) of ``secrets`` that ``text`` contains."""
    lowered = text.lower()
    return [
        f"{secret[:20]}...: {name}"
        for secret in secrets
        for name, form in altered(secret, "user").items()
        if len(form) >= 8 and "user" not in name and "Basic" not in name and form.lower() in lowered
    ]


# -- Secrets.scrub and clean_text -----------------------------------------------------------
SECRET = sentinel("unit")


@pytest.mark.parametrize(("name", "form"), list(altered(SECRET, "neo4j").items()))
def test_scrub_hides_every_altered_form(name: str, form: str) -> None:
    secrets = Secrets()
    secrets.add(SECRET)
    scrubbed = secrets.scrub(f"upstream said: {form} (code 42)")
    assert reveals(scrubbed, [SECRET]) == [], (name, scrubbed)
    assert scrubbed.startswith("upstream said: ") and scrubbed.endswith(" (code 42)")
    assert "<redacted>" in scrubbed


@pytest.mark.parametrize(
    ("secret", "text", "expected"),
    [
        # a leading fragment counts from 8 characters, or half of a secret shorter than 16
        ("abcdefghijklmnopqrstuvwxyz", "key abcdefgh...", "key <redacted>..."),
        ("abcdefghijklmnopqrstuvwxyz", "key abcdefg...", "key abcdefg..."),
        ("abcdefghij", "key abcdef!", "key <redacted>!"),
        ("abcdefghij", "key abcde!", "key abcde!"),
        # short secrets count whole, or from 6 characters: shorter fragments match everywhere
        ("tok", "a tok, a to", "a <redacted>, a to"),
        ("hunter", "HUNTER hunte", "<redacted> hunte"),
        ("hunter2", "HUNTER2 hunter hunte", "<redacted> <redacted> hunte"),
        # the text around a secret is kept
        ("s3cret-value!", "pw=S3CRET-VALUE!&x=1", "pw=<redacted>&x=1"),
        ("s3cret-value!", "s3cret-value!s3cret-value!", "<redacted><redacted>"),
    ],
)
def test_scrub_fragments_and_short_secrets(secret: str, text: str, expected: str) -> None:
    secrets = Secrets()
    secrets.add(secret)
    assert secrets.scrub(text) == expected


def test_scrub_finds_a_secret_after_any_prefix_in_base64() -> None:
    secrets = Secrets()
    secrets.add(SECRET)
    for user in ("", "a", "ab", "abc", "neo4j", "elastic", "postgres"):
        token = base64.b64encode(f"{user}:{SECRET}".encode()).decode()
        assert reveals(secrets.scrub(f"Basic {token}"), [SECRET]) == [], user


def test_clean_text_strips_control_characters_and_cuts_after_scrubbing() -> None:
    secrets = Secrets()
    secrets.add(SECRET)
    raw = f"line one\r\n\x1b[31mfake\u2028 log\x00line {SECRET.upper()}" + "x" * 10_000 + SECRET
    cleaned = clean_text(raw, secrets.scrub, 256)
    assert len(cleaned) == 256 and cleaned.endswith("...")
    assert not CONTROL.search(cleaned)
    assert cleaned.startswith("line one [31mfake  log line <redacted>xxx")
    assert reveals(cleaned, [SECRET]) == []


def test_clean_text_keeps_short_text_as_it_is() -> None:
    assert clean_text("HTTP 503 from /readyz", Secrets().scrub, 256) == "HTTP 503 from /readyz"


# -- End to end: every secret field of every kind, against doubles that echo them -----------
FILLER = "lorem ipsum " * 2000  # error texts far longer than any output keeps
NASTY = '\x1b[2J\r\n{"level": "INFO", "message": "forged"}\u2028\x00'


def echo_text(forms: list[str]) -> str:
    """A long error text: the forms at its start, in its middle and at its very end."""
    listed = " | ".join(forms)
    return f"{NASTY} refused {listed} {NASTY}{FILLER}{listed}{FILLER}{listed}"


def credentials(request: Request) -> list[tuple[str, str]]:
    """(user, secret) pairs an HTTP request carried."""
    found = []
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme == "Basic":
        user, _, password = base64.b64decode(value).decode().partition(":")
        found.append((user, password))
    elif value:
        found.append((scheme.lower(), value))
    for name in ("api-key", "apikey", "x-token"):
        if name in request.headers:
            found.append((name, request.headers[name]))
    return found


class EchoingApi:
    """HTTP APIs that echo every credential they receive, in every form, wherever they can."""

    def __init__(self) -> None:
        self.received: set[str] = set()
        self.double = HttpDouble({}, fallback=self.answer)
        self.url = self.double.url

    def answer(self, request: Request) -> Reply:
        forms: list[str] = []
        for user, secret in credentials(request):
            self.received.add(secret)
            forms += altered(secret, user).values()
        text = echo_text(forms)
        # Header values: Latin-1 without line breaks, a few kilobytes at most.
        header = " ".join(f for f in forms if f.isascii() and f.isprintable())[:6000]
        headers = {"x-upstream-debug": header}
        if request.path.endswith("/tx/commit"):  # Neo4j: the error code is copied into messages
            return Reply(200, {"results": [], "errors": [{"code": text, "message": text}]}, headers)
        if request.path == "/_cluster/health":  # Elasticsearch: an unknown status is quoted
            return Reply(200, {"status": text, "number_of_nodes": 1, "unassigned_shards": 0})
        if request.path == "/healthz" or (
            request.path == "/readyz" and "api-key" in request.headers
        ):
            return Reply(200, "ok", headers)
        if request.path == "/collections":  # Qdrant: not JSON, its content type is quoted
            return Reply(200, text, {"content-type": header})
        return Reply(500, text, headers)

    def close(self) -> None:
        self.double.close()


@pytest.fixture
def api() -> Iterator[EchoingApi]:
    double = EchoingApi()
    yield double
    double.close()


def pg_echo(user: str, password: str) -> str:
    # A PostgreSQL message cannot carry NUL: it ends the field.
    return echo_text(list(altered(password, user).values())).replace("\0", " ")


@pytest.fixture
def postgres_doubles() -> Iterator[dict[str, PostgresDouble]]:
    doubles = {mode: PostgresDouble(mode, pg_echo) for mode in PostgresDouble.MODES}
    yield doubles
    for double in doubles.values():
        double.close()


def redis_reply(fail_at: str) -> Any:
    """Replies that fail at ``HELLO`` (WRONGPASS) or at ``PING``, echoing the password."""
    password = ""

    def reply(words: list[str]) -> bytes:
        nonlocal password
        command = words[0].upper()
        if command == "HELLO":  # HELLO 3 AUTH user password
            password = words[-1]
            if fail_at == "hello":
                return resp_error(
                    "WRONGPASS " + echo_text(list(altered(password, words[-2]).values()))
                )
            return HELLO_REPLY
        if command == "PING":
            return resp_error("ERR " + echo_text(list(altered(password, "default").values())))
        return b"+OK\r\n"

    return reply


@pytest.fixture
def redis_doubles() -> Iterator[dict[str, RespDouble]]:
    doubles = {stage: RespDouble(redis_reply(stage)) for stage in ("hello", "ping")}
    yield doubles
    for double in doubles.values():
        double.close()


HTTP_KINDS = {
    "neo4j": {"kind": "neo4j"},
    "qdrant": {"kind": "qdrant"},
    "elasticsearch": {"kind": "elasticsearch"},
    "http": {"kind": "http", "path": "/status"},
    "openai": {"kind": "http", "preset": "openai"},
    "supabase": {"kind": "http", "preset": "supabase"},
}
HTTP_FIELDS = ("password", "api_key", "bearer_token", "headers")


def configuration(
    tmp_path: Path,
    port: int,
    api: EchoingApi,
    postgres: dict[str, PostgresDouble],
    redis: dict[str, RespDouble],
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The exporter's config, its environment and every secret in it by field."""
    secrets: dict[str, str] = {}
    env: dict[str, str] = {}

    def secret(field: str, *, header: bool = False) -> str:
        value = sentinel(field, header=header)
        name = re.sub(r"\W", "_", field).upper()
        secrets[field], env[name] = value, value
        return f"${{{name}}}"

    (tmp_path / "auth_password").write_text(sentinel("auth-basic"))
    secrets["auth-basic"] = sentinel("auth-basic")
    dependencies: list[dict[str, Any]] = []
    for mode, double in postgres.items():
        dependencies.append(
            {
                "name": f"pg-{mode}",
                "kind": "postgres",
                "port": double.port,
                "user": "obsstack",
                "password": secret(f"pg-{mode}"),
            }
        )
        password = sentinel(f"pg-dsn-{mode}")
        secrets[f"pg-dsn-{mode}"] = password
        (tmp_path / f"dsn-{mode}").write_text(
            f"postgresql://obsstack:{quote(password, safe='')}@127.0.0.1:{double.port}/app"
        )
        dependencies.append(
            {"name": f"pg-dsn-{mode}", "kind": "postgres", "dsn_file": f"dsn-{mode}"}
        )
    for stage, resp in redis.items():
        (tmp_path / f"redis-{stage}").write_text(sentinel(f"redis-{stage}"))
        secrets[f"redis-{stage}"] = sentinel(f"redis-{stage}")
        dependencies.append(
            {
                "name": f"redis-{stage}",
                "kind": "redis",
                "port": resp.port,
                "password_file": f"redis-{stage}",
            }
        )
    for kind, base in HTTP_KINDS.items():
        for field in HTTP_FIELDS:
            dependency: dict[str, Any] = {"name": f"{kind}-{field}", "url": api.url, **base}
            if "preset" in base or field == "api_key":
                dependency["api_key"] = secret(f"{kind}-api_key-{field}", header=True)
            if field == "password":
                dependency |= {"username": "probe", "password": secret(f"{kind}-password")}
            elif field == "bearer_token":
                dependency["bearer_token"] = secret(f"{kind}-bearer", header=True)
            elif field == "headers":
                dependency["headers"] = {"X-Token": secret(f"{kind}-header", header=True)}
            dependencies.append(dependency)
    config = {
        "server": {
            "listen": f"127.0.0.1:{port}",
            "log_level": "debug",
            "auth": {"basic": {"username": "prometheus", "password_file": "auth_password"}},
        },
        "defaults": {"timeout": "3s", "circuit_breaker": {"failure_threshold": 100}},
        "dependencies": dependencies,
    }
    return config, env, secrets


def test_no_secret_in_any_form_and_no_raw_dependency_text_reaches_any_output(
    tmp_path: Path, api, postgres_doubles, redis_doubles
):
    port = free_port()
    config, env, secrets = configuration(tmp_path, port, api, postgres_doubles, redis_doubles)
    path = tmp_path / "exporter.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    server = Process([*OBSSTACK, "serve", "--config", str(path)], tmp_path / "serve.log", env=env)
    base = f"http://127.0.0.1:{port}"
    auth = ("prometheus", secrets["auth-basic"])
    outputs: dict[str, str] = {}
    try:
        wait_until(http_ok(f"{base}/health"), 20, "obsstack serve")
        names = [d["name"] for d in config["dependencies"]]
        for endpoint in [
            "/metrics",
            "/ready",
            "/",
            "/health",
            *(f"/probe?target={n}" for n in names),
        ]:
            for accept in ("text/plain", "application/openmetrics-text; version=1.0.0"):
                response = httpx.get(
                    base + endpoint, auth=auth, headers={"Accept": accept}, timeout=30
                )
                assert response.status_code == 200, (endpoint, response.text[:300])
                outputs[f"{endpoint} {accept}"] = response.text + str(response.headers)
        denied = httpx.get(f"{base}/metrics", auth=("prometheus", "wrong"), timeout=10)
        outputs["401"] = denied.text + str(denied.headers)
        ready = httpx.get(f"{base}/ready", auth=auth, timeout=30).json()
    finally:
        server.stop()
    outputs["log"] = server.output()

    # Every probe failed on a path that quotes its dependency, having sent the real secret.
    dependencies = ready["dependencies"]
    assert not [name for name, d in dependencies.items() if d["up"]]
    assert {n: dependencies[n]["error"] for n in ("pg-bad_password", "redis-hello")} == {
        "pg-bad_password": "auth",
        "redis-hello": "auth",
    }
    for name in ("pg-refuses_sessions", "pg-query_fails", "redis-ping", "neo4j-password"):
        assert dependencies[name]["error"] == "unhealthy", name
    for name in ("elasticsearch-password", "qdrant-api_key"):
        assert dependencies[name]["error"] == "protocol", name
    sent = {s for d in postgres_doubles.values() for s in d.passwords} | api.received
    sent |= {c[-1] for d in redis_doubles.values() for c in d.commands if c[0] == "HELLO"}
    # OpenAI's key and basic auth, or a bearer token, share the Authorization header: one is sent.
    unsent = ("auth-basic", "openai-password", "openai-api_key-bearer_token")
    expected = {v for k, v in secrets.items() if k not in unsent}
    assert expected <= sent, sorted(expected - sent)

    # Dependency text is cut and cleared of control characters before anyone reads it.
    for name, dependency in dependencies.items():
        assert len(dependency["detail"]) <= MAX_DETAIL_CHARS, name
        assert not CONTROL.search(dependency["detail"]), (name, dependency["detail"])
    for line in outputs["log"].splitlines():
        record = json.loads(line)  # one JSON object per line: nothing forged a second one
        assert record.get("message") != "forged", line
        # cut too (the log's own redaction may widen a cut-off token into <redacted>)
        assert len(str(record.get("error", ""))) <= MAX_DETAIL_CHARS + 16, line

    for where, text in outputs.items():
        assert reveals(text, secrets.values()) == [], where
        assert leaked_forms(text, secrets.values()) == [], where


def test_a_dsn_without_a_password_keeps_postgres_readable(tmp_path: Path) -> None:
    """The dsn is hidden whole, and cut short only its password: a dsn that starts like every
    other (``postgresql://postgres@``) does not turn the word ``postgres`` into ``<redacted>``
    in the exporter's logs and pages. Against the PostgreSQL this machine runs."""
    port = free_port()
    dsn = "postgresql://postgres@127.0.0.1:5432/test"
    config = tmp_path / "exporter.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": "obsstack/v1",
                "server": {"listen": f"127.0.0.1:{port}"},
                "dependencies": [{"name": "main-db", "kind": "postgres", "dsn": dsn}],
            }
        )
    )
    process = Process([*OBSSTACK, "serve", "--config", str(config)], tmp_path / "serve.log")
    try:
        wait_until(http_ok(f"http://127.0.0.1:{port}/health"), 30, "the exporter to serve")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        wait_until(lambda: "dependency up" in process.output(), 10, "the state change log line")
    finally:
        process.stop()
    assert 'dependency_up{dependency="main-db",kind="postgres"} 1.0' in metrics
    [line] = [json.loads(x) for x in process.output().splitlines() if "dependency up" in x]
    assert line["kind"] == "postgres"
    assert dsn not in process.output()
