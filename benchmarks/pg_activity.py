"""What PostgreSQL is running for an exporter, sampled from pg_stat_activity every few ms."""

from __future__ import annotations

import asyncio
import bisect
import threading
import time

import asyncpg

NOTHING, SLEEPING, SCANNING = 0, 1, 2  # what KPI queries PostgreSQL is running


class ActivitySampler:
    """Samples, every few ms, what KPI queries are running: none, only the one sleeping in
    PostgreSQL, or one reading tables."""

    def __init__(
        self, port: int, application: str = "obsstack-kpis", period: float = 0.004
    ) -> None:
        self.port = port
        self.application = application
        self.period = period
        self.times: list[float] = []
        self.states: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)

    async def _watch(self) -> None:
        connection = await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres")
        statement = await connection.prepare(
            "SELECT count(*) FILTER (WHERE query NOT LIKE '%pg_sleep%') AS scanning, "
            "count(*) AS running FROM pg_stat_activity "
            "WHERE application_name = $1 AND state = 'active'"
        )
        while not self._stop.is_set():
            row = await statement.fetchrow(self.application)
            state = SCANNING if row["scanning"] else SLEEPING if row["running"] else NOTHING
            self.times.append(time.monotonic())
            self.states.append(state)
            await asyncio.sleep(self.period)
        await connection.close()

    def during(self, start: float, end: float) -> int:
        """The busiest state sampled in [start, end], the sample just before included."""
        first = max(0, bisect.bisect_right(self.times, start) - 1)
        last = bisect.bisect_right(self.times, end)
        return max(self.states[first : max(last, first + 1)], default=NOTHING)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
