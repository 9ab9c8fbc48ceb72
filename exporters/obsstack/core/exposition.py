"""What every obsstack ``/metrics`` shares: the encoding a scraper asks for, a body rendered
once per change of what it shows, and ``obsstack_build_info``."""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from obsstack.core import __version__, naming

Encoder = Callable[[Collector], bytes]


def render(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """``registry`` as Prometheus text, or OpenMetrics (with exemplars) when ``accept`` (the
    request's Accept header) asks for it; the body and its content type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


class Collectors:
    """Several collectors as one, in order (what a registry of them would collect)."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = tuple(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


@dataclass
class _Format:
    """One format scrapers asked for: its encoder, what it ends every body with (OpenMetrics:
    ``# EOF``), and the cached parts rendered in it (all but the last without that end)."""

    encoder: Encoder
    trailer: bytes
    tail: bytes
    head: bytes | None = None

    def render(self, collectors: Collectors) -> bytes:
        return self.encoder(collectors).removesuffix(self.trailer)


class CachedExposition:
    """A ``/metrics`` body rendered once per change of what it shows, but for a live part.

    The body is ``head``, ``live`` then ``tail``, byte for byte what :func:`render` makes of a
    registry holding the three in that order. ``head`` is rendered once after each
    :meth:`changed`, ``tail`` (metrics that never change, e.g. the Python version) once, in
    each format scrapers negotiated (the ``formats`` most recently asked for); ``live`` (the
    process's CPU and memory) is rendered at every scrape.
    """

    def __init__(
        self,
        head: Sequence[Collector],
        live: Sequence[Collector],
        tail: Sequence[Collector] = (),
        formats: int = 4,
    ) -> None:
        self.head = Collectors(head)
        self.live = Collectors(live)
        self.tail = Collectors(tail)
        self.formats = formats
        self._formats: dict[str, _Format] = {}  # by content type, least recently asked first
        self._pending = False

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The body for the request's Accept header, and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        known = self._formats.pop(content_type, None)
        if known is None:
            known = _Format(encoder, encoder(Collectors(())), encoder(self.tail))
            while len(self._formats) >= self.formats:
                del self._formats[next(iter(self._formats))]
        self._formats[content_type] = known
        if known.head is None:
            known.head = known.render(self.head)
        return known.head + known.render(self.live) + known.tail, content_type

    def changed(self) -> None:
        """What ``head`` shows has changed: no scrape shows the old body any more, and the
        formats asked for are rendered again as soon as the event loop may."""
        for known in self._formats.values():
            known.head = None
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_soon(self._render_heads)

    def _render_heads(self) -> None:
        self._pending = False
        for known in list(self._formats.values()):
            if known.head is None:
                known.head = known.render(self.head)


def build_info() -> InfoMetricFamily:
    """``obsstack_build_info{version, python_version} 1``."""
    info = InfoMetricFamily(naming.BUILD_INFO.family, naming.BUILD_INFO.help)
    info.add_metric([], {"version": __version__, "python_version": platform.python_version()})
    return info
