"""Property: whatever file a reader is given, the command line accepts it, or exits 2 with one
line on stderr naming the file and a key path (or a line), without a traceback, without writing
anything, without any planted secret, within a second.

Inputs are the shipped example files, mutated: keys dropped, renamed or added, values replaced
by strings, numbers (NaN, infinities, huge integers), booleans, nulls, nested or deeply nested
structures, secret references (``${ENV}``, ``*_file``, URL userinfo), then, for a third of
them, the YAML text itself cut short, salted with random bytes or given a line of what is not
plain data (tags, aliases, merge keys, complex keys, control characters, a second document).
Runs are deterministic (derandomized); ``--hypothesis-show-statistics`` shows how many inputs
were accepted and refused.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from obsstack import generate
from obsstack.cli import main
from obsstack.stack import generate as bundle_generate

REPO = Path(__file__).resolve().parents[1]

# Planted secrets: an environment variable's value, a secret file's content, a URL's password.
SENTINEL_ENV = "zq-env-7391-sentinel"
SENTINEL_FILE = "zq-file-4826-sentinel"
SENTINEL_URL = "zq-url-5517-sentinel"
REFERENCE = "${OBSSTACK_PLANTED}"
SECRET_FILE = "planted-secret"
ENVIRONMENT = {
    "OBSSTACK_PLANTED": f"htp://user:{SENTINEL_ENV}@not-a-url/",
    "OBSSTACK_PLANTED_URL": f"https://pd:{SENTINEL_ENV}@events.internal/v2/enqueue",
    # What the shipped examples refer to, each a planted secret too.
    **{
        name: f"{SENTINEL_ENV}-{name.lower()}"
        for name in (
            "PG_PASSWORD",
            "NEO4J_PASSWORD",
            "QDRANT_API_KEY",
            "ES_API_KEY",
            "OPENAI_API_KEY",
            "SUPABASE_ANON_KEY",
            "BILLING_PROBE_TOKEN",
            "KPI_DB_PASSWORD",
        )
    },
}
SECRET_FILES = {
    SECRET_FILE: SENTINEL_FILE,
    "secrets/scrape_token": f"{SENTINEL_FILE}-token",
    "secrets/replica_dsn": f"postgresql://u:{SENTINEL_FILE}@replica/app",
    "secrets/redis_password": f"{SENTINEL_FILE}-redis",
    "secrets/es_ca.pem": "not a certificate",
}

# After "obsstack COMMAND: FILE: ": one of the file-wide reasons, or a line, or a key path (a
# mutated file's keys may hold any character) and the reason.
WHERE = re.compile(
    r"(must be a mapping \(got |is empty$|must be one YAML document \(got \d+\)$"
    r"|an obsstack/v1 spec is a single YAML document$|has no kind: SLO document$"
    r"|must be version: |is not UTF-8 text$|line \d+: |\S.*?: )"
)

PLANTED = st.sampled_from(
    [
        REFERENCE,
        f"prefix-{REFERENCE}-suffix",
        "${OBSSTACK_PLANTED_URL}",
        "${OBSSTACK_PLANTED:-fallback}",
        "${PG_PASSWORD}",
        f"https://probe:{SENTINEL_URL}@planted.internal/health",
        f"htp://probe:{SENTINEL_URL}@planted.internal/",
        f"postgresql://probe:{SENTINEL_URL}@db.internal/app",
        SECRET_FILE,
    ]
)
STRINGS = st.sampled_from(
    [
        "${OBSSTACK_UNSET_VARIABLE}",
        "",
        " ",
        "local",
        "0s",
        "5s",
        "-1s",
        "1y",
        "400d",
        "99999999999999999999d",
        "5 sec",
        "127.0.0.1:70000",
        "P9",
        "sum(rate(x[{{.window}}]))",
        "up{",
        "line\nbreak",
        "tab\tbed",
        "\u2028",
    ]
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 65535, 65536, 70000, 2**31, 10**26, 10**30, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(
    PLANTED, PLANTED, STRINGS, NUMBERS, NUMBERS, st.booleans(), st.none(), st.text(max_size=16)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), inner, max_size=3),
    ),
    max_leaves=6,
)
KEYS = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
SNIPPETS = [
    "<<: {critical: true}",
    "? [a, b]\n{indent}: 1",
    "? {a: 1}\n{indent}: 1",
    "key: !!python/object/apply:os.system ['true']",
    "key: !!binary aGVsbG8=",
    "key: !!set {a, b}",
    "key: !custom value",
    "key: *nowhere",
    "key: &anchor [1, 2]",
    "key: 2001-12-14",
    "key: 1" + "0" * 5000,
    "key: " + "[" * 40 + "]" * 40,
    "key: \t1",
    '"key": "\\x00"',
    "on: true",
    "1: one",
    "~: null",
    "---",
    "key: .nan",
    "key: -.inf",
]
WHOLE_FILES = [
    "",
    "null",
    "[]",
    "'just a string'",
    "--- {}\n--- {}\n",
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    "x: " + "[" * 200 + "]" * 200,
    "\x00\x01\x02 binary",
]


@dataclass(frozen=True)
class Reader:
    """A reader's command line, its shipped examples and what it may write."""

    name: str
    command: str
    examples: tuple[str, ...]  # files under the source tree
    writes: bool = False  # obsstack generate, into its --output-dir

    def argv(self, path: Path, output: Path) -> list[str]:
        if self.name == "exporter":
            return ["check-config", str(path)]
        if self.name == "kpis":
            return ["kpis", "--check", "--config", str(path)]
        if self.name == "slos":
            return ["generate", "--slos", str(path), "--output-dir", str(output)]
        return ["generate", "--output-dir", str(output)]

    @contextlib.contextmanager
    def patched(self, path: Path) -> Iterator[None]:
        if self.name != "alerting":
            yield
            return
        # `obsstack generate` reads compose/alerting.yaml under the source root, in the bundle's
        # generator only (the others never read it): that one, on this file.
        bundle = [(bundle_generate.generate, "compose/generated")]
        with (
            mock.patch.object(bundle_generate, "ALERTING", str(path)),
            mock.patch.object(generate, "generators", lambda: bundle),
        ):
            yield


