"""The traffic generator's connections, against ``HttpDouble`` (a plain HTTP/1.1 server that
keeps connections alive and tells how long each was idle before a request)."""

from __future__ import annotations

import asyncio

from obsstack.demo.settings import IDLE_CONNECTION_SECONDS
from obsstack.demo.traffic import TrafficSettings, http_client
from tests.support.doubles import HttpDouble, Reply


async def test_a_connection_idle_for_over_a_second_is_not_reused():
    """A server closing idle connections after 2 s (gunicorn) or 5 s (uvicorn) never closes one
    under a request of the generator: a reset there would count as a transport error."""
    double = HttpDouble({}, fallback=lambda request: Reply(200, "ok"))
    try:
        async with http_client(TrafficSettings(target=double.url)) as client:
            await client.get("/first")
            await asyncio.sleep(0.2)
            await client.get("/soon-after")
            await asyncio.sleep(IDLE_CONNECTION_SECONDS + 0.5)
            await client.get("/after-a-pause")
    finally:
        double.close()
    first, soon, late = double.requests
    assert first.idle is None
    assert soon.idle is not None and 0.2 <= soon.idle < IDLE_CONNECTION_SECONDS
    assert late.idle is None, f"reused after {late.idle:.1f} s idle"
