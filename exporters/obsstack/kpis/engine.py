"""Running the KPI queries on their own schedules and caching what they returned.

Each KPI has its own task: it runs the query in a read-only transaction under a server-side
``statement_timeout`` (so PostgreSQL itself cancels a runaway query), bounded on the client side
too, reads at most ``max_rows`` rows, then replaces the cached samples and tells the listeners
(the server renders its ``/metrics`` body again). ``/metrics`` only reads the cache: a slow
query never slows a scrape. Label sets a run no longer returns disappear; a failed run keeps
the last good samples until they are ``stale_after`` old.

A KPI runs one query at a time, so a pool with a connection per KPI (the default) never makes
one wait. A smaller pool is shared fairly: the KPIs whose last query was slow (over half their
timeout) share all connections but one, which is left for the others. Every new connection
first checks that the role may only read (:mod:`obsstack.kpis.privileges`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from obsstack.core.cardinality import RankedCap
from obsstack.core.postgres_connection import connect_arguments
from obsstack.kpis import privileges
from obsstack.kpis.config import Config, Kpi
from obsstack.kpis.slow_lane import SlowLane

log = logging.getLogger("obsstack.kpis")
APPLICATION_NAME = "obsstack-kpis"
# Beyond the statement_timeout, how long the client waits for the server to answer at all.
_CLIENT_GRACE = 1.0


class KpiError(Exception):
    """A query ran but its result cannot be turned into samples."""


@dataclass
class KpiState:
    """What the exporter remembers about one KPI between runs."""

    kpi: Kpi
    cap: RankedCap
    samples: dict[tuple[str, ...], float] = field(default_factory=dict)
    success: bool | None = None  # None until the first run finished
    duration: float = 0.0
    last_success: float | None = None  # time.time()
    last_error: str = ""
    runs: int = 0
    slow: bool = False  # the last query took over half the timeout: it waits in the slow lane
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one run at a time


def to_value(value: Any, column: str) -> float | None:
    """A result cell as a sample value: numbers, booleans and timestamps (Unix seconds)."""
    if value is None:
        return None
    if isinstance(value, bool | int | float | decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    if isinstance(value, dt.timedelta):
        return float(value.total_seconds())
    raise KpiError(f"column {column!r} holds {type(value).__name__}, not a number")


def to_samples(kpi: Kpi, rows: Sequence[Any]) -> list[tuple[tuple[str, ...], float]]:
    """(label values, value) per row; rows whose value is NULL are left out."""
    out: list[tuple[tuple[str, ...], float]] = []
    seen: set[tuple[str, ...]] = set()
    for row in rows:
        columns = list(row.keys())
        for needed in (*kpi.labels, kpi.value):
            if needed not in columns:
                raise KpiError(
                    f"column {needed!r} is not in the result (columns: {', '.join(columns)})"
                )
        labels = tuple("" if row[label] is None else str(row[label]) for label in kpi.labels)
        if labels in seen:
            raise KpiError(f"label values {labels} appear in more than one row")
        seen.add(labels)
        value = to_value(row[kpi.value], kpi.value)
        if value is not None:
            out.append((labels, value))
    return out


class KpiEngine:
    """Owns the connection pool, the schedule of every KPI and their cached results."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.states = {kpi.name: KpiState(kpi, RankedCap(kpi.label_cap)) for kpi in config.kpis}
        self.pool: asyncpg.Pool | None = None
        # Called in the event loop after every run: what /metrics shows has changed.
        self.listeners: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.pool_size = config.database.max_connections or len(config.kpis)
        # With fewer connections than KPIs, slow KPIs may hold all connections but one.
        self._slow_lane = (
            SlowLane(self.pool_size - 1) if 1 < self.pool_size < len(config.kpis) else None
        )

    def _connect_arguments(self) -> dict[str, Any]:
        database = self.config.database
        return connect_arguments(
            database.connection,
            application_name=APPLICATION_NAME,
            # Bounds connection attempts, which a timed-out acquire() does not cancel.
            timeout=max(kpi.timeout for kpi in self.config.kpis),
            server_settings={"search_path": database.search_path} if database.search_path else {},
        )

    async def check_role(self) -> list[str]:
        """What the role may do beyond reading, on a connection of its own.

        Raises :class:`privileges.PrivilegedRole` for a privileged role unless the
        configuration allows it, and whatever connecting raises.
        """
        connection = await asyncpg.connect(**self._connect_arguments())
        try:
            return await privileges.check(connection, self.config.database.allow_privileged_role)
        finally:
            connection.terminate()

    async def _on_connect(self, connection: asyncpg.Connection) -> None:
        await privileges.check(connection, self.config.database.allow_privileged_role)

    async def start(self, schedule: bool = True) -> None:
        """Create the pool (no connection is opened yet) and start every KPI's schedule."""
        self.pool = await asyncpg.create_pool(
            **self._connect_arguments(),
            min_size=0,
            max_size=self.pool_size,
            init=self._on_connect,
        )
        for state in self.states.values() if schedule else ():
            self._tasks.append(asyncio.create_task(self._schedule(state), name=state.kpi.name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None

    async def _schedule(self, state: KpiState) -> None:
        # Spread the first runs so that KPIs with one interval do not all hit the database at once.
        await asyncio.sleep(random.uniform(0, min(1.0, state.kpi.interval / 10)))
        while True:
            started = time.monotonic()
            await self.run(state)
            await asyncio.sleep(max(0.0, state.kpi.interval - (time.monotonic() - started)))

    async def run(self, state: KpiState) -> None:
        """Run one KPI query now, record the outcome and tell :attr:`listeners`; never raises
        but for cancellation."""
        async with state.lock:
            await self._run(state)
        for listener in self.listeners:
            listener()

    async def _run(self, state: KpiState) -> None:
        kpi = state.kpi
        started = time.perf_counter()
        try:
            rows = await self._query(state)
            samples = state.cap.apply(to_samples(kpi, rows))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(state, time.perf_counter() - started, _describe(exc, kpi))
            return
        state.duration = time.perf_counter() - started
        state.samples = samples
        state.success = True
        state.last_success = self.clock()
        state.last_error = ""
        state.runs += 1

    def _failed(self, state: KpiState, duration: float, reason: str) -> None:
        state.duration = duration
        state.success = False
        state.last_error = reason
        state.runs += 1
        if state.last_success is None or self.clock() - state.last_success > state.kpi.stale_after:
            state.samples = {}
        log.warning("KPI query failed", extra={"kpi": state.kpi.name, "reason": reason})

    async def _query(self, state: KpiState) -> list[asyncpg.Record]:
        kpi = state.kpi
        if self.pool is None:
            raise RuntimeError("the engine is not started")
        deadline = time.monotonic() + kpi.timeout
        lane = self._slow_lane
        in_lane = False
        if lane is not None and state.slow:
            try:
                await asyncio.wait_for(lane.enter(), kpi.timeout)
            except TimeoutError:
                raise KpiError(
                    f"no connection within {kpi.timeout:g}s: the {lane.limit} connections "
                    "slow KPIs may share were busy"
                ) from None
            in_lane = True

        fired = False

        def turned_slow() -> None:
            nonlocal in_lane, fired
            fired = True
            state.slow = True
            if lane is not None and not in_lane:
                lane.join()
                in_lane = True

        timer: asyncio.TimerHandle | None = None
        try:
            try:
                connection = await self.pool.acquire(
                    timeout=max(0.001, deadline - time.monotonic())
                )
            except TimeoutError:
                raise KpiError(
                    f"no connection within {kpi.timeout:g}s (database not answering, or every "
                    f"connection busy, pool size {self.pool_size})"
                ) from None
            timer = asyncio.get_running_loop().call_later(kpi.timeout / 2, turned_slow)
            rows = await self._on_connection(kpi, connection)
            if not fired:
                state.slow = False  # answered within half its timeout
            return rows
        finally:
            if timer is not None:
                timer.cancel()
            if lane is not None and in_lane:
                lane.leave()

    async def _on_connection(
        self, kpi: Kpi, connection: asyncpg.Connection
    ) -> list[asyncpg.Record]:
        assert self.pool is not None
        fetch = asyncio.ensure_future(self._fetch(connection, kpi))
        try:
            done, _ = await asyncio.wait(
                {fetch}, timeout=kpi.timeout + min(_CLIENT_GRACE, kpi.timeout)
            )
            if done:
                return fetch.result()
            raise TimeoutError
        except asyncpg.PostgresError:
            raise  # the server answered (e.g. cancelled at statement_timeout): the session is fine
        except BaseException:
            # No answer in time, or this task was cancelled: close the socket first, so that
            # nothing (not even the rollback) waits on a server that does not answer.
            connection.terminate()
            fetch.cancel()
            await asyncio.gather(fetch, return_exceptions=True)
            raise
        finally:
            await self.pool.release(connection, timeout=1.0)

    @staticmethod
    async def _fetch(connection: Any, kpi: Kpi) -> list[asyncpg.Record]:
        async with connection.transaction(readonly=True):
            await connection.execute(
                f"SET LOCAL statement_timeout = {max(1, int(kpi.timeout * 1000))}"
            )
            # A cursor: never more than max_rows + 1 rows in memory, whatever the query returns.
            cursor = await connection.cursor(kpi.sql)
            rows: list[asyncpg.Record] = await cursor.fetch(kpi.max_rows + 1)
        if len(rows) > kpi.max_rows:
            raise KpiError(
                f"more than max_rows ({kpi.max_rows}) rows: aggregate in SQL, or raise max_rows"
            )
        return rows


def _describe(exc: BaseException, kpi: Kpi) -> str:
    if isinstance(exc, privileges.PrivilegedRole):
        return str(exc)
    if isinstance(exc, asyncpg.QueryCanceledError):
        return f"cancelled by the server after statement_timeout ({kpi.timeout:g}s)"
    if isinstance(exc, TimeoutError):
        return f"no answer within {kpi.timeout:g}s (+ grace): session terminated"
    if isinstance(exc, asyncpg.PostgresError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}"
