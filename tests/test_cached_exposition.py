"""A /metrics body rendered once per change: what it serves between changes, after one, and in
every format a scraper may negotiate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from obsstack.core.exposition import CachedExposition, render

ACCEPTS = [
    "*/*",
    "text/plain;version=0.0.4",
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    "text/plain;version=1.0.0;escaping=dots",
]
FORMATS = ACCEPTS[1:]  # */* gets the text format too


class Values(Collector):
    """A gauge and a labelled counter with values the test sets; counts its collections."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.value = 1.0
        self.collections = 0

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        self.collections += 1
        yield GaugeMetricFamily(f"{self.prefix}_level", "A level.", value=self.value)
        counter = CounterMetricFamily(f"{self.prefix}_events", 'Events "seen".', labels=["kind"])
        counter.add_metric(['a "quoted"\nvalue'], self.value * 2)
        yield counter


class Version(Collector):
    def collect(self) -> Iterator[InfoMetricFamily]:
        yield InfoMetricFamily("test_runtime", "The runtime.", value={"version": "1.2"})


def registry_of(*collectors: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


async def test_the_body_is_what_one_registry_of_the_three_parts_renders():
    head, live, tail = Values("test_cached"), Values("test_live"), Version()
    exposition = CachedExposition([head], [live], [tail])
    registry = registry_of(head, live, tail)
    for accept in ACCEPTS:
        for value in (1.0, 2.5):
            head.value = live.value = value
            exposition.changed()
            assert exposition.render(accept) == render(registry, accept), accept


async def test_the_cached_part_changes_only_when_told_and_the_live_part_at_every_scrape():
    head, live = Values("test_cached"), Values("test_live")
    exposition = CachedExposition([head], [live])
    first, _ = exposition.render(ACCEPTS[2])
    head.value = live.value = 7.0
    second, _ = exposition.render(ACCEPTS[2])
    assert b"test_cached_level 1.0\n" in second
    assert b"test_live_level 7.0\n" in second
    assert first != second
    exposition.changed()
    assert b"test_cached_level 7.0\n" in exposition.render(ACCEPTS[2])[0]
    assert b"test_cached_level 7.0\n" in exposition.render(ACCEPTS[1])[0]


async def test_the_cached_part_is_rendered_once_per_change_in_each_format_asked_for():
    head = Values("test_cached")
    exposition = CachedExposition([head], [])
    for _ in range(5):
        for accept in FORMATS[:2]:
            exposition.render(accept)
    assert head.collections == 2
    head.value = 3.0
    exposition.changed()
    await asyncio.sleep(0)  # both formats are rendered again before the next scrape comes
    assert head.collections == 4
    for accept in FORMATS[:2]:
        assert b"test_cached_level 3.0\n" in exposition.render(accept)[0]
    assert head.collections == 4


async def test_formats_beyond_the_limit_are_forgotten_and_still_served_right():
    head = Values("test_cached")
    exposition = CachedExposition([head], [], formats=2)
    bodies = [exposition.render(accept) for _ in range(2) for accept in FORMATS]
    assert head.collections == 2 * len(FORMATS)  # each one forgotten before it came again
    head.value = 4.0
    exposition.changed()
    await asyncio.sleep(0)
    assert head.collections == 2 * len(FORMATS) + 2  # the two last ones, rendered again
    head.value = 1.0
    registry = registry_of(head)
    assert bodies == [render(registry, accept) for _ in range(2) for accept in FORMATS]
