"""Instrumentation for the platform's FastAPI services, in two lines::

from obsstack.instrumentation import instrument_app
from obsstack.core.logs import configure_logging

configure_logging()
instrument_app(app, service_name="saas-api")
"""

from obsstack.core.cardinality import LabelCap, RankedCap
from obsstack.core.logs import configure_logging, set_tenant
from obsstack.instrumentation.business import BusinessMetrics
from obsstack.instrumentation.http_metrics import DEFAULT_DURATION_BUCKETS, DEFAULT_SIZE_BUCKETS
from obsstack.instrumentation.multiprocess import prepare_multiprocess_dir
from obsstack.instrumentation.setup import DEFAULT_EXCLUDED_PATHS, Instrumentation, instrument_app
from obsstack.instrumentation.tracing import configure_tracing, tracing_configured

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
