"""Two links between signals, followed to data with a real Prometheus (Debian's ``prometheus``):

- the Jaeger data source's trace-to-metrics queries (compose/grafana/provisioning/datasources/
  datasources.yaml, ``tracesToMetrics``), expanded as Grafana expands them for a span of the
  demo, select the span metrics the Collector exports for that service;
- the service overview's "Logs of this service (Loki)" link, for each value its service variable
  takes from Prometheus, opens Explore on the Loki stream the same service's OTLP logs make.

Upstream lines these tests transcribe (the pinned versions of compose/docker-compose.yml; Loki's
and otlptranslator's read at their tags, the Collector's and Grafana's in stored copies of their
repositories, whose whole history is too large to bring here):

Collector contrib 0.148
- connector/spanmetricsconnector/connector.go: ``buildMetricName`` is ``namespace + "." +
  name`` for ``calls`` and ``duration``; only ``duration`` gets ``SetUnit(histogram.unit)``;
  ``buildAttributes`` puts ``service.name``, ``span.name``, ``span.kind`` and ``status.code``
  (``traceutil.StatusCodeStr``: ``STATUS_CODE_UNSET``/``_OK``/``_ERROR``) on every data point,
  ``calls`` is a monotonic cumulative sum, ``duration`` an explicit-bucket histogram.
- exporter/prometheusexporter (config.go, factory.go, collector.go): ``add_metric_suffixes``
  defaults to true and ``translation_strategy`` to ``UnderscoreEscapingWithSuffixes``; names
  and labels go through the Prometheus translator (github.com/prometheus/otlptranslator v1.0.0
  in its go.mod); a data point's attributes become labels; ``job`` and ``instance`` come from
  ``service.name`` and ``service.instance.id``.
- otlptranslator v1.0.0: metric_namer.go ``normalizeName`` splits the name on characters
  outside ``[a-zA-Z0-9:]``, appends the unit word (``unitMap``: ``s`` -> ``seconds``) unless
  present, then ``total`` for monotonic counters, joined with ``_``; label_namer.go /
  strconv.go ``sanitizeLabelName`` turns every character outside ``[a-zA-Z0-9_]`` into ``_``.

Grafana 12.3
- public/app/features/explore/TraceView/createSpanLink.tsx ``buildMetricsQuery``: when the
  query holds ``$__tags``, each configured tag found among ``[...span.process.tags,
  ...span.tags]`` becomes ``key="value"`` (``tag.value`` renames the key), joined by ``", "``,
  replacing every ``$__tags``.
- pkg/services/provisioning/values/values.go ``interpolateValue``: ``$$`` is a literal ``$``.
- public/app/features/explore/hooks/useStateSync/migrators/v1.ts: ``/explore?schemaVersion=1&
  panes=<JSON>``; each pane keeps ``datasource`` (a string: the uid), ``queries`` (a list) and
  ``range`` only when ``from`` and ``to`` are strings (else the default range); a pane id that is
  not 3 characters of its alphabet is replaced by a generated one (the pane still opens).

Loki 3.6.2
- pkg/loghttp/push/otlp_config.go: ``service.name`` (and the other ``DefaultOTLPResource
  AttributesAsIndexLabels``) are index labels; otlp.go ``attributeToLabels`` names them with
  ``otlptranslator.LabelNamer{}``: ``service.name`` -> ``service_name``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from obsstack.dashboards.conventions import LOKI_UID
from tests.bundle.test_compose import services
from tests.bundle.test_configs import in_compose
from tests.demo.test_demo import drop
from tests.instrumentation.otlp import OtlpReceiver
from tests.support.doubles import HttpDouble, Reply, Request
from tests.support.processes import (
    OBSSTACK,
    Process,
    free_port,
    http_ok,
    require_binary,
    running,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]
COLLECTOR = in_compose(REPO / "otel-collector/config.yaml")
SCRAPE_CONFIG = yaml.safe_load((REPO / "compose/generated/prometheus.yml").read_text())
DATASOURCES = yaml.safe_load(
    (REPO / "compose/grafana/provisioning/datasources/datasources.yaml").read_text()
)
SERVICE_OVERVIEW = json.loads((REPO / "dashboards/generated/service-overview.json").read_text())
LOGS_LINK = "Logs of this service (Loki)"

# Grafana's $__rate_interval is at least four scrape intervals of the data source (15 s in the
# bundle, datasources.yaml timeInterval, so 1m there). These tests scrape every second: 4s.
SCRAPE_SECONDS = 1
RATE_INTERVAL = f"{4 * SCRAPE_SECONDS}s"

# otlptranslator v1.0.0, metric_namer.go unitMap (the units the connector can be given).
UNIT_WORDS = {"s": "seconds", "ms": "milliseconds"}
SECONDS_PER = {"ms": 1e-3, "s": 1.0}

# Loki 3.6.2, pkg/loghttp/push/otlp_config.go, GlobalOTLPConfig.RegisterFlags.
LOKI_INDEX_ATTRIBUTES = frozenset(
    {
        "service.name",
        "service.namespace",
        "service.instance.id",
        "deployment.environment",
        "deployment.environment.name",
        "cloud.region",
        "cloud.availability_zone",
        "k8s.cluster.name",
        "k8s.namespace.name",
        "k8s.pod.name",
        "k8s.container.name",
        "container.name",
        "k8s.replicaset.name",
        "k8s.deployment.name",
        "k8s.statefulset.name",
        "k8s.daemonset.name",
        "k8s.cronjob.name",
        "k8s.job.name",
    }
)


def prometheus_metric_name(otlp_name: str, unit: str, monotonic_counter: bool) -> str:
    """otlptranslator v1.0.0 ``normalizeName`` with suffixes, for the units the connector uses."""
    tokens = [t for t in re.split(r"[^a-zA-Z0-9:]", otlp_name) if t]
    if unit and UNIT_WORDS[unit] not in tokens:
        tokens.append(UNIT_WORDS[unit])
    if monotonic_counter:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    return "_".join(tokens)


def prometheus_label_name(attribute: str) -> str:
    """otlptranslator's ``LabelNamer{}`` (the Collector's exporter and Loki both use it)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", attribute)


