"""Reading what an instrumented service exposes on /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from obsstack.core import naming


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called ``name`` in Prometheus text, keyed by its sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def request_counts(text: str) -> dict[tuple[str, str, str], float]:
    """(method, route, status) -> requests counted by the duration histogram."""
    counts = samples(text, naming.HTTP_SERVER_REQUEST_DURATION.name + "_count")
    out = {}
    for labels, value in counts.items():
        d = dict(labels)
        key = (
            d[naming.HTTP_REQUEST_METHOD],
            d[naming.HTTP_ROUTE],
            d[naming.HTTP_RESPONSE_STATUS_CODE],
        )
        out[key] = value
    return out


def series_count(text: str) -> int:
    """How many series the text holds (what Prometheus would store)."""
    return sum(len(family.samples) for family in text_string_to_metric_families(text))
