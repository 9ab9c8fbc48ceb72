"""Metric families for ``/metrics`` and ``/probe``, built from the naming module's specs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from obsstack.core import naming
from obsstack.core.exposition import build_info
from obsstack.probe.engine import DependencyState, Outcome, Prober


class Families:
    """Metric families keyed by spec, created on first use, yielded in creation order."""

    def __init__(self) -> None:
        self._families: dict[naming.MetricSpec, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(self, spec: naming.MetricSpec, labels: Iterable[str], value: float) -> None:
        family = self._families.get(spec)
        if family is None:
            family = _new_family(spec)
            self._families[spec] = family
        family.add_metric(list(labels), value)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())


def _new_family(spec: naming.MetricSpec) -> GaugeMetricFamily | CounterMetricFamily:
    labels = list(spec.labels)
    if spec.type == "counter":
        return CounterMetricFamily(spec.family, spec.help, labels=labels)
    if spec.type == "gauge":
        return GaugeMetricFamily(spec.name, spec.help, labels=labels)
    raise ValueError(f"{spec.name}: {spec.type} is not rendered by the probe exporter")


def add_samples(families: Families, state: DependencyState, outcome: Outcome) -> None:
    """The kind-specific detail gauges of one outcome."""
    labels = (state.dependency.name, state.dependency.kind)
    for spec, value in outcome.samples.items():
        families.add(spec, labels, value)


class StateCollector(Collector):
    """Renders what the prober knows: the contract shared with dashboards and alert rules."""

    def __init__(self, prober: Prober) -> None:
        self.prober = prober

    def collect(self) -> Iterator[Metric]:
        families = Families()
        for state in self.prober.states.values():
            labels = (state.dependency.name, state.dependency.kind)
            outcome = state.last
            if outcome is not None:
                families.add(naming.DEPENDENCY_UP, labels, outcome.up)
                families.add(naming.DEPENDENCY_PROBE_DURATION, labels, outcome.duration)
                families.add(naming.DEPENDENCY_PROBE_TIMEOUT, labels, outcome.timeout)
            for reason in naming.FAILURE_REASONS:
                families.add(
                    naming.DEPENDENCY_PROBE_FAILURES, (*labels, reason), state.failures[reason]
                )
            families.add(naming.DEPENDENCY_PROBE_RETRIES, labels, state.retries)
            families.add(naming.DEPENDENCY_CIRCUIT_STATE, labels, state.circuit.state)
            families.add(naming.DEPENDENCY_CIRCUIT_OPENS, labels, state.circuit.opens)
            if state.last_success is not None:
                families.add(naming.DEPENDENCY_LAST_SUCCESS, labels, state.last_success)
        for state in self.prober.states.values():
            if state.last is not None:
                add_samples(families, state, state.last)
        yield from families
        yield build_info()


class ProbeCollector(Collector):
    """Blackbox-style result of a single probe, for a registry made for one request."""

    def __init__(self, state: DependencyState, outcome: Outcome) -> None:
        self.state = state
        self.outcome = outcome

    def collect(self) -> Iterator[Metric]:
        families = Families()
        families.add(naming.PROBE_SUCCESS, (), self.outcome.up)
        families.add(naming.PROBE_DURATION, (), self.outcome.duration)
        families.add(naming.PROBE_TIMEOUT, (), self.outcome.timeout)
        add_samples(families, self.state, self.outcome)
        yield from families
        if self.outcome.reason is not None:
            failure = InfoMetricFamily(
                naming.PROBE_FAILURE_REASON.family, naming.PROBE_FAILURE_REASON.help
            )
            failure.add_metric([], {naming.REASON: self.outcome.reason})
            yield failure
