"""Background polling of Ocean's endpoints, each on its own interval.

Prometheus scrapes read the cache and never wait for Ocean. Each (endpoint,
address) pair keeps its last good value and when it was fetched; a failure
keeps the value (its age shows in the last-success timestamp) and stretches
the next poll: exponential backoff up to a ceiling, or longer when the
server's Retry-After asks for it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import parse
from .client import OceanClient, OceanError
from .config import OceanConfig

log = logging.getLogger(__name__)

# A server asking for more than a day between requests is not taken literally.
MAX_RETRY_AFTER_SECONDS = 86400.0


@dataclass(frozen=True)
class Endpoint:
    name: str  # the `endpoint` label
    path: Callable[[str], str]  # address (or "" for pool-wide endpoints) -> path under /v1
    parse: Callable[[Any], Any]
    interval: Callable[[OceanConfig], float]
    per_address: bool = True


def endpoints(config: OceanConfig) -> list[Endpoint]:
    since = config.earnings_since
    return [
        Endpoint("user_hashrate", lambda a: f"user_hashrate/{a}", parse.parse_user_hashrate, lambda c: c.intervals.hashrate),
        Endpoint("userinfo_full", lambda a: f"userinfo_full/{a}", parse.parse_userinfo_full, lambda c: c.intervals.hashrate),
        Endpoint(
            "user_hashrate_full", lambda a: f"user_hashrate_full/{a}", parse.parse_user_hashrate_full,
            lambda c: c.intervals.workers,
        ),
        Endpoint(
            # The whole history from `earnings_since`: cumulative paid is summed
            # from it, so it survives exporter restarts.
            "earnpay", lambda a: f"earnpay/{a}/{since}/{int(time.time())}", parse.parse_earnpay,
            lambda c: c.intervals.earnings,
        ),
        Endpoint("pool_stat", lambda _: "pool_stat", parse.parse_pool_stat, lambda c: c.intervals.pool, per_address=False),
        Endpoint(
            "pool_hashrate", lambda _: "pool_hashrate", parse.parse_pool_hashrate, lambda c: c.intervals.hashrate,
            per_address=False,
        ),
        Endpoint("blocks", lambda _: "blocks/0/100/0", parse.parse_blocks, lambda c: c.intervals.blocks, per_address=False),
    ]


@dataclass
class PollState:
    """What is known from one endpoint for one address ("" when pool-wide)."""

    value: Any = None  # the last good parsed result, kept through failures
    last_success: float | None = None  # unix time
    up: bool | None = None  # did the last poll succeed (None: not polled yet)
    failures: int = 0  # consecutive
    last_error: str = ""
    next_delay: float = 0.0  # seconds until the next poll, as last scheduled


class Poller:
    def __init__(self, client: OceanClient, config: OceanConfig, clock: Callable[[], float] = time.time):
        self.client = client
        self.config = config
        self.clock = clock
        self.endpoints = endpoints(config)
        self.states: dict[tuple[str, str], PollState] = {}
        for endpoint in self.endpoints:
            for address in config.addresses if endpoint.per_address else [""]:
                self.states[(endpoint.name, address)] = PollState()
        self.requests: Counter[tuple[str, str]] = Counter()  # (endpoint, result) -> count
        self._shapes_logged: set[str] = set()
        self._tasks: list[asyncio.Task] = []

    def state(self, endpoint: str, address: str = "") -> PollState:
        return self.states[(endpoint, address)]

    def value(self, endpoint: str, address: str = "") -> Any:
        return self.states[(endpoint, address)].value

    async def poll_once(self, endpoint: Endpoint, address: str) -> PollState:
        """One request; updates the state and returns it. Never raises for Ocean's faults."""
        state = self.states[(endpoint.name, address)]
        interval = endpoint.interval(self.config)
        try:
            value = endpoint.parse(await self.client.get(endpoint.path(address)))
        except OceanError as exc:
            return self._failed(endpoint, state, exc.kind, str(exc), interval, exc.retry_after)
        except parse.ShapeError as exc:
            if endpoint.name not in self._shapes_logged:
                # Once per endpoint: a changed API would otherwise flood the log.
                self._shapes_logged.add(endpoint.name)
                log.warning("ocean %s: unknown reply shape, keeping the last good value: %s", endpoint.name, exc)
            return self._failed(endpoint, state, "unknown_shape", str(exc), interval, None)
        except Exception as exc:  # a parser bug must not stop polling
            log.exception("ocean %s: unexpected error", endpoint.name)
            return self._failed(endpoint, state, "internal_error", f"{type(exc).__name__}: {exc}", interval, None)
        self.requests[(endpoint.name, "success")] += 1
        state.value, state.last_success, state.up = value, self.clock(), True
        state.failures, state.last_error = 0, ""
        state.next_delay = interval
        return state

    def _failed(
        self, endpoint: Endpoint, state: PollState, kind: str, message: str, interval: float, retry_after: float | None
    ) -> PollState:
        self.requests[(endpoint.name, kind)] += 1
        state.up, state.last_error = False, message
        state.failures += 1
        delay = min(self.config.max_backoff_seconds, interval * 2 ** min(state.failures, 16))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        state.next_delay = delay
        log.info("ocean %s failed (%s), next try in %.0f s: %s", endpoint.name, kind, delay, message)
        return state

    async def _loop(self, endpoint: Endpoint, address: str) -> None:
        interval = endpoint.interval(self.config)
        # Spread the first requests over a few seconds instead of one burst.
        await asyncio.sleep(random.uniform(0, min(interval, 5.0)) / 10)
        while True:
            state = await self.poll_once(endpoint, address)
            jitter = random.uniform(0.95, 1.05)  # many exporters never poll in lockstep
            await asyncio.sleep(state.next_delay * jitter)

    def start(self) -> None:
        if self._tasks:
            return
        for endpoint in self.endpoints:
            for address in self.config.addresses if endpoint.per_address else [""]:
                self._tasks.append(asyncio.ensure_future(self._loop(endpoint, address)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
