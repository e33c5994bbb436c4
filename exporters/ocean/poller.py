"""Which Ocean endpoints are polled, how often, and for whom.

The polling itself (caching, backoff, Retry-After) is hashwatch.polling's;
this module only lists the jobs: one per endpoint and payout address, or one
per pool-wide endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from hashwatch.polling import PollJob

from . import parse
from .client import OceanClient
from .config import OceanConfig


@dataclass(frozen=True)
class Endpoint:
    name: str  # the `endpoint` label
    path: Callable[[str], str]  # address (or "" for pool-wide endpoints) -> path under /v1
    parse: Callable[[Any], Any]
    interval: Callable[[OceanConfig], float]
    per_address: bool = True


# earnpay is asked for a range of days. Asked with a start alone, Ocean ends the
# range 30 days later (a 2026 capture: end_ts = start_ts + 30 days), and no
# capture shows a start of 0 working; a dated start with a future end returns
# the whole history (another client, 2026; simulator/captures/ocean/SOURCES.md). So
# the range runs from the day before `earnings_since` (a day boundary need not
# be UTC's), 2020-01-01 at the earliest (Ocean started in 2023), to tomorrow;
# what falls before `earnings_since` is then dropped, to the second (EarnPay.since).
EARNPAY_FIRST_DAY = date(2020, 1, 1)


def _utc_day(seconds: float) -> date:
    return datetime.fromtimestamp(seconds, timezone.utc).date()


def earnpay_path(address: str, since: int, now: float | None = None) -> str:
    """`earnpay/{address}/{YYYY-MM-DD}/{YYYY-MM-DD}`: the whole history from `since` (unix s) on."""
    first = max(EARNPAY_FIRST_DAY, _utc_day(since) - timedelta(days=1))
    end = _utc_day(time.time() if now is None else now) + timedelta(days=1)
    return f"earnpay/{address}/{first.isoformat()}/{end.isoformat()}"


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
            "earnpay", lambda a: earnpay_path(a, since), lambda result: parse.parse_earnpay(result).since(since),
            lambda c: c.intervals.earnings,
        ),
        Endpoint("pool_stat", lambda _: "pool_stat", parse.parse_pool_stat, lambda c: c.intervals.pool, per_address=False),
        Endpoint(
            "pool_hashrate", lambda _: "pool_hashrate", parse.parse_pool_hashrate, lambda c: c.intervals.hashrate,
            per_address=False,
        ),
        Endpoint("blocks", lambda _: "blocks/0/100/0", parse.parse_blocks, lambda c: c.intervals.blocks, per_address=False),
    ]


def _fetcher(client: OceanClient, endpoint: Endpoint, address: str):
    async def fetch() -> Any:
        return endpoint.parse(await client.get(endpoint.path(address)))

    return fetch


def ocean_jobs(client: OceanClient, config: OceanConfig) -> list[PollJob]:
    """One job per endpoint and payout address, or one per pool-wide endpoint."""
    return [
        PollJob(endpoint.name, address, endpoint.interval(config), _fetcher(client, endpoint, address))
        for endpoint in endpoints(config)
        for address in (config.addresses if endpoint.per_address else [""])
    ]
