"""What every obsstack ``/metrics`` shares: the encoding a scraper asks for, and
``obsstack_build_info``."""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry
from prometheus_client.core import InfoMetricFamily
from prometheus_client.exposition import choose_encoder

from obsstack.core import __version__, naming


def render(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """``registry`` as Prometheus text, or OpenMetrics (with exemplars) when ``accept`` (the
    request's Accept header) asks for it; the body and its content type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def build_info() -> InfoMetricFamily:
    """``obsstack_build_info{version, python_version} 1``."""
    info = InfoMetricFamily(naming.BUILD_INFO.family, naming.BUILD_INFO.help)
    info.add_metric([], {"version": __version__, "python_version": platform.python_version()})
    return info