def provisioned(value: str) -> str:
    """A string of datasources.yaml as Grafana reads it (pkg/services/provisioning/values/
    values.go ``interpolateValue``: split on ``$$``, expand ``$VAR`` in each part, join with
    ``$``). The queries name no variable of the environment."""
    parts = value.split("$$")
    assert not [part for part in parts if "$" in part], value
    return "$".join(parts)


def datasource(kind: str) -> dict[str, Any]:
    [found] = [d for d in DATASOURCES["datasources"] if d["type"] == kind]
    return dict(found)


def expand_tags(query: str, tags: list[dict[str, str]], span_tags: Mapping[str, str]) -> str:
    """Grafana 12.3 createSpanLink.tsx ``buildMetricsQuery``: ``$__tags`` -> ``k="v", ...``."""
    if not tags or "$__tags" not in query:
        return query
    labels = [
        f'{tag.get("value") or tag["key"]}="{span_tags[tag["key"]]}"'
        for tag in tags
        if span_tags.get(tag["key"])
    ]
    return query.replace("$__tags", ", ".join(labels))


def scrape_job(target: str, address: str) -> dict[str, Any]:
    """The bundle's scrape config of ``target`` (a compose host:port), pointed at ``address``
    and scraped every second."""
    [job] = [
        dict(job)
        for job in SCRAPE_CONFIG["scrape_configs"]
        if any(target in static["targets"] for static in job.get("static_configs", []))
    ]
    job["static_configs"] = [{"targets": [address]}]
    job["scrape_interval"] = job["scrape_timeout"] = f"{SCRAPE_SECONDS}s"
    return job


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        assert response.status_code == 200, response.text
        return list(response.json()["data"]["result"])

    def label_values(self, label: str, metric: str) -> list[str]:
        """What ``label_values(metric, label)`` lists: the labels API with a series match."""
        response = httpx.get(
            f"{self.url}/api/v1/label/{label}/values", params={"match[]": metric}, timeout=5
        )
        assert response.status_code == 200, response.text
        return list(response.json()["data"])


