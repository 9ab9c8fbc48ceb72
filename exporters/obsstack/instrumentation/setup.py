"""``instrument_app``: RED metrics, ``/metrics``, request ids, traces and logs over OTLP for a
FastAPI service."""

from __future__ import annotations

from collections.abc import Callable, Collection, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    disable_created_metrics,
    enable_created_metrics,
)
from starlette.applications import Starlette

from obsstack.core import __version__, otel_logs
from obsstack.instrumentation.exposition import MetricsEndpoint
from obsstack.instrumentation.http_metrics import (
    DEFAULT_DURATION_BUCKETS,
    DEFAULT_SIZE_BUCKETS,
    HttpMetrics,
)
from obsstack.instrumentation.middleware import InstrumentationMiddleware
from obsstack.instrumentation.multiprocess import forget_dead_workers, multiprocess_dir
from obsstack.instrumentation.tracing import configure_tracing

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider

DEFAULT_EXCLUDED_PATHS = frozenset(
    {"/metrics", "/health", "/healthz", "/ready", "/readyz", "/live", "/livez"}
)


@dataclass(frozen=True)
class Instrumentation:
    """What :func:`instrument_app` set up, for the service to reuse (e.g. its own metrics)."""

    service_name: str
    registry: CollectorRegistry
    http: HttpMetrics
    tracer_provider: TracerProvider | None
    multiprocess_dir: Path | None
    logger_provider: LoggerProvider | None = None

    @property
    def tracing(self) -> bool:
        return self.tracer_provider is not None

    @property
    def log_export(self) -> bool:
        return self.logger_provider is not None


def instrument_app(
    app: Starlette,
    service_name: str = "service",
    *,
    registry: CollectorRegistry | None = None,
    buckets: Sequence[float] = DEFAULT_DURATION_BUCKETS,
    size_buckets: Sequence[float] = DEFAULT_SIZE_BUCKETS,
    metrics_path: str | None = "/metrics",
    excluded_paths: Collection[str] = DEFAULT_EXCLUDED_PATHS,
    request_ids: bool = True,
    tracing: bool | None = None,
    log_export: bool | None = None,
    exemplars: bool = True,
    created_series: bool | None = None,
    fastapi_tracing: bool = False,
    gc_freeze: bool = True,
) -> Instrumentation:
    """Make a FastAPI (or Starlette) application observable; call it before the app serves.

    - ``http_server_request_duration_seconds`` (``buckets``, default resolving 100 ms),
      ``http_server_active_requests`` and the request/response body size histograms, labelled
      by method, route template (``unmatched`` when no route matched) and status code;
      ``excluded_paths`` (metrics and health checks) are not measured.
    - ``metrics_path`` serves the registry (or every worker's samples when
      ``PROMETHEUS_MULTIPROC_DIR`` is set), as OpenMetrics with trace-id exemplars when the
      scraper asks for it; None leaves the route to the application.
    - ``request_ids``: ``X-Request-ID`` is taken from the request or generated, returned in the
      response and put on every log line written during the request (see
      :func:`obsstack.core.logs.configure_logging`).
    - ``tracing``: a server span per request and client spans for httpx, exported over OTLP as
      the ``OTEL_*`` variables say; None (the default) means on when an endpoint is configured.
    - ``log_export``: the process's log records (the root logger's: the JSON lines of
      :func:`obsstack.core.logs.configure_logging`) are also exported over OTLP as
      ``service_name``, carrying the trace and span ids of the request's span
      (:mod:`obsstack.core.otel_logs`); None (the default) means on when an endpoint is configured
      (``OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT``).
    - ``created_series``: the HTTP metrics never have ``_created`` series; prometheus-client
      adds one to every other counter and histogram series (doubling what Prometheus stores)
      unless turned off, which is process-wide: False turns them off, True on, None (the
      default) leaves the process's setting alone.
    - ``fastapi_tracing``: recent FastAPI versions trace requests themselves (a server span plus
      spans for dependency resolution, the endpoint and serialisation) once a tracer provider
      exists. By default the middleware makes the one server span and FastAPI's own tracing is
      turned off: the same span on every FastAPI version, for a third of the cost. True keeps
      FastAPI's spans; the middleware then reuses its server span.
    - ``gc_freeze``: once the application has started (its lifespan startup), what exists then
      is left out of the garbage collector's passes (``gc.freeze()``, once a process). A traced
      request makes many short-lived objects, and the full collections they set off otherwise
      walk every module, route and client of the process: their pauses set p99. Process-wide;
      False leaves the collector alone.
    """
    registry = REGISTRY if registry is None else registry
    if created_series is False:
        disable_created_metrics()  # type: ignore[no-untyped-call]
    elif created_series:
        enable_created_metrics()  # type: ignore[no-untyped-call]
    directory = multiprocess_dir()
    if directory is not None:
        forget_dead_workers(directory)
    provider = configure_tracing(service_name) if tracing is not False else None
    if tracing and provider is None:
        raise ValueError("tracing=True needs OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT to be set")
    logs = otel_logs.export_logs(service_name) if log_export is not False else None
    if log_export and logs is None:
        raise ValueError("log_export=True needs OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT to be set")
    http = HttpMetrics(registry, buckets, size_buckets, multiprocess=directory is not None)
    _configure_native_telemetry(app, {*excluded_paths, metrics_path or ""}, fastapi_tracing)
    app.add_middleware(
        InstrumentationMiddleware,
        metrics=http,
        metrics_endpoint=(
            MetricsEndpoint(registry, directory) if metrics_path is not None else None
        ),
        metrics_path=metrics_path or "",
        excluded_paths=excluded_paths,
        request_ids=request_ids,
        gc_freeze=gc_freeze,
        tracer=provider.get_tracer("obsstack.instrumentation", __version__) if provider else None,
        # prometheus-client keeps no exemplars in multi-process mode.
        exemplars=exemplars and directory is None,
    )
    return Instrumentation(
        service_name, registry, http, provider, directory, logs.provider if logs else None
    )


def _configure_native_telemetry(app: Starlette, paths: Collection[str], tracing: bool) -> None:
    """Turn FastAPI's own request tracing off, or keep health checks and scrapes out of it.

    Recent FastAPI versions trace requests natively once a tracer provider is set, with the
    settings given as ``FastAPI(telemetry={...})`` (``tracing``, ``exclude``...); older ones
    have no such settings.
    """
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict):
        return
    if not tracing:
        config["tracing"] = False
    previous: Callable[[MutableMapping[str, Any]], bool] | None = config.get("exclude")
    excluded = frozenset(paths)

    def exclude(scope: MutableMapping[str, Any]) -> bool:
        return scope.get("path") in excluded or (previous is not None and previous(scope))

    config["exclude"] = exclude
