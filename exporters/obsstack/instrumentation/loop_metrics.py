"""Lock-free histograms and gauges for the middleware's hot path.

The middleware only ever runs on the event loop's thread, so its samples need no lock:
a list slot incremented by one thread is all a histogram bucket needs. prometheus-client's
metrics take a lock per value (two per observation); on a cheap route those locks are a
measurable share of the request. ``/metrics`` reads these (from another thread) without
stopping the loop; a scrape may see a bucket a few microseconds newer than the sum, as it may
with prometheus-client's own metrics. Multi-process mode uses prometheus-client's metrics
instead, which keep their values in shared files.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from obsstack.core import naming


class LoopHistogram:
    """One labelled series of a histogram: counts per bucket (the last one +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "exemplars", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds  # ends with +Inf
        self.counts = [0] * len(bounds)
        self.exemplars: list[Exemplar | None] = [None] * len(bounds)
        self.sum = 0.0

    def observe(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        index = bisect_left(self.bounds, value)
        self.counts[index] += 1
        self.sum += value
        if exemplar:
            self.exemplars[index] = Exemplar(exemplar, value, time.time())


class LoopGauge:
    """One labelled series of a gauge."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


class LoopFamily:
    """The labelled series of one metric spec."""

    def __init__(self, spec: naming.MetricSpec, buckets: Sequence[float] = ()) -> None:
        self.spec = spec
        self.bounds = (*buckets, float("inf")) if spec.type == "histogram" else ()
        self.series: dict[tuple[str, ...], LoopHistogram | LoopGauge] = {}

    def labels(self, *values: str) -> LoopHistogram | LoopGauge:
        series = self.series.get(values)
        if series is None:
            if len(values) != len(self.spec.labels):
                raise ValueError(
                    f"{self.spec.name} has labels {', '.join(self.spec.labels)}: "
                    f"got {len(values)} values"
                )
            series = LoopHistogram(self.bounds) if self.bounds else LoopGauge()
            self.series[values] = series
        return series

    def collect(self) -> Metric:
        labels = list(self.spec.labels)
        if not self.bounds:
            gauge = GaugeMetricFamily(self.spec.name, self.spec.help, labels=labels)
            for values, series in list(self.series.items()):
                assert isinstance(series, LoopGauge)
                gauge.add_metric(list(values), series.value)
            return gauge
        family = HistogramMetricFamily(self.spec.name, self.spec.help, labels=labels)
        les = [floatToGoString(bound) for bound in self.bounds]  # type: ignore[no-untyped-call]
        for values, series in list(self.series.items()):
            assert isinstance(series, LoopHistogram)
            counts, exemplars = list(series.counts), list(series.exemplars)
            cumulative = 0.0
            buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
            for le, count, exemplar in zip(les, counts, exemplars, strict=True):
                cumulative += count
                buckets.append((le, cumulative) if exemplar is None else (le, cumulative, exemplar))
            family.add_metric(list(values), buckets, series.sum)
        return family


class LoopCollector(Collector):
    """Renders loop families for a prometheus-client registry."""

    def __init__(self, families: Sequence[LoopFamily]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.collect()
