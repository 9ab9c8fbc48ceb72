"""``/metrics`` of an instrumented service: content negotiation, gzip and multi-process merging."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from obsstack.core.asgi import Receive, Scope, Send
from obsstack.core.exposition import render


class MetricsEndpoint:
    """An ASGI endpoint serving a registry, or the merged files of every worker."""

    def __init__(self, registry: CollectorRegistry, multiprocess_dir: Path | None) -> None:
        self.registry = registry
        self.multiprocess_dir = multiprocess_dir

    def collect(self, accept: str) -> tuple[bytes, str]:
        if self.multiprocess_dir is None:
            return render(self.registry, accept)
        # A fresh registry per scrape: the files of every worker, live or dead, merged.
        merged = CollectorRegistry()
        MultiProcessCollector(merged, str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return render(merged, accept)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        accept = headers.get(b"accept", b"").decode("latin-1")
        # Rendering is CPU work that grows with the series count: keep it off the event loop.
        body, content_type = await asyncio.to_thread(self.collect, accept)
        response_headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"vary", b"accept, accept-encoding"),
            (b"cache-control", b"no-store"),
        ]
        if b"gzip" in headers.get(b"accept-encoding", b"").lower():
            body = gzip.compress(body, compresslevel=5)
            response_headers.append((b"content-encoding", b"gzip"))
        response_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
