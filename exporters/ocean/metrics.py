"""Cached Ocean values -> Prometheus metric families, one collector per group.

Collectors read the poller's last good values at scrape time; nothing here
talks to Ocean. A value Ocean did not send is left out, never exported as 0.
Worker names are Ocean's, which are what each miner puts after the dot of its
pool user, so `worker` joins with the CGMiner exporter's miner_pool_up{worker}.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hashwatch.numbers import SATOSHIS
from hashwatch.polling import Poller
from hashwatch.shape import ImplausibleValue

from .parse import SATOSHIS_PER_BTC, EarnPay, Statsnap, UserHashrate, UserInfo, WorkerHashrate
log = logging.getLogger(__name__)

# A sum below the counter's confirmed level is held (Ocean answering with a
# shorter history once) for fewer than this many polls in a row; a lower sum
# Ocean keeps reporting is its corrected history, and the counter follows it.
HIGH_WATER_POLLS = 3


def _btc(sats: object) -> float | None:
    """Satoshis as BTC; None for what no parser lets in (an amount beyond the supply would not fit a float)."""
    if sats is None or not SATOSHIS.low <= sats <= SATOSHIS.high:  # type: ignore[operator]
        return None
    return sats / SATOSHIS_PER_BTC  # type: ignore[operator]


@dataclass
class HighWater:
    """A counter summed from a history Ocean may get wrong for a poll, in either direction.

    A sum that drops below the confirmed level is held there, so a shorter
    history once does not make the counter go down; a sum above it is exported
    at once, but only becomes the confirmed level once two polls in a row have
    reached it. So one wrong reply, too high or too low, never pins the
    counter: a spike is undone by the next good poll, a dip is bridged, and a
    level every poll disagrees with is given up after HIGH_WATER_POLLS polls
    (Prometheus sees a counter reset). A sum that is not a plausible number of
    satoshis is ignored, whatever passed the parser.
    """

    what: str  # "paid" or "earned", for the log
    address: str
    exported: int | None = None
    confirmed: int | None = None  # the highest sum two polls in a row reached (the first poll's, to begin with)
    previous: int | None = None  # the last poll's sum
    below: int = 0  # polls in a row below `confirmed`
    poll: object = None  # the poll last counted: scrapes in between are not polls

    def update(self, poll: object, total: object) -> int | None:
        """The sum to export for `poll` (the parsed history, by identity), whose sum is `total`."""
        if poll is self.poll:
            return self.exported
        self.poll = poll
        try:
            SATOSHIS.check(total, f"ocean {self.what} for {self.address}: the sum")
        except (ImplausibleValue, TypeError) as exc:
            log.warning("%s; ignoring it", exc)
            return self.exported
        if self.confirmed is None or self.previous is None:
            self.confirmed = total  # the first poll is all there is to go by
        elif total >= self.confirmed:
            self.confirmed = max(self.confirmed, min(self.previous, total))
            self.below = 0
        else:
            self.below += 1
            if self.below >= HIGH_WATER_POLLS:
                log.warning(
                    "ocean %s for %s: %d polls in a row below %d sats; following Ocean down to %d",
                    self.what, self.address, self.below, self.confirmed, total,
                )
                self.confirmed, self.below = total, 0
            else:
                log.warning(
                    "ocean %s for %s went down from %d to %d sats; keeping %d",
                    self.what, self.address, self.confirmed, total, self.confirmed,
                )
        self.previous = total
        self.exported = max(total, self.confirmed)
        return self.exported


BLOCK_WINDOWS = {"1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400}


def _window_order(window: str) -> int:
    return int(window.rstrip("s"))


class _Group(Collector):
    def __init__(self, poller: Poller, addresses: list[str]):
        self.poller = poller
        self._addresses = addresses

    def addresses(self) -> list[str]:
        return self._addresses


class UserCollector(_Group):
    """The user's hashrate by window, active workers and last share."""

    def collect(self) -> Iterator[Metric]:
        hashrate = GaugeMetricFamily(
            "ocean_hashrate_hashes_per_second", "The user's hashrate as Ocean measures it, by averaging window.",
            labels=["address", "window"],
        )
        workers = GaugeMetricFamily("ocean_active_workers", "Workers Ocean counts as active.", labels=["address"])
        last_share = GaugeMetricFamily(
            "ocean_last_share_timestamp_seconds", "When Ocean last received a share from the user.", labels=["address"]
        )
        for address in self.addresses():
            rates: UserHashrate | None = self.poller.value("user_hashrate", address)
            info: UserInfo | None = self.poller.value("userinfo_full", address)
            windows = {**(info.user.hashrate if info else {}), **(rates.hashrate if rates else {})}
            for window in sorted(windows, key=_window_order):
                hashrate.add_metric([address, window], windows[window])
            if rates and rates.active_workers is not None:
                workers.add_metric([address], rates.active_workers)
            shares = [ts for ts in (rates.last_share_ts if rates else None, info.user.last_share_ts if info else None) if ts]
            if shares:
                last_share.add_metric([address], max(shares))
        yield from (hashrate, workers, last_share)


