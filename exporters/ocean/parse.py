"""Ocean API results -> typed values, tolerant of the shapes clients have seen.

The parsers follow real Ocean replies where public captures exist (statsnap,
user_hashrate, user_hashrate_full, earnpay, part of pool_stat; see
simulator/captures/ocean/SOURCES.md) and the shapes other clients catalogue
elsewhere, and nothing else: numbers as numbers or strings, the
`lastest_share_ts` spelling, workers as a map or as a list of one-key objects.
A field that is missing or not a number is None and never exported; a result
whose shape is unknown raises ShapeError, so the poller counts it and keeps the
last good value instead of showing zeros.
A number outside its quantity's plausible range (the shared ranges of
hashwatch.numbers, and UNPAID, SHARES and COUNT below; docs/metrics.md lists
them) raises ImplausibleValue, a ShapeError counted as `implausible`: a
negative hashrate or a 400-digit payout is a broken reply, never data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hashwatch.numbers import (
    BTC,
    DIFFICULTY,
    HASHRATE,
    HEIGHT,
    SATOSHIS,
    SATOSHIS_PER_BTC,
    UNIX_TIME,
    Plausible,
    reading,
    to_float,
    unix_seconds,
    unix_time,
    whole,
)
from hashwatch.shape import ImplausibleValue, ShapeError

__all__ = ["SATOSHIS_PER_BTC", "ImplausibleValue", "ShapeError"]  # re-exported for the collectors and tests

# Plausible ranges of what only Ocean reports; hashrate, BTC amounts, heights,
# difficulty and times share hashwatch.numbers' ranges with the market exporter.
# Ocean's unpaid balance can dip a few satoshis below 0 (issue 11): that is
# real and kept, while a balance 0.01 BTC in debt is a broken reply.
UNPAID = Plausible("unpaid balance", -0.01, 21_000_000, "BTC")
# Shares are counted in difficulty-1 units; the TIDES window is 8 x the network
# difficulty (at most 8 x 10^18 by that range).
SHARES = Plausible("share count", 0, 1e20, "shares")
COUNT = Plausible("user or worker count", 0, 100_000_000, "")


_WINDOW = re.compile(r"^hashrate_(\d+)s$")
_POOL_WINDOW = re.compile(r"^pool_(\d+)s$")


# A finite float from a number or numeric string; None otherwise (never 0 for "missing").
number = to_float


def satoshis(value: Any) -> int | float | None:
    """Whole satoshis, exact for integer strings; None if not a whole number (±inf past 40 digits)."""
    return whole(value)


def timestamp(value: Any) -> float | None:
    """Unix seconds from a number, a numeric string, or ISO 8601 (no zone means UTC).

    Ocean writes seconds; a number above 10^11 can only be milliseconds (year
    5138 in seconds) and is read as such rather than exported as a far future.
    """
    if number(value) is not None:
        return unix_seconds(value)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    return None


def _time(value: Any, field: str) -> float | None:
    """timestamp(value), checked against the plausible unix times."""
    if reading(value) is not None:
        return unix_time(value, field)
    return UNIX_TIME.check(timestamp(value), field, value)


def _object(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise ShapeError(f"{what}: expected an object, got {type(result).__name__}")
    return result


def _windows(data: dict[str, Any], pattern: re.Pattern[str], what: str) -> dict[str, float]:
    """{"hashrate_300s": "123"} -> {"300s": 123.0}, for every window present and numeric (and plausible)."""
    found = {}
    for key, value in data.items():
        match = pattern.match(str(key))
        if match:
            rate = HASHRATE.number(value, f"{what} {key}")
            if rate is not None:
                found[f"{match.group(1)}s"] = rate
    return found


@dataclass
class Statsnap:
    """A TIDES snapshot of a user or one worker (/statsnap, /userinfo_full)."""

    snap_ts: float | None = None
    hashrate: dict[str, float] = field(default_factory=dict)  # window -> H/s
    last_share_ts: float | None = None
    shares_in_tides: float | None = None
    estimated_earn_next_block: float | None = None  # BTC
    estimated_bonus_earn_next_block: float | None = None
    estimated_total_earn_next_block: float | None = None
    estimated_payout_next_block: float | None = None
    unpaid: float | None = None


def parse_statsnap(result: Any, what: str = "statsnap") -> Statsnap:
    data = _object(result, what)
    return Statsnap(
        snap_ts=_time(data.get("snap_ts"), f"{what} snap_ts"),
        hashrate=_windows(data, _WINDOW, what),
        last_share_ts=_time(data.get("lastest_share_ts", data.get("latest_share_ts")), f"{what} lastest_share_ts"),
        shares_in_tides=SHARES.number(data.get("shares_in_tides"), f"{what} shares_in_tides"),
        **{
            key: BTC.number(data.get(key), f"{what} {key}")
            for key in (
                "estimated_earn_next_block",
                "estimated_bonus_earn_next_block",
                "estimated_total_earn_next_block",
                "estimated_payout_next_block",
            )
        },
        unpaid=UNPAID.number(data.get("unpaid"), f"{what} unpaid"),
    )


@dataclass
class UserHashrate:
    """/user_hashrate: the user's hashrate over every window Ocean averages."""

    snap_ts: float | None = None
    hashrate: dict[str, float] = field(default_factory=dict)
    active_workers: float | None = None
    last_share_ts: float | None = None


