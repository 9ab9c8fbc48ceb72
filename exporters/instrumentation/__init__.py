"""Instrumentation for the platform's FastAPI services, in two lines::

from exporters.instrumentation import instrument_app
from exporters.logs import configure_logging

configure_logging()
instrument_app(app, service_name="saas-api")
"""

from exporters.instrumentation.business import BusinessMetrics
from exporters.instrumentation.cardinality import LabelCap, RankedCap
from exporters.instrumentation.http_metrics import DEFAULT_DURATION_BUCKETS, DEFAULT_SIZE_BUCKETS
from exporters.instrumentation.multiprocess import prepare_multiprocess_dir
from exporters.instrumentation.setup import DEFAULT_EXCLUDED_PATHS, Instrumentation, instrument_app
from exporters.instrumentation.tracing import configure_tracing, tracing_configured
from exporters.logs import configure_logging, set_tenant

__all__ = [
    "DEFAULT_DURATION_BUCKETS",
    "DEFAULT_EXCLUDED_PATHS",
    "DEFAULT_SIZE_BUCKETS",
    "BusinessMetrics",
    "Instrumentation",
    "LabelCap",
    "RankedCap",
    "configure_logging",
    "configure_tracing",
    "instrument_app",
    "prepare_multiprocess_dir",
    "set_tenant",
    "tracing_configured",
]
