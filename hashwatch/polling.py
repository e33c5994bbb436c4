"""Background polling of remote APIs, each job on its own interval, for exporters that cache.

Prometheus scrapes read the cache and never wait for a remote service. Each
job keeps its last good value and when it was fetched; a failure keeps the
value (its age shows in the last-success time) and stretches the next poll:
interval × 2^failures up to a ceiling, or longer when the server's
Retry-After asks for it. Used by the Ocean and market exporters.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .shape import ImplausibleValue, ShapeError

log = logging.getLogger(__name__)

# A server asking for more than a day between requests is not taken literally.
MAX_RETRY_AFTER_SECONDS = 86400.0


class FetchError(RuntimeError):
    """A failed fetch. `kind` is a short metric label value (timeout, rate_limited, ...)."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class PollJob:
    name: str  # what is polled: an endpoint or a source (a metric label value)
    key: str  # whom it is polled for (an address), "" when global
    interval: float  # seconds between successful polls
    fetch: Callable[[], Awaitable[Any]]  # the parsed value; raises FetchError or ShapeError (ImplausibleValue)


@dataclass
class PollState:
    """What is known from one job."""

    value: Any = None  # the last good value, kept through failures
    last_success: float | None = None  # unix time
    up: bool | None = None  # did the last poll succeed (None: not polled yet)
    failures: int = 0  # consecutive
    last_error: str = ""
    next_delay: float = 0.0  # seconds until the next poll, as last scheduled


class Poller:
    def __init__(
        self, jobs: list[PollJob], max_backoff: float, label: str, clock: Callable[[], float] = time.time
    ):
        self.jobs = jobs
        self.max_backoff = max_backoff
        self.label = label  # names the exporter in log lines
        self.clock = clock
        self.states: dict[tuple[str, str], PollState] = {(job.name, job.key): PollState() for job in jobs}
        self.requests: Counter[tuple[str, str]] = Counter()  # (job name, result) -> count
        self._shapes_logged: set[tuple[str, str]] = set()
        self._tasks: list[asyncio.Task] = []

    def state(self, name: str, key: str = "") -> PollState:
        return self.states[(name, key)]

    def value(self, name: str, key: str = "") -> Any:
        return self.states[(name, key)].value

    def job(self, name: str, key: str = "") -> PollJob:
        return next(job for job in self.jobs if (job.name, job.key) == (name, key))

    async def poll_once(self, job: PollJob) -> PollState:
        """One fetch; updates the job's state and returns it. Never raises for the remote side's faults."""
        state = self.states[(job.name, job.key)]
        try:
            value = await job.fetch()
        except FetchError as exc:
            return self._failed(job, state, exc.kind, str(exc), exc.retry_after)
        except ShapeError as exc:  # unknown_shape, or implausible (an ImplausibleValue)
            if (job.name, exc.kind) not in self._shapes_logged:
                # Once per job name and kind: a changed API would otherwise flood the log.
                self._shapes_logged.add((job.name, exc.kind))
                what = "implausible value" if isinstance(exc, ImplausibleValue) else "unknown reply shape"
                log.warning("%s %s: %s, keeping the last good value: %s", self.label, job.name, what, exc)
            return self._failed(job, state, exc.kind, str(exc), None)
        except Exception as exc:  # a parser bug must not stop polling
            log.exception("%s %s: unexpected error", self.label, job.name)
            return self._failed(job, state, "internal_error", f"{type(exc).__name__}: {exc}", None)
        self.requests[(job.name, "success")] += 1
        state.value, state.last_success, state.up = value, self.clock(), True
        state.failures, state.last_error = 0, ""
        state.next_delay = job.interval
        return state

    def _failed(self, job: PollJob, state: PollState, kind: str, message: str, retry_after: float | None) -> PollState:
        self.requests[(job.name, kind)] += 1
        state.up, state.last_error = False, message
        state.failures += 1
        delay = min(self.max_backoff, job.interval * 2 ** min(state.failures, 16))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        state.next_delay = delay
        log.info("%s %s failed (%s), next try in %.0f s: %s", self.label, job.name, kind, delay, message)
        return state

    async def _loop(self, job: PollJob) -> None:
        # Spread the first requests out instead of one burst.
        await asyncio.sleep(random.uniform(0, min(job.interval, 5.0)) / 10)
        while True:
            state = await self.poll_once(job)
            jitter = random.uniform(0.95, 1.05)  # many exporters never poll in lockstep
            await asyncio.sleep(state.next_delay * jitter)

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.ensure_future(self._loop(job)) for job in self.jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
