"""What the standard ``OTEL_*`` variables say about exporting a signal, and the resource that
names the service, shared by traces (:mod:`obsstack.instrumentation.tracing`) and logs
(:mod:`obsstack.core.otel_logs`).

A signal is exported only when an OTLP endpoint is configured for it
(``OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``), and never with
``OTEL_SDK_DISABLED=true`` or an ``OTEL_<SIGNAL>_EXPORTER`` that does not name ``otlp``, so that
nothing tries to reach ``localhost:4317`` by default.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from obsstack.core.spec import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

Signal = Literal["traces", "logs"]
PROTOCOLS = ("http/protobuf", "grpc")

_instance: tuple[int, str] | None = None


def export_configured(signal: Signal, env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for ``signal`` to be exported over OTLP."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get(f"OTEL_{signal.upper()}_EXPORTER", "").strip().lower()
    if exporters and "otlp" not in {name.strip() for name in exporters.split(",")}:
        return False  # "none", or only exporters obsstack does not set up (console)
    return bool(
        env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def protocol(signal: Signal, env: Mapping[str, str] | None = None) -> str:
    """``http/protobuf`` (the default) or ``grpc``: ``OTEL_EXPORTER_OTLP_(<SIGNAL>_)PROTOCOL``."""
    env = os.environ if env is None else env
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = env.get(name, "").strip()
        if value:
            if value not in PROTOCOLS:
                raise ConfigError(
                    name, "", f"must be one of {', '.join(PROTOCOLS)} (got {value!r})"
                )
            return value
    return "http/protobuf"


def instance_id() -> str:
    """A random id for this process (``service.instance.id``): workers and replicas of one
    service tell their telemetry apart. A forked child gets its own."""
    global _instance
    if _instance is None or _instance[0] != os.getpid():
        _instance = (os.getpid(), str(uuid.uuid4()))
    return _instance[1]


def service_resource(service_name: str, service_version: str | None = None) -> Resource:
    """The resource of a service's traces and logs: ``service.name``, ``service.instance.id``
    and, when given, ``service.version``; ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``
    override them and add others (``deployment.environment.name=prod``)."""
    from opentelemetry.sdk.resources import (
        SERVICE_INSTANCE_ID,
        SERVICE_NAME,
        SERVICE_VERSION,
        OTELResourceDetector,
        Resource,
    )

    attributes: dict[str, str] = {SERVICE_NAME: service_name, SERVICE_INSTANCE_ID: instance_id()}
    if service_version:
        attributes[SERVICE_VERSION] = service_version
    from_environment = OTELResourceDetector().detect().attributes
    return Resource.create({**attributes, **from_environment})
