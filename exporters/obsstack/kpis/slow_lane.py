"""Fair use of a connection pool smaller than the number of KPIs: slow queries never take all.

A KPI counts as slow when its last query took over half its timeout, or as soon as its running
query passes that mark. Slow KPIs hold at most ``limit`` connections together (the pool's size
minus one): a slow KPI waits for a place in the lane before it asks the pool for a connection,
and a query that turns slow while it runs takes a place at once, even beyond the limit (it
already holds its connection), which later slow KPIs then wait out.
"""

from __future__ import annotations

import asyncio
from collections import deque


class SlowLane:
    """Places for slow queries: ``enter`` waits for one, ``join`` takes one without waiting."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1 (got {limit})")
        self.limit = limit
        self.held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self) -> None:
        """Wait (first come, first served) until a slow query may take a connection."""
        while self.held >= self.limit or self._waiters:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_next()  # woken but gone: pass the place on
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if self.held < self.limit:
                break
        self.held += 1
        self._wake_next()  # room for more: the next in line need not wait for a leave

    def join(self) -> None:
        """A running query turned slow: it holds a place from now on."""
        self.held += 1

    def leave(self) -> None:
        self.held -= 1
        self._wake_next()

    def _wake_next(self) -> None:
        if self.held >= self.limit:
            return
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                return