@contextlib.contextmanager
def prometheus(tmp_path: Path, jobs: list[dict[str, Any]]) -> Iterator[Prometheus]:
    """Debian's Prometheus scraping ``jobs``, until the block ends."""
    config = {"global": {"scrape_interval": f"{SCRAPE_SECONDS}s"}, "scrape_configs": jobs}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = Process(
        [
            require_binary("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
    )
    with running(process):
        url = f"http://127.0.0.1:{port}"
        wait_until(http_ok(f"{url}/-/ready"), 30, "prometheus")
        yield Prometheus(url)


# --- 1. Trace to metrics -------------------------------------------------------------------


@dataclass(frozen=True)
class SpanMetrics:
    """What the bundle's Collector exports for Prometheus from the spanmetrics connector."""

    calls: str
    duration: str
    service_label: str
    status_label: str
    job: dict[str, Any]  # the scrape config of the exporter's endpoint


def span_metrics() -> SpanMetrics:
    """The names and labels, derived from otel-collector/config.yaml by the upstream rules."""
    pipelines = COLLECTOR["service"]["pipelines"]
    [connector] = [
        name for name in pipelines["traces"]["exporters"] if name.split("/")[0] == "spanmetrics"
    ]
    assert connector in pipelines["metrics"]["receivers"]
    [exporter] = pipelines["metrics"]["exporters"]
    assert exporter.split("/")[0] == "prometheus"
    spanmetrics = COLLECTOR["connectors"][connector]
    settings = COLLECTOR["exporters"][exporter]
    # What would change the names or drop the label from what the rules below give.
    assert settings.get("translation_strategy", "UnderscoreEscapingWithSuffixes") == (
        "UnderscoreEscapingWithSuffixes"
    )
    assert settings.get("add_metric_suffixes", True) is True
    assert not settings.get("namespace")
    assert "service.name" not in spanmetrics.get("exclude_dimensions", [])
    namespace = spanmetrics.get("namespace", "traces.span.metrics")
    unit = spanmetrics.get("histogram", {}).get("unit", "ms")
    port = settings["endpoint"].rsplit(":", 1)[1]
    return SpanMetrics(
        calls=prometheus_metric_name(f"{namespace}.calls", "", monotonic_counter=True),
        duration=prometheus_metric_name(f"{namespace}.duration", unit, monotonic_counter=False),
        service_label=prometheus_label_name("service.name"),
        status_label=prometheus_label_name("status.code"),
        job=scrape_job(f"otel-collector:{port}", "127.0.0.1:0"),
    )


def bucket_bounds() -> list[float]:
    """The connector's explicit buckets, in its histogram unit (the ``le`` values exported)."""
    histogram = COLLECTOR["connectors"]["spanmetrics"]["histogram"]
    unit = SECONDS_PER[histogram.get("unit", "ms")]
    bounds = []
    for bucket in histogram["explicit"]["buckets"]:
        number, suffix = re.findall(r"^([0-9.]+)(ms|s)$", bucket)[0]
        bounds.append(float(number) * SECONDS_PER[suffix] / unit)
    return bounds


class SpanMetricsEndpoint:
    """The Collector's prometheus exporter as Prometheus scrapes it: for each service, calls
    growing by ``OK_PER_SECOND`` and ``ERRORS_PER_SECOND``, and their durations, a share of
    every call under each bound (``SHARE_UNDER``), labelled as the exporter labels them."""

    OK_PER_SECOND = 10.0
    ERRORS_PER_SECOND = 1.0
    SHARE_UNDER = {0.05: 0.5, 0.1: 0.8, 0.25: 1.0}  # p95 = 0.1 + 0.15 * (0.95-0.8)/0.2 = 0.2125

    def __init__(self, names: SpanMetrics, services: list[str]) -> None:
        self.names = names
        self.services = services
        self.started = time.monotonic()
        self.http = HttpDouble({("GET", "/metrics"): self.reply})

    def reply(self, _: Request) -> Reply:
        elapsed = time.monotonic() - self.started
        lines = [f"# TYPE {self.names.calls} counter", f"# TYPE {self.names.duration} histogram"]
        for service in self.services:
            for status, per_second in (
                ("STATUS_CODE_UNSET", self.OK_PER_SECOND),
                ("STATUS_CODE_ERROR", self.ERRORS_PER_SECOND),
            ):
                calls = per_second * elapsed
                # Data point attributes, then job and instance from the resource (collector.go).
                labels = (
                    f'{self.names.service_label}="{service}",span_name="GET /v1/agents",'
                    f'span_kind="SPAN_KIND_SERVER",{self.names.status_label}="{status}",'
                    f'job="{service}",instance="{uuid.uuid5(uuid.NAMESPACE_URL, service)}"'
                )
                lines.append(f"{self.names.calls}{{{labels}}} {calls}")
                for bound in bucket_bounds():
                    share = max((s for b, s in self.SHARE_UNDER.items() if b <= bound), default=0.0)
                    lines.append(
                        f'{self.names.duration}_bucket{{{labels},le="{bound}"}} {calls * share}'
                    )
                lines.append(f'{self.names.duration}_bucket{{{labels},le="+Inf"}} {calls}')
                lines.append(f"{self.names.duration}_sum{{{labels}}} {calls * 0.1}")
                lines.append(f"{self.names.duration}_count{{{labels}}} {calls}")
        return Reply(body="\n".join(lines) + "\n")


def span_tags(service_name: str) -> dict[str, str]:
    """The tags Grafana reads on a span of ``service_name`` from Jaeger: Jaeger makes
    service.name the process's service name, so what is left of it is the copy the Collector's
    traces pipeline adds (tests/bundle/test_pipelines.py follows it to Jaeger)."""
    tags = {}
    for processor in COLLECTOR["service"]["pipelines"]["traces"]["processors"]:
        for action in COLLECTOR["processors"][processor].get("attributes", []):
            if action.get("from_attribute") == "service.name":
                tags[action["key"]] = service_name
    return tags


def demo_service_name() -> str:
    """The demo's service.name in the bundle: what its compose environment sets."""
    return str(services()["demo"]["environment"]["OTEL_SERVICE_NAME"])


def test_span_metrics_are_named_as_the_trace_to_metrics_queries_read_them():
    names = span_metrics()
    assert (names.calls, names.duration) == (
        "traces_span_metrics_calls_total",
        "traces_span_metrics_duration_seconds",
    )
    assert (names.service_label, names.status_label) == ("service_name", "status_code")
    # The exporter's endpoint is one Prometheus scrapes, keeping the job the exporter sets.
    assert names.job["job_name"] == "otel-collector-exported"
    assert names.job["honor_labels"] is True


def test_trace_to_metrics_queries_return_the_red_metrics_of_the_spans_service(tmp_path):
    names = span_metrics()
    to_metrics = datasource("jaeger")["jsonData"]["tracesToMetrics"]
    assert to_metrics["datasourceUid"] == datasource("prometheus")["uid"]
    queries = {q["name"]: provisioned(q["query"]) for q in to_metrics["queries"]}
    demo = demo_service_name()
    endpoint = SpanMetricsEndpoint(names, [demo, "obsstack-exporter"])
    job = {**names.job, "static_configs": [{"targets": [f"127.0.0.1:{endpoint.http.port}"]}]}

    def expanded(service: str) -> dict[str, str]:
        return {
            name: expand_tags(query, to_metrics["tags"], span_tags(service)).replace(
                "$__rate_interval", RATE_INTERVAL
            )
            for name, query in queries.items()
        }

    try:
        with prometheus(tmp_path, [job]) as server:
            for_demo = expanded(demo)
            assert f'{names.service_label}="{demo}"' in for_demo["Request rate"]
            wait_until(lambda: len(server.query(for_demo["Request rate"])) == 1, 30, "a rate")
            time.sleep(6 * SCRAPE_SECONDS)  # the rate window full of scrapes
            [requests] = server.query(for_demo["Request rate"])
            [errors] = server.query(for_demo["Error rate"])
            [p95] = server.query(for_demo["Duration p95"])
            # A span of a service that sent no spans links to no data.
            assert server.query(expanded("postgres")["Request rate"]) == []
    finally:
        endpoint.http.close()
    ok, failed = SpanMetricsEndpoint.OK_PER_SECOND, SpanMetricsEndpoint.ERRORS_PER_SECOND
    assert float(requests["value"][1]) == pytest.approx(ok + failed, rel=0.2)
    assert float(errors["value"][1]) == pytest.approx(failed, rel=0.2)
    assert float(p95["value"][1]) == pytest.approx(0.2125, rel=1e-6)


# --- 2. Service overview -> Loki -------------------------------------------------------------


def logs_link() -> str:
    """The URL of the service overview's link to the service's logs (the same on each panel)."""
    links = {
        str(link["url"])
        for panel in SERVICE_OVERVIEW["panels"]
        for link in panel.get("links") or []
        if link["title"] == LOGS_LINK
    }
    [url] = links
    return url


def service_variable() -> tuple[str, str, str]:
    """(variable name, metric, label) of the dashboard's ``label_values(metric, label)``
    variable that the link interpolates."""
    url = logs_link()
    for variable in SERVICE_OVERVIEW["templating"]["list"]:
        match = re.fullmatch(r"label_values\((\w+), (\w+)\)", str(variable.get("query", "")))
        if match and "${" + variable["name"] + "}" in url:
            return variable["name"], match[1], match[2]
    raise AssertionError(f"no label_values variable of {LOGS_LINK!r}")


def follow(url: str, variables: Mapping[str, str]) -> dict[str, Any]:
    """The Explore pane Grafana 12.3 opens for ``url`` with ``variables`` interpolated."""
    for name, value in variables.items():
        url = url.replace("${" + name + "}", value)
    assert "${" not in url, url
    parsed = urllib.parse.urlsplit(url)
    assert parsed.path == "/explore"
    params = dict(urllib.parse.parse_qsl(parsed.query))
    assert params["schemaVersion"] == "1"
    [pane] = json.loads(params["panes"]).values()
    assert isinstance(pane["datasource"], str)
    assert isinstance(pane["queries"], list)
    assert all(isinstance(pane["range"][end], str) for end in ("from", "to"))
    return dict(pane)


def stream_selector(expr: str) -> dict[str, str]:
    """``{a="x", b="y"}`` -> {"a": "x", "b": "y"}; equality matchers only."""
    match = re.fullmatch(r"\{(.*)\}", expr.strip())
    assert match, expr
    pairs = re.findall(r'\s*(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)', match[1])
    assert pairs, expr
    return dict(pairs)


def loki_stream(resource: Mapping[str, Any]) -> dict[str, str]:
    """The index labels Loki 3.6.2 gives the OTLP logs of ``resource`` (the Collector may add
    more, deployment.environment.name, which a selector need not name)."""
    return {
        prometheus_label_name(key): str(value)
        for key, value in resource.items()
        if key in LOKI_INDEX_ATTRIBUTES
    }


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    yield otlp
    otlp.close()


def test_the_logs_link_opens_the_stream_the_selected_services_logs_make(tmp_path, receiver):
    """The real demo, with its compose environment, scraped as the bundle scrapes it: each value
    Prometheus gives the dashboard's service variable opens, through the link, the Loki stream
    its OTLP logs make, and that stream holds the service's records."""
    name, metric, label = service_variable()
    environment = {
        k: str(v) for k, v in services()["demo"]["environment"].items() if k.startswith("OTEL_")
    }
    tag = uuid.uuid4().hex[:10]
    schema, prefix = f"obsstack_demo_s{tag}", f"obsstack_demo_s{tag}:"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = ["demo", "serve", "--listen", f"127.0.0.1:{port}", "--schema", schema,
            "--redis-prefix", prefix, "--time-scale", "0.02"]  # fmt: skip
    demo = Process(
        [*OBSSTACK, *argv],
        tmp_path / "demo.log",
        env={
            **environment,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http.url,
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
        },
        cwd=REPO,
    )
    try:
        with running(demo):
            wait_until(http_ok(f"{url}/ready"), 30, "the demo to be ready")
            job = scrape_job("demo:8000", f"127.0.0.1:{port}")
            with prometheus(tmp_path, [job]) as server:
                login = {"email": "user3@soylent.example", "password": "not-the-password-42"}
                assert httpx.post(f"{url}/v1/auth/login", json=login).status_code == 401
                wait_until(lambda: server.label_values(label, metric), 30, f"{metric} scraped")
                values = server.label_values(label, metric)
            wait_until(lambda: any("login failed" in str(r.body) for r in receiver.logs), 10, "log")
    finally:
        drop(schema, prefix)
    assert values == [demo_service_name()]
    now = int(time.time() * 1000)
    for value in values:
        pane = follow(logs_link(), {name: value, "__from": str(now - 3_600_000), "__to": str(now)})
        assert pane["datasource"] == LOKI_UID == datasource("loki")["uid"]
        [query] = pane["queries"]
        assert query["datasource"] == {"type": "loki", "uid": LOKI_UID}
        selector = stream_selector(query["expr"])
        streams = [loki_stream(r.resource) for r in receiver.logs if "login failed" in str(r.body)]
        assert streams
        for stream in streams:
            assert selector.items() <= stream.items(), (selector, stream)