EXPORTER = Reader("exporter", "check-config", ("exporters/CONFIGURATION.md",))
KPIS = Reader("kpis", "kpis", ("exporters/obsstack/kpis/platform.yaml",))
SLOS = Reader(
    "slos",
    "generate",
    (
        "alerts/slos.yaml",
        "alerts/examples/sloth-payments.yaml",
        "alerts/examples/openslo-checkout.yaml",
    ),
    writes=True,
)
ALERTING = Reader("alerting", "generate", ("compose/alerting.yaml",), writes=True)


def shipped_documents(example: str) -> list[Any]:
    text = (REPO / example).read_text()
    if example.endswith(".md"):  # the complete example of the configuration reference
        text = text.split("## Complete example", 1)[1].split("```yaml\n", 1)[1].split("```")[0]
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def locations(data: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of ``data``, outermost first."""
    found: list[tuple[Any, Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append((data, key))
            found += locations(value)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.append((data, index))
            found += locations(value)
    return found


def nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


OPERATIONS = ["drop", "rename", "replace", "replace", "move", "wrap", "stringify", "add"]
OPERATIONS += ["secret", "deep"]


def mutate(draw: st.DrawFn, documents: list[Any]) -> None:
    """One change to ``documents``, in place."""
    document = draw(st.sampled_from(documents))
    places = locations(document)
    operation = draw(st.sampled_from(OPERATIONS))
    if not places or operation == "add":
        target = draw(st.sampled_from([document, *[c for c, _ in places if isinstance(c, dict)]]))
        if isinstance(target, dict):
            target[draw(KEYS)] = draw(VALUES)
        return
    container, key = draw(st.sampled_from(places))
    if operation == "drop":
        del container[key]
    elif operation == "rename" and isinstance(container, dict):
        container[draw(KEYS)] = container.pop(key)
    elif operation == "wrap":
        container[key] = draw(st.sampled_from([[container[key]], {"k": container[key]}]))
    elif operation == "stringify":
        container[key] = str(container[key])
    elif operation == "secret" and isinstance(container, dict):
        container[
            f"{draw(st.sampled_from(['password', 'api_key', 'dsn', 'bearer_token']))}_file"
        ] = SECRET_FILE
    elif operation == "move":  # e.g. a secret's ${NAME} into a name, a URL or a choice
        source, source_key = draw(st.sampled_from(places))
        container[key] = copy.deepcopy(source[source_key])  # a copy: it may hold `container`
    elif operation == "deep":
        container[key] = nested(draw(st.integers(min_value=28, max_value=60)))
    else:
        container[key] = draw(VALUES)


@st.composite
def inputs(draw: st.DrawFn, reader: Reader) -> bytes:
    """A mutated shipped example of ``reader``, as file content."""
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        return draw(st.sampled_from(WHOLE_FILES)).encode()
    documents = shipped_documents(draw(st.sampled_from(reader.examples)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        mutate(draw, documents)
    text = yaml.safe_dump_all(documents, sort_keys=False, width=1000)
    damage = draw(st.sampled_from(["none", "none", "none", "cut", "bytes", "snippet", "snippet"]))
    if damage == "cut":
        return text.encode()[: draw(st.integers(min_value=0, max_value=len(text)))]
    if damage == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(text)))
        return text.encode()[:at] + draw(st.binary(min_size=1, max_size=6)) + text.encode()[at:]
    if damage == "snippet":
        lines = text.splitlines()
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        indent = re.match(r"[ -]*", lines[at]).group().replace("-", " ")  # type: ignore[union-attr]
        snippet = draw(st.sampled_from(SNIPPETS)).replace("{indent}", indent)
        lines[at] = indent + snippet
        return "\n".join(lines).encode() + b"\n"
    return text.encode()


def planted_in(content: bytes) -> list[str]:
    """The sentinels a message could leak for this file: every secret it can reach, and the
    URL password only while it still is one (a cut or salted URL is no URL any more)."""
    sentinels = [SENTINEL_ENV, SENTINEL_FILE]
    if f":{SENTINEL_URL}@".encode() in content:
        sentinels.append(SENTINEL_URL)
    return sentinels


def files(workdir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(workdir)): p.read_bytes() for p in workdir.rglob("*") if p.is_file()}


def check(reader: Reader, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as name:
        workdir = Path(name)
        for relative, secret in SECRET_FILES.items():
            (workdir / relative).parent.mkdir(parents=True, exist_ok=True)
            (workdir / relative).write_text(secret + "\n")
        path = workdir / "config.yaml"
        path.write_bytes(content)
        output = workdir / "out"
        before = files(workdir)
        stdout, stderr = io.StringIO(), io.StringIO()
        with (
            mock.patch.dict(os.environ, ENVIRONMENT),
            reader.patched(path),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            code = main(reader.argv(path, output))
        out, err = stdout.getvalue(), stderr.getvalue()
        event(f"{reader.name}: {'accepted' if code == 0 else 'refused'}")
        assert code in (0, 2), (code, err)
        for sentinel in planted_in(content):
            assert sentinel not in out + err, (sentinel, out + err)
        if code == 2:
            assert out == ""
            assert err.endswith("\n") and len(err.splitlines()) == 1, err
            prefix = f"obsstack {reader.command}: {path}: "
            assert err.startswith(prefix), err
            assert WHERE.match(err[len(prefix) :]), err
            assert not output.exists()
        elif not reader.writes:
            assert err == ""
        after = files(workdir)
        written = {k for k in after if k.startswith("out/")}
        assert {k: v for k, v in after.items() if k not in written} == before
        assert not written or (reader.writes and code == 0)


# No deadline: how long an example takes depends on what else the machine runs, not on the
# reader.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    """Import every generator once, so that no example pays for it."""
    with tempfile.TemporaryDirectory() as name, contextlib.redirect_stdout(io.StringIO()):
        main(["generate", "--output-dir", name])


@PROPERTY
@given(inputs(EXPORTER))
def test_probe_exporter_config(content: bytes) -> None:
    check(EXPORTER, content)


@PROPERTY
@given(inputs(KPIS))
def test_kpi_config(content: bytes) -> None:
    check(KPIS, content)


@PROPERTY
@given(inputs(SLOS))
def test_slo_spec(content: bytes) -> None:
    check(SLOS, content)


@PROPERTY
@given(inputs(ALERTING))
def test_alerting_file(content: bytes) -> None:
    check(ALERTING, content)
