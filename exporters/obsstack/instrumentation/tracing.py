"""OpenTelemetry tracing over OTLP, configured by the standard ``OTEL_*`` environment variables.

Off unless an endpoint is set (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``
turn it off too. ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`` picks ``http/protobuf`` (the default)
or ``grpc``; endpoint, headers, timeout, compression, ``OTEL_TRACES_SAMPLER`` and ``OTEL_BSP_*``
are read by the SDK. The resource is the one logs have
(:func:`obsstack.core.otel.service_resource`).
Each sampled span is written to protobuf when it ends and sent in batches by a background
thread with a bounded queue (:mod:`obsstack.instrumentation.span_export`): a slow or absent
collector costs dropped spans, never a blocked request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from obsstack.core import otel

log = logging.getLogger("obsstack.tracing")
PROTOCOLS = otel.PROTOCOLS
_httpx_instrumented = False


def tracing_configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces to be exported."""
    return otel.export_configured("traces", env)


def _exporter(protocol: str) -> SpanExporter:
    from obsstack.instrumentation.span_export import OtlpHttpSpanExporter, grpc_span_exporter

    return grpc_span_exporter() if protocol == "grpc" else OtlpHttpSpanExporter()


def configure_tracing(service_name: str, *, instrument_httpx: bool = True) -> TracerProvider | None:
    """The process's tracer provider, set up from the environment; None when tracing is off.

    A provider already installed (e.g. by ``opentelemetry-instrument``) is reused. Outgoing
    requests made with httpx get client spans and carry the W3C ``traceparent`` header.
    """
    if not tracing_configured():
        return None
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        protocol = otel.protocol("traces")
        provider = TracerProvider(resource=otel.service_resource(service_name))
        from obsstack.instrumentation.span_export import EncodingBatchSpanProcessor

        provider.add_span_processor(EncodingBatchSpanProcessor(_exporter(protocol)))
        trace.set_tracer_provider(provider)
        log.info("tracing on", extra={"protocol": protocol, "service": service_name})
    if instrument_httpx:
        _instrument_httpx(provider)
    return provider


def _instrument_httpx(provider: TracerProvider) -> None:
    global _httpx_instrumented
    if _httpx_instrumented:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    # Client spans with the stable HTTP semantic conventions (url.full,
    # http.request.method), like the server spans, unless the environment chose otherwise.
    # OpenTelemetry reads the choice from the environment once, at the first instrumentation:
    # it is set for that moment only, so the process's environment (and its children's) is
    # left as it was.
    chosen = "OTEL_SEMCONV_STABILITY_OPT_IN" in os.environ
    if not chosen:
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "http"
    try:
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    finally:
        if not chosen:
            del os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"]
    _httpx_instrumented = True
