"""Running probes: time budgets, retries, circuit breakers and one probe in flight per dependency.

Probe kinds only talk to their dependency; everything they share lives here, once. A probe's
time budget is the dependency's own; a scrape's budget only bounds how long that scrape waits.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from obsstack.core import naming
from obsstack.core.redaction import clean_text
from obsstack.probe.config import CircuitPolicy, Config, Dependency
from obsstack.probe.kinds import kind as kind_module
from obsstack.probe.model import Kept, ProbeFailure, Report

log = logging.getLogger("obsstack.probe")

# The shortest time a scrape waits for results, whatever X-Prometheus-Scrape-Timeout-Seconds
# says (unless the configured scrape budget itself is shorter): a client asking for less still
# gets the results of healthy dependencies, and gets them a little late.
MIN_SCRAPE_BUDGET = 1.0
# Text a dependency sent (error replies, codes, statuses, headers) is cut to this length.
MAX_DETAIL_CHARS = 256

# Below this, another attempt would not have a fair chance to finish: do not retry.
_MIN_ATTEMPT_SECONDS = 0.05
# How long past a probe's deadline a scrape waits for it to record its own timeout (a
# cancelled probe closes its socket first). Well inside the 0.5 s kept below Prometheus'
# scrape timeout.
_SETTLE_SECONDS = 0.1
# How long a scrape waits for a trial probe while the circuit is open: twice what the
# dependency's last healthy probe took, with a fresh connect (a trial has no kept connection),
# within these bounds. A recovered dependency answers in that time and is reported up by this
# scrape; a hung one costs the scrape no more than the upper bound.
_MIN_TRIAL_WAIT = 0.05
_MAX_TRIAL_WAIT = 0.25


@dataclass(frozen=True)
class Outcome:
    """The result of one probe of one dependency."""

    up: bool
    duration: float
    timeout: float
    finished_at: float  # time.time()
    reason: str | None = None
    message: str = ""
    samples: dict[naming.MetricSpec, float] = field(default_factory=dict)
    attempts: int = 1
    short_circuited: bool = False  # the circuit was open: the network was not touched


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; closes at the first success.

    While it is open, each probe is a trial: one attempt without retries, which a scrape waits
    for only briefly (see :meth:`Prober.probe`). So a dead dependency costs neither retries
    nor slow scrapes, and a recovered one is seen by the first scrape after it recovers. With a
    ``cooldown``, trials are at least that far apart and the dependency is reported down
    without any network I/O in between.
    """

    def __init__(self, policy: CircuitPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self.clock = clock
        self.state = naming.CIRCUIT_CLOSED
        self.consecutive_failures = 0
        self.failed_at = 0.0  # end of the last failed probe, on ``clock``
        self.opens = 0

    @property
    def is_open(self) -> bool:
        return self.state == naming.CIRCUIT_OPEN

    def allow(self) -> bool:
        """Whether a probe may touch the network now: always, unless the circuit is open and
        the last trial ended less than ``cooldown`` ago."""
        cooldown = self.policy.cooldown
        if not self.is_open or cooldown is None:
            return True
        return self.clock() - self.failed_at >= cooldown

    def record(self, success: bool) -> None:
        if success:
            self.consecutive_failures = 0
            self.state = naming.CIRCUIT_CLOSED
            return
        self.consecutive_failures += 1
        self.failed_at = self.clock()
        if not self.is_open and self.consecutive_failures >= self.policy.failure_threshold:
            self.state = naming.CIRCUIT_OPEN
            self.opens += 1


@dataclass(frozen=True)
class Flight:
    """The probe of one dependency in flight, and the deadline it was given when it started."""

    task: asyncio.Task[Outcome]
    deadline: float  # on the prober's clock
    trial: bool  # started while the circuit was open: one attempt, waited for briefly


@dataclass
class DependencyState:
    """Everything the exporter remembers about one dependency between scrapes."""

    dependency: Dependency
    circuit: CircuitBreaker
    last: Outcome | None = None
    last_success: float | None = None
    healthy_duration: float | None = None  # how long the last successful probe took
    failures: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    inflight: Flight | None = None
    kept: Kept = field(default_factory=Kept)  # the connection the kind keeps between probes


class Prober:
    """Probes the configured dependencies; the single owner of their state."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.states = {
            d.name: DependencyState(d, CircuitBreaker(d.circuit, clock), kept=Kept(clock))
            for d in config.dependencies
        }

    def scrub(self, text: str) -> str:
        return self.config.secrets.scrub(text)

    def budget(self, scrape_timeout_header: str | None) -> float:
        """How long a scrape waits: min(configured scrape budget,
        X-Prometheus-Scrape-Timeout-Seconds - 0.5 s), the header's share never below
        MIN_SCRAPE_BUDGET."""
        budget = self.config.scrape_budget
        if scrape_timeout_header:
            try:
                offered = float(scrape_timeout_header) - 0.5
            except ValueError:
                return budget
            if math.isfinite(offered):
                budget = min(budget, max(offered, MIN_SCRAPE_BUDGET))
        return budget

    async def probe(self, name: str, budget: float) -> Outcome:
        """The result of a probe of one dependency, waiting at most ``budget`` seconds for it.

        Joins the probe in flight, or starts one. A probe always runs to its own timeout (the
        dependency's, capped by the configured scrape budget), whoever started it: a caller
        that cannot wait that long gets a timeout of its own, while the probe goes on and
        records its result for every scraper. So no caller's budget, however short, can make
        a dependency fail, count a failure or move its circuit breaker.
        """
        state = self.states[name]
        started = self.clock()
        flight = state.inflight
        if flight is None or flight.task.done():
            trial = state.circuit.is_open
            timeout = min(state.dependency.timeout, self.config.scrape_budget)
            # The deadline is fixed now, before the task is scheduled: a caller that can wait
            # until then always reads this probe's own result.
            deadline = started + timeout
            task = asyncio.create_task(
                self._run(state, deadline, timeout, trial), name=f"probe:{name}"
            )
            flight = state.inflight = Flight(task, deadline, trial)
        remaining = flight.deadline - started
        wait = remaining + _SETTLE_SECONDS if remaining <= budget else budget
        if flight.trial:
            wait = min(wait, self._trial_wait(state))
        try:
            # shield: a scrape that gives up must not cancel the probe other scrapes share.
            return await asyncio.wait_for(asyncio.shield(flight.task), timeout=wait)
        except TimeoutError:
            if flight.trial:
                return self._still_open(state, budget, self.clock() - started)
            return Outcome(
                up=False,
                duration=self.clock() - started,
                timeout=budget,
                finished_at=time.time(),
                reason=naming.REASON_TIMEOUT,
                message=f"no result within this request's budget of {budget:g}s; "
                "the probe goes on and its result is kept for the next scrapes",
            )

    def _trial_wait(self, state: DependencyState) -> float:
        healthy = state.healthy_duration
        if healthy is None:
            return _MIN_TRIAL_WAIT
        expected = healthy + state.kept.connect_duration
        return min(max(2 * expected, _MIN_TRIAL_WAIT), _MAX_TRIAL_WAIT)

    def _still_open(self, state: DependencyState, budget: float, waited: float) -> Outcome:
        """What a caller gets when a trial probe outlasts its short wait: still down."""
        last = state.last
        return Outcome(
            up=False,
            duration=waited,
            timeout=budget,
            finished_at=time.time(),
            reason=last.reason if last else naming.REASON_TIMEOUT,
            message=f"circuit open after {state.circuit.consecutive_failures} consecutive "
            "failures; a trial probe is still running and its result is kept for the next scrapes",
            short_circuited=True,
        )

    async def probe_all(
        self, budget: float, names: Iterable[str] | None = None
    ) -> dict[str, Outcome]:
        """Probe dependencies concurrently; the whole call is bounded by ``budget``."""
        selected = list(self.states) if names is None else list(names)
        outcomes = await asyncio.gather(*(self.probe(name, budget) for name in selected))
        return dict(zip(selected, outcomes, strict=True))

    async def aclose(self) -> None:
        """Cancel the probes in flight (on shutdown), then close the kept connections."""
        tasks = [
            state.inflight.task
            for state in self.states.values()
            if state.inflight is not None and not state.inflight.task.done()
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for state in self.states.values():
            state.kept.drop()

    async def refresh(self, budget: float) -> None:
        """Probe the dependencies whose last result is missing or older than ``stale_after``."""
        now = time.time()
        stale = [
            name
            for name, state in self.states.items()
            if state.last is None or now - state.last.finished_at > self.config.stale_after
        ]
        if stale:
            await self.probe_all(budget, stale)

    async def _run(
        self, state: DependencyState, deadline: float, timeout: float, trial: bool
    ) -> Outcome:
        dependency = state.dependency
        if not state.circuit.allow():
            last = state.last
            cooldown = dependency.circuit.cooldown or 0.0
            wait = cooldown - (self.clock() - state.circuit.failed_at)
            outcome = Outcome(
                up=False,
                duration=0.0,
                timeout=timeout,
                finished_at=time.time(),
                reason=last.reason if last else None,
                message=f"circuit open after {state.circuit.consecutive_failures} consecutive "
                f"failures: no trial for {cooldown:g}s after a failed one (next in {wait:.3g}s)",
                short_circuited=True,
            )
            self._remember(state, outcome, naming.CIRCUIT_OPEN)
            return outcome
        attempts = 1 if trial else dependency.retry.attempts
        outcome = await self._attempts(state, deadline, timeout, attempts)
        before = state.circuit.state
        state.circuit.record(outcome.up)
        if outcome.up:
            state.last_success = outcome.finished_at
            state.healthy_duration = outcome.duration
        else:
            assert outcome.reason is not None
            state.failures[outcome.reason] += 1
        self._remember(state, outcome, before)
        return outcome

    async def _attempts(
        self, state: DependencyState, deadline: float, timeout: float, attempts: int
    ) -> Outcome:
        """Run the kind's probe, retrying transient failures with backoff until ``deadline``,
        ``attempts`` times at most."""
        dependency = state.dependency
        kind = kind_module(dependency.kind)
        started = deadline - timeout
        backoff = dependency.retry.initial_backoff
        attempt = 0
        while True:
            attempt += 1
            report = Report()
            remaining = deadline - self.clock()
            try:
                async with asyncio.timeout(remaining):
                    await kind.probe(dependency.settings, remaining, report, state.kept)
                return self._outcome(True, started, timeout, report, attempt)
            except ProbeFailure as failure:
                reason, message, transient = failure.reason, str(failure), failure.transient
            except TimeoutError:
                reason, message, transient = (
                    naming.REASON_TIMEOUT,
                    f"no answer within {timeout:g}s",
                    False,
                )
            except Exception as exc:  # a driver error the kind did not classify
                reason, message, transient = (
                    naming.REASON_PROTOCOL,
                    f"{type(exc).__name__}: {exc}",
                    False,
                )
            pause = min(backoff, dependency.retry.max_backoff) * random.uniform(0.5, 1.0)
            if (
                transient
                and attempt < attempts
                and deadline - self.clock() - pause >= _MIN_ATTEMPT_SECONDS
            ):
                state.retries += 1
                backoff *= 2
                await asyncio.sleep(pause)
                continue
            # The message may quote the dependency (an error reply, a code, a header): it is
            # scrubbed of secrets, cleared of control characters and cut before anyone sees it.
            message = clean_text(message, self.scrub, MAX_DETAIL_CHARS)
            return self._outcome(False, started, timeout, report, attempt, reason, message)

    def _outcome(
        self,
        up: bool,
        started: float,
        timeout: float,
        report: Report,
        attempts: int,
        reason: str | None = None,
        message: str = "",
    ) -> Outcome:
        return Outcome(
            up=up,
            duration=self.clock() - started,
            timeout=timeout,
            finished_at=time.time(),
            reason=reason,
            message=message,
            samples=report.samples,
            attempts=attempts,
        )

    def _remember(self, state: DependencyState, outcome: Outcome, before: int) -> None:
        """Store the outcome; log a change of up/down or circuit state once, not every scrape."""
        previous = state.last
        state.last = outcome
        dependency = state.dependency
        fields = {"dependency": dependency.name, "kind": dependency.kind}
        if previous is None or previous.up != outcome.up:
            if outcome.up:
                log.info("dependency up", extra=fields)
            elif not outcome.short_circuited:
                log.warning(
                    "dependency down",
                    extra={**fields, "reason": outcome.reason, "error": outcome.message},
                )
        after = state.circuit.state
        # Logged once each: closed -> open, and open -> closed. A failed trial is not logged:
        # to the reader the circuit simply stayed open.
        if before == naming.CIRCUIT_CLOSED and after == naming.CIRCUIT_OPEN:
            log.warning(
                "circuit opened",
                extra={**fields, "failures": state.circuit.consecutive_failures},
            )
        elif before == naming.CIRCUIT_OPEN and after == naming.CIRCUIT_CLOSED:
            log.info("circuit closed", extra=fields)