class TidesCollector(_Group):
    """The TIDES snapshot: shares in the window, estimates for the next block, unpaid balance."""

    FIELDS: tuple[tuple[str, str, Callable[[Statsnap], float | None]], ...] = (
        ("ocean_shares_in_tides_window", "The user's shares in the current TIDES window.", lambda s: s.shares_in_tides),
        (
            "ocean_estimated_earnings_next_block_btc", "Estimated earnings if the pool finds the next block.",
            lambda s: s.estimated_earn_next_block,
        ),
        (
            "ocean_estimated_bonus_earnings_next_block_btc", "Estimated bonus (fee) earnings on the next block.",
            lambda s: s.estimated_bonus_earn_next_block,
        ),
        (
            "ocean_estimated_total_earnings_next_block_btc", "Estimated total earnings on the next block.",
            lambda s: s.estimated_total_earn_next_block,
        ),
        (
            "ocean_estimated_payout_next_block_btc", "Estimated payout with the next block.",
            lambda s: s.estimated_payout_next_block,
        ),
        ("ocean_unpaid_btc", "Earned but not yet paid out.", lambda s: s.unpaid),
    )

    def collect(self) -> Iterator[Metric]:
        families = [(GaugeMetricFamily(name, doc, labels=["address"]), read) for name, doc, read in self.FIELDS]
        for address in self.addresses():
            info: UserInfo | None = self.poller.value("userinfo_full", address)
            if info is None:
                continue
            for family, read in families:
                value = read(info.user)
                if value is not None:
                    family.add_metric([address], value)
        yield from (family for family, _ in families)


class WorkerCollector(_Group):
    """Each worker's hashrate by window, last share and TIDES shares.

    The last share is userinfo_full's: Ocean's user_hashrate_full has no
    per-worker last-share time, so a worker only it lists has none exported.
    """

    def collect(self) -> Iterator[Metric]:
        hashrate = GaugeMetricFamily(
            "ocean_worker_hashrate_hashes_per_second", "A worker's hashrate as Ocean measures it, by averaging window.",
            labels=["address", "worker", "window"],
        )
        last_share = GaugeMetricFamily(
            "ocean_worker_last_share_timestamp_seconds", "When Ocean last received a share from the worker.",
            labels=["address", "worker"],
        )
        shares = GaugeMetricFamily(
            "ocean_worker_shares_in_tides_window", "The worker's shares in the current TIDES window.",
            labels=["address", "worker"],
        )
        for address in self.addresses():
            info: UserInfo | None = self.poller.value("userinfo_full", address)
            full: dict[str, WorkerHashrate] | None = self.poller.value("user_hashrate_full", address)
            snaps = info.workers if info else {}
            windows_of = full or {}
            for worker in sorted(set(snaps) | set(windows_of)):
                snap, rates = snaps.get(worker), windows_of.get(worker)
                # user_hashrate_full has every window; userinfo_full only 60s and 300s.
                windows = {**(snap.hashrate if snap else {}), **(rates.hashrate if rates else {})}
                for window in sorted(windows, key=_window_order):
                    hashrate.add_metric([address, worker, window], windows[window])
                if snap and snap.last_share_ts is not None:
                    last_share.add_metric([address, worker], snap.last_share_ts)
                if snap and snap.shares_in_tides is not None:
                    shares.add_metric([address, worker], snap.shares_in_tides)
        yield from (hashrate, last_share, shares)


class PayoutCollector(_Group):
    """Earnings and payouts, summed over the history Ocean returns."""

    def __init__(self, poller: Poller, addresses: list[str]):
        super().__init__(poller, addresses)
        # The counters must not go down because Ocean returned a shorter history
        # once, nor stay pinned by one wrong reply: see HighWater.
        self._paid = {address: HighWater("paid", address) for address in addresses}
        self._earned = {address: HighWater("earned", address) for address in addresses}

    def collect(self) -> Iterator[Metric]:
        paid = CounterMetricFamily(
            "ocean_paid_btc", "Paid out to the address since `earnings_since`, from Ocean's payout history.",
            labels=["address"],
        )
        earned = CounterMetricFamily(
            "ocean_earned_btc", "Net earnings credited per block since `earnings_since`.", labels=["address"]
        )
        payouts = CounterMetricFamily("ocean_payouts", "Payouts since `earnings_since`.", labels=["address"])
        last_time = GaugeMetricFamily(
            "ocean_last_payout_timestamp_seconds", "When the latest payout was made.", labels=["address"]
        )
        last_amount = GaugeMetricFamily("ocean_last_payout_btc", "Amount of the latest payout.", labels=["address"])
        for address in self.addresses():
            history: EarnPay | None = self.poller.value("earnpay", address)
            if history is None:
                continue
            for family, counters, what, total in (
                (paid, self._paid, "paid", history.paid_satoshis), (earned, self._earned, "earned", history.earned_satoshis),
            ):
                sats = counters.setdefault(address, HighWater(what, address)).update(history, total)
                if sats is not None:
                    family.add_metric([address], sats / SATOSHIS_PER_BTC)  # plausible: checked by HighWater
            payouts.add_metric([address], len(history.payouts))
            last = history.last_payout()
            if last is not None:
                last_time.add_metric([address], last.ts)
                if (amount := _btc(last.satoshis)) is not None:
                    last_amount.add_metric([address], amount)
        yield from (paid, earned, payouts, last_time, last_amount)


