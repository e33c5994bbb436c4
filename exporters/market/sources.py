"""Market data as poll jobs, and the choice among sources at scrape time.

Every price source and every network endpoint is a job of hashwatch.polling
(own interval, timeout, backoff, last good value). At scrape time each value
comes from the first source in the configured order whose data is fresh; when
none is fresh, the most recent good value is kept and its fetch time shows
its age. A failed source therefore never shows as 0, and a stale value never
passes for a fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from hashwatch import consensus, http
from hashwatch.polling import FetchError, PollJob, Poller, PollState

from . import bitcoind, network, node, prices
from .config import MarketConfig
from .model import NetworkSnapshot, PriceQuote

PRICE = "price"  # the endpoint name of every price job


def job_name(source: str, endpoint: str) -> str:
    return f"{source}/{endpoint}"


def split_job_name(name: str) -> tuple[str, str]:
    source, _, endpoint = name.partition("/")
    return source, endpoint


def _price_fetcher(session: aiohttp.ClientSession, source: prices.PriceSource, url: str, timeout: float, currencies: list[str]):
    async def fetch() -> PriceQuote:
        return source.parse(http.json_of(await http.get(session, url, timeout), url), currencies)

    return fetch


def _network_fetcher(session: aiohttp.ClientSession, endpoint: network.NetworkEndpoint, url: str, timeout: float):
    async def fetch() -> NetworkSnapshot:
        reply = await http.get(session, url, timeout, accept="text/plain" if endpoint.text else "application/json")
        if endpoint.text:
            if reply.status >= 400:
                raise FetchError("http_error", f"GET {url}: HTTP {reply.status}")
            return endpoint.parse(reply.body)
        return endpoint.parse(http.json_of(reply, url))

    return fetch


BITCOIND_JOB = "bitcoind/rpc"


def _bitcoind_fetcher(session: aiohttp.ClientSession, config: MarketConfig, clock: Callable[[], float]):
    settings = config.bitcoind
    assert settings is not None
    clients: list[bitcoind.BitcoindClient] = []

    async def fetch() -> NetworkSnapshot:
        if not clients:
            try:
                # Read lazily: the node writes its cookie when it starts, maybe after us.
                auth = bitcoind.BitcoindAuth(cookie_file=settings.cookie_file, user=settings.user, password=settings.password)
            except ValueError as exc:
                raise FetchError("unauthorized", str(exc)) from None
            clients.append(bitcoind.BitcoindClient(session, settings.url, auth, settings.timeout_seconds))
        snapshot = await node.snapshot(clients[0], settings.fee_blocks)
        if snapshot.height is not None and snapshot.previous_retarget_time is not None:
            # The node has no retarget estimate of its own: extrapolate this epoch's pace.
            estimate = consensus.estimate_retarget(snapshot.height, snapshot.previous_retarget_time, clock())
            if estimate is not None:
                snapshot.estimated_difficulty_change, snapshot.estimated_retarget_time = estimate
        return snapshot

    return fetch


def market_jobs(
    session: aiohttp.ClientSession, config: MarketConfig, clock: Callable[[], float] = time.time
) -> list[PollJob]:
    jobs = []
    if config.bitcoind is not None:
        jobs.append(PollJob(BITCOIND_JOB, "", config.bitcoind.interval_seconds, _bitcoind_fetcher(session, config, clock)))
    for choice in config.price_sources:
        source = prices.SOURCES[choice.name]
        url = source.url(config.currencies, choice.base_url)
        fetch = _price_fetcher(session, source, url, choice.timeout_seconds, config.currencies)
        jobs.append(PollJob(job_name(choice.name, PRICE), "", choice.ttl_seconds, fetch))
    for choice in config.network_sources:
        base = choice.base_url or network.DEFAULT_BASE_URLS[choice.name]
        for endpoint in network.ENDPOINTS[choice.name]:
            # Fallback endpoints only fill gaps: asked a quarter as often.
            interval = choice.interval_seconds * (4 if endpoint.fallback else 1)
            fetch = _network_fetcher(session, endpoint, base + endpoint.path, choice.timeout_seconds)
            jobs.append(PollJob(job_name(choice.name, endpoint.name), "", interval, fetch))
    return jobs


@dataclass(frozen=True)
class Chosen:
    value: float
    source: str
    fetched_at: float  # unix seconds


class Selection:
    """Picks each value from the first fresh source in order of preference."""

    def __init__(self, poller: Poller, config: MarketConfig, clock: Callable[[], float] = time.time):
        self.poller = poller
        self.config = config
        self.clock = clock

    def _fresh(self, state: PollState, now: float) -> bool:
        return state.last_success is not None and now - state.last_success <= self.config.max_age_seconds

    def _ordered(self, jobs: list[str]) -> list[tuple[str, PollState]]:
        """Jobs with a value: the fresh ones in order of preference, then the stale ones, newest first."""
        now = self.clock()
        states = [(name, self.poller.state(name)) for name in jobs if self.poller.state(name).value is not None]
        fresh = [(name, state) for name, state in states if self._fresh(state, now)]
        stale = sorted((item for item in states if item not in fresh), key=lambda item: -(item[1].last_success or 0))
        return fresh + stale

    def price_jobs(self) -> list[str]:
        return [job_name(choice.name, PRICE) for choice in self.config.price_sources]

    def price(self, currency: str) -> Chosen | None:
        for name, state in self._ordered(self.price_jobs()):
            quote: PriceQuote = state.value
            if currency in quote.prices:
                return Chosen(quote.prices[currency], split_job_name(name)[0], state.last_success or 0.0)
        return None

    def fresh_quotes(self) -> list[PriceQuote]:
        now = self.clock()
        return [
            self.poller.state(name).value
            for name in self.price_jobs()
            if self.poller.state(name).value is not None and self._fresh(self.poller.state(name), now)
        ]

    def network_jobs(self) -> list[str]:
        """Network jobs in order of preference: your own node, public sources as configured,
        their fallback endpoints last."""
        names = [BITCOIND_JOB] if self.config.bitcoind is not None else []
        for fallback in (False, True):
            for choice in self.config.network_sources:
                for endpoint in network.ENDPOINTS[choice.name]:
                    if endpoint.fallback == fallback:
                        names.append(job_name(choice.name, endpoint.name))
        return names

    def network_field(self, field: str, jobs: list[str] | None = None) -> Chosen | None:
        for name, state in self._ordered(jobs or self.network_jobs()):
            value = getattr(state.value, field)
            if value not in (None, {}):
                return Chosen(value, split_job_name(name)[0], state.last_success or 0.0)
        return None

    def values(self) -> dict[str, Any]:
        return {name: state.value for (name, _), state in self.poller.states.items()}