def parse_user_hashrate(result: Any) -> UserHashrate:
    data = _object(result, "user_hashrate")
    parsed = UserHashrate(
        snap_ts=_time(data.get("snap_ts"), "user_hashrate snap_ts"),
        hashrate=_windows(data, _WINDOW, "user_hashrate"),
        active_workers=COUNT.number(data.get("active_worker_count"), "user_hashrate active_worker_count"),
        last_share_ts=_time(data.get("lastest_share_ts", data.get("latest_share_ts")), "user_hashrate lastest_share_ts"),
    )
    if not parsed.hashrate and parsed.active_workers is None:
        raise ShapeError("user_hashrate: no hashrate_* window and no active_worker_count")
    return parsed


def _worker_entries(workers: Any, what: str) -> dict[str, dict[str, Any]]:
    """Workers as a map {name: obj | [obj]} or a list of one-key objects [{name: obj}]."""
    if isinstance(workers, dict):
        items = list(workers.items())
    elif isinstance(workers, list):
        items = []
        for entry in workers:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ShapeError(f"{what}: a worker list entry is not a one-key object")
            items.extend(entry.items())
    else:
        raise ShapeError(f"{what}: workers is neither a map nor a list")
    entries: dict[str, dict[str, Any]] = {}
    for name, value in items:
        if isinstance(value, list):  # {"name": [ {...} ]}: the latest snapshot first
            value = value[0] if value and isinstance(value[0], dict) else None
        if not isinstance(value, dict):
            raise ShapeError(f"{what}: worker {name!r} has no object")
        entries[str(name)] = value
    return entries


@dataclass
class UserInfo:
    """/userinfo_full: the user's statsnap and one per worker."""

    user: Statsnap
    workers: dict[str, Statsnap]


def parse_userinfo_full(result: Any) -> UserInfo:
    data = _object(result, "userinfo_full")
    if "user_full" not in data and "workers" not in data:
        raise ShapeError("userinfo_full: neither user_full nor workers")
    user = parse_statsnap(data["user_full"], "userinfo_full user_full") if "user_full" in data else Statsnap()
    workers = {
        name: parse_statsnap(entry, f"userinfo_full worker {name!r}")
        for name, entry in _worker_entries(data.get("workers", []), "userinfo_full").items()
    }
    return UserInfo(user, workers)


@dataclass
class WorkerHashrate:
    """A worker's hashrate by window. Ocean's user_hashrate_full carries no
    last-share time per worker (a real reply has only the hashrate_* windows);
    a worker's last share comes from userinfo_full alone."""

    hashrate: dict[str, float]


def parse_user_hashrate_full(result: Any) -> dict[str, WorkerHashrate]:
    """/user_hashrate_full: every worker's hashrate over every window.

    A real reply also carries snap_ts, db_ts and the user's totals
    (`user_hashrate`); only the workers are read here.
    """
    data = _object(result, "user_hashrate_full")
    if "workers" not in data:
        raise ShapeError("user_hashrate_full: no workers")
    return {
        name: WorkerHashrate(_windows(entry, _WINDOW, f"user_hashrate_full worker {name!r}"))
        for name, entry in _worker_entries(data["workers"], "user_hashrate_full").items()
    }


@dataclass
class Payment:
    ts: float | None
    satoshis: int | None