class PoolCollector(_Group):
    """The pool as a whole: hashrate, users and workers, TIDES window, blocks."""

    def __init__(self, poller: Poller, addresses: list[str], clock: Callable[[], float] = time.time):
        super().__init__(poller, addresses)
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        hashrate = GaugeMetricFamily(
            "ocean_pool_hashrate_hashes_per_second", "The pool's hashrate by averaging window.", labels=["window"]
        )
        for window, rate in sorted((self.poller.value("pool_hashrate") or {}).items(), key=lambda kv: _window_order(kv[0])):
            hashrate.add_metric([window], rate)
        yield hashrate
        stat = self.poller.value("pool_stat")
        for name, doc, value in (
            ("ocean_pool_active_users", "Users mining on the pool.", stat.active_users if stat else None),
            ("ocean_pool_active_workers", "Workers mining on the pool.", stat.active_workers if stat else None),
            ("ocean_pool_network_difficulty", "Bitcoin network difficulty as the pool reports it.", stat.network_difficulty if stat else None),
            ("ocean_pool_tides_window_shares", "Shares in the pool's current TIDES window.", stat.tides_shares if stat else None),
            ("ocean_pool_tides_window_max_shares", "Size of the TIDES window in shares.", stat.tides_max_shares if stat else None),
            (
                "ocean_pool_estimated_block_reward_btc", "Ocean's estimate of the next block's reward: subsidy plus fees.",
                stat.estimated_block_reward if stat else None,
            ),
        ):
            family = GaugeMetricFamily(name, doc)
            if value is not None:
                family.add_metric([], value)
            yield family
        yield from self._blocks(self.poller.value("blocks"))

    def _blocks(self, blocks) -> Iterator[Metric]:
        found = GaugeMetricFamily(
            "ocean_pool_blocks_found",
            "Blocks the pool found in the window (among the latest 100 Ocean lists).",
            labels=["window"],
        )
        last_time = GaugeMetricFamily("ocean_pool_last_block_timestamp_seconds", "When the pool last found a block.")
        last_height = GaugeMetricFamily("ocean_pool_last_block_height", "Height of the pool's latest block.")
        last_reward = GaugeMetricFamily("ocean_pool_last_block_reward_btc", "Subsidy plus fees of the pool's latest block.")
        if blocks is not None:
            now = self.clock()
            dated = [b for b in blocks if b.ts is not None]
            for window, seconds in BLOCK_WINDOWS.items():
                found.add_metric([window], sum(1 for b in dated if now - b.ts <= seconds))
            if dated:
                latest = max(dated, key=lambda b: b.ts)
                last_time.add_metric([], latest.ts)
                if latest.height is not None:
                    last_height.add_metric([], latest.height)
                if (reward := _btc(latest.reward_satoshis)) is not None:
                    last_reward.add_metric([], reward)
        yield from (found, last_time, last_height, last_reward)


class ApiCollector(_Group):
    """Freshness of every endpoint: Ocean being down shows here, not as zeros elsewhere."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "hashwatch_ocean_api_up",
            "1 if the latest poll of the endpoint succeeded, 0 if it failed.",
            labels=["endpoint", "address"],
        )
        success = GaugeMetricFamily(
            "hashwatch_ocean_api_last_success_timestamp_seconds",
            "When the endpoint last answered with data; the age of every value it feeds.",
            labels=["endpoint", "address"],
        )
        failures = GaugeMetricFamily(
            "hashwatch_ocean_api_consecutive_failures", "Failed polls since the last success.", labels=["endpoint", "address"]
        )
        delay = GaugeMetricFamily(
            "hashwatch_ocean_api_poll_interval_seconds", "Wait before the next poll: the interval, or the backoff after failures.",
            labels=["endpoint", "address"],
        )
        for (endpoint, address), state in sorted(self.poller.states.items()):
            if state.up is None:
                continue  # not polled yet
            up.add_metric([endpoint, address], 1.0 if state.up else 0.0)
            if state.last_success is not None:
                success.add_metric([endpoint, address], state.last_success)
            failures.add_metric([endpoint, address], state.failures)
            delay.add_metric([endpoint, address], state.next_delay)
        requests = CounterMetricFamily(
            "hashwatch_ocean_api_requests", "Requests to Ocean by endpoint and result (success, rate_limited, server_error, "
            "http_error, timeout, connection_error, too_large, redirect, api_error, malformed, unknown_shape, "
            "implausible, internal_error).",
            labels=["endpoint", "result"],
        )
        for (endpoint, result), count in sorted(self.poller.requests.items()):
            requests.add_metric([endpoint, result], count)
        yield from (up, success, failures, delay, requests)


COLLECTORS: tuple[type[_Group], ...] = (
    UserCollector, TidesCollector, WorkerCollector, PayoutCollector, PoolCollector, ApiCollector,
)
