"""The KPI exporter's /metrics: the cached KPI samples and how each query fared."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from obsstack.core import naming
from obsstack.core.exposition import build_info
from obsstack.kpis.engine import KpiEngine


class KpiCollector(Collector):
    """Renders the cache of the engine; it never runs a query."""

    def __init__(self, engine: KpiEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        success = _gauge(naming.KPI_QUERY_SUCCESS)
        duration = _gauge(naming.KPI_QUERY_DURATION)
        last_success = _gauge(naming.KPI_LAST_SUCCESS)
        cap = _gauge(naming.KPI_LABEL_CAP)
        for state in self.engine.states.values():
            kpi = state.kpi
            family: Metric
            if kpi.type == "counter":
                family = CounterMetricFamily(
                    kpi.metric[: -len("_total")], kpi.help, labels=kpi.labels
                )
            else:
                family = GaugeMetricFamily(kpi.metric, kpi.help, labels=kpi.labels)
            for labels, value in sorted(state.samples.items()):
                family.add_metric(list(labels), value)
            yield family
            cap.add_metric([kpi.name], kpi.label_cap)
            if state.success is not None:
                success.add_metric([kpi.name], 1.0 if state.success else 0.0)
                duration.add_metric([kpi.name], state.duration)
            if state.last_success is not None:
                last_success.add_metric([kpi.name], state.last_success)
        yield from (success, duration, last_success, cap)
        yield build_info()


def _gauge(spec: naming.MetricSpec) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