@dataclass
class EarnPay:
    """/earnpay: earnings per block and payouts over a time range."""

    earnings: list[Payment]
    payouts: list[Payment]

    @property
    def earned_satoshis(self) -> int:
        return sum(e.satoshis for e in self.earnings if e.satoshis is not None)

    @property
    def paid_satoshis(self) -> int:
        return sum(p.satoshis for p in self.payouts if p.satoshis is not None)

    def last_payout(self) -> Payment | None:
        dated = [p for p in self.payouts if p.ts is not None and p.satoshis is not None]
        return max(dated, key=lambda p: p.ts) if dated else None

    def since(self, start: float) -> EarnPay:
        """Only what happened at or after `start` (unix s): Ocean is asked by
        whole days, `earnings_since` is to the second. An entry without a time
        is kept, as before."""
        if start <= 0:
            return self

        def keep(entries: list[Payment]) -> list[Payment]:
            return [e for e in entries if e.ts is None or e.ts >= start]

        return EarnPay(keep(self.earnings), keep(self.payouts))


def parse_earnpay(result: Any) -> EarnPay:
    data = _object(result, "earnpay")
    earnings, payouts = data.get("earnings", []), data.get("payouts", [])
    if "earnings" not in data and "payouts" not in data:
        raise ShapeError("earnpay: neither earnings nor payouts")
    if not isinstance(earnings, list) or not isinstance(payouts, list):
        raise ShapeError("earnpay: earnings and payouts must be lists")
    history = EarnPay(
        earnings=[
            Payment(
                _time(e.get("ts"), "earnpay earnings ts"),
                SATOSHIS.whole(e.get("satoshis_net_earned"), "earnpay satoshis_net_earned"),
            )
            for e in earnings
            if isinstance(e, dict)
        ],
        payouts=[
            Payment(
                _time(p.get("ts"), "earnpay payouts ts"),
                SATOSHIS.whole(p.get("total_satoshis_net_paid"), "earnpay total_satoshis_net_paid"),
            )
            for p in payouts
            if isinstance(p, dict)
        ],
    )
    # Each entry is plausible; so must their sums be, which the counters export.
    SATOSHIS.check(history.earned_satoshis, "earnpay: the sum of satoshis_net_earned")
    SATOSHIS.check(history.paid_satoshis, "earnpay: the sum of total_satoshis_net_paid")
    return history


@dataclass
class PoolStat:
    active_users: float | None
    active_workers: float | None
    network_difficulty: float | None
    tides_shares: float | None
    tides_max_shares: float | None
    # BTC, subsidy plus fees, as a decimal string ("3.13312160" in a 2026 reply).
    # A reward in satoshis (10^8 too large) is beyond the BTC range: refused.
    estimated_block_reward: float | None = None


def parse_pool_stat(result: Any) -> PoolStat:
    data = _object(result, "pool_stat")
    parsed = PoolStat(
        active_users=COUNT.number(data.get("active_users"), "pool_stat active_users"),
        active_workers=COUNT.number(data.get("active_workers"), "pool_stat active_workers"),
        network_difficulty=DIFFICULTY.number(data.get("network_difficulty"), "pool_stat network_difficulty"),
        tides_shares=SHARES.number(data.get("current_tides_shares"), "pool_stat current_tides_shares"),
        tides_max_shares=SHARES.number(data.get("max_tides_shares"), "pool_stat max_tides_shares"),
        estimated_block_reward=BTC.number(
            data.get("current_estimated_block_reward"), "pool_stat current_estimated_block_reward"
        ),
    )
    if all(value is None for value in vars(parsed).values()):
        raise ShapeError("pool_stat: none of the known fields")
    return parsed


def parse_pool_hashrate(result: Any) -> dict[str, float]:
    windows = _windows(_object(result, "pool_hashrate"), _POOL_WINDOW, "pool_hashrate")
    if not windows:
        raise ShapeError("pool_hashrate: no pool_* window")
    return windows


@dataclass
class Block:
    ts: float | None
    height: float | None
    reward_satoshis: int | None


def parse_blocks(result: Any) -> list[Block]:
    data = _object(result, "blocks")
    blocks = data.get("blocks")
    if not isinstance(blocks, list):
        raise ShapeError("blocks: no blocks list")
    return [
        Block(
            _time(b.get("ts"), "blocks ts"),
            HEIGHT.number(b.get("height"), "blocks height"),
            SATOSHIS.whole(b.get("total_reward_sats"), "blocks total_reward_sats"),
        )
        for b in blocks
        if isinstance(b, dict)
    ]
