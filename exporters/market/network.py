"""Network-data replies -> partial NetworkSnapshots, plus the endpoints to ask.

Pure parsers, no network code: each takes one decoded reply (JSON value, or the
raw body for text/plain endpoints) and returns a NetworkSnapshot carrying the
source name and only the fields that reply reports, in base units (H/s, unix
seconds, satoshis, ratios). A poller calls the ENDPOINTS of a source and folds
the partial snapshots together with NetworkSnapshot.merged().

Why over 400 lines: every endpoint's parser, its plausible ranges and the
table of paths and merge order (ENDPOINTS) are read together when a source
changes its API; split by source, the merge order would span files.

The sources mix units (simulator/captures/market/SOURCES.md): mempool.space
writes some times in milliseconds and others in seconds, percentages where we
keep ratios, sats as strings and hashrates above 2^53; blockchain.info writes
hashrate in GH/s and fees in sats under a "_btc" name. Every conversion is done
here, once. A field that is missing or not a number is None, never 0, and so
is a value a source writes for "unknown" (a difficulty or hashrate of 0, a
retarget height off the epoch grid); a reply of the wrong shape (wrong JSON
type, or an object with none of the endpoint's fields, as an error body would
be) raises ShapeError naming the source and endpoint, so the poller counts it
and keeps the last good value. A number outside its quantity's plausible range
(plausible_snapshot: hashwatch.numbers' shared ranges, FEE_RATE and
DIFFICULTY_CHANGE; docs/metrics.md lists them) raises ImplausibleValue, counted
as `implausible`: a difficulty of 5e-324 or a height of 10^30 is a broken reply.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporters.market.model import NetworkSnapshot
from hashwatch.consensus import RETARGET_INTERVAL
from hashwatch.numbers import (
    DIFFICULTY,
    HASHRATE,
    HEIGHT,
    SATOSHIS,
    UNIX_TIME,
    Plausible,
    as_float,
    reading,
    unix_time,
    whole,
)
from hashwatch.shape import ShapeError

__all__ = [
    "BLOCKCHAIN_INFO",
    "DEFAULT_BASE_URLS",
    "ENDPOINTS",
    "MEMPOOL",
    "NetworkEndpoint",
    "ShapeError",
    "parse_blockchain_info_stats",
    "parse_mempool_block_fees",
    "parse_mempool_block_rewards",
    "parse_mempool_difficulty_adjustment",
    "parse_mempool_difficulty_adjustments",
    "parse_mempool_fees",
    "parse_mempool_hashrate",
    "parse_mempool_reward_stats",
    "parse_mempool_tip_height",
    "plausible_snapshot",
]

MEMPOOL = "mempool"
BLOCKCHAIN_INFO = "blockchain_info"

DEFAULT_BASE_URLS: dict[str, str] = {
    MEMPOOL: "https://mempool.space",
    BLOCKCHAIN_INFO: "https://api.blockchain.info",
}

# mempool.space only estimates the change once this many blocks of the epoch are
# in (backend/src/api/difficulty-adjustment.ts ESTIMATE_LAG_BLOCKS); before that
# it reports difficultyChange 0, which means "no estimate", not "no change".
_MEMPOOL_ESTIMATE_LAG_BLOCKS = 146

_PATH_DIFFICULTY_ADJUSTMENT = "/api/v1/difficulty-adjustment"
_PATH_TIP_HEIGHT = "/api/blocks/tip/height"
_PATH_HASHRATE = "/api/v1/mining/hashrate/3d"
_PATH_REWARD_STATS = "/api/v1/mining/reward-stats/144"
_PATH_FEES = "/api/v1/fees/recommended"  # /fees/precise has the same shape but is missing on older self-hosted backends
_PATH_BLOCK_FEES = "/api/v1/mining/blocks/fees/24h"
_PATH_BLOCK_REWARDS = "/api/v1/mining/blocks/rewards/24h"
_PATH_DIFFICULTY_ADJUSTMENTS = "/api/v1/mining/difficulty-adjustments/1m"
_PATH_STATS = "/stats"

# mempool fee keys -> the fee_rates targets of model.FEE_TARGETS (bitcoind.py maps
# its estimates onto the same names; blockchain.info /stats reports no fee rates)
_MEMPOOL_FEE_TARGETS = {
    "fastestFee": "fastest",
    "halfHourFee": "30m",
    "hourFee": "1h",
    "economyFee": "economy",
    "minimumFee": "minimum",
}


# --- values -------------------------------------------------------------------------

# Plausible ranges of the market-only quantities (height, difficulty, hashrate,
# times and amounts share hashwatch.numbers' ranges with the Ocean exporter).
# Fee-rate peaks so far were in the hundreds to low thousands of sat/vB.
FEE_RATE = Plausible("fee rate", 0, 100_000, "sat/vB")
# Consensus: a retarget moves difficulty by a factor of 4 at most either way.
DIFFICULTY_CHANGE = Plausible("difficulty change", -0.75, 3, "ratio")

_SNAPSHOT_RANGES: dict[str, Plausible] = {
    "height": HEIGHT,
    "difficulty": DIFFICULTY,
    "hashrate": HASHRATE,
    "next_retarget_height": HEIGHT,
    "estimated_retarget_time": UNIX_TIME,
    "estimated_difficulty_change": DIFFICULTY_CHANGE,
    "previous_retarget_time": UNIX_TIME,
    "average_fees_per_block": SATOSHIS,
}


def plausible_snapshot(snapshot: NetworkSnapshot, where: str) -> NetworkSnapshot:
    """The snapshot, if every value it carries is plausible; ImplausibleValue naming the first that is not.

    Every parser here and node.snapshot() return through it.
    """
    for name, plausible in _SNAPSHOT_RANGES.items():
        plausible.check(getattr(snapshot, name), f"{where}: {name}")
    for target, rate in snapshot.fee_rates.items():
        FEE_RATE.check(rate, f"{where}: fee rate {target!r}")
    return snapshot


def _float(value: Any) -> float | None:
    """A float from a number or numeric string, ±inf past any float (a range refuses it); None if not numeric."""
    number = reading(value)
    return None if number is None else as_float(number)


def _whole(value: Any) -> int | float | None:
    """An exact int from an int, an integral float or an integer string; None otherwise (±inf past 40 digits)."""
    return whole(value)


def _count(value: Any) -> int | float | None:
    """A height or block count: a whole number >= 0, else None (inf past 40 digits: see plausible_snapshot)."""
    number = _whole(value)
    return number if number is not None and number >= 0 else None


def _positive(value: Any) -> float | None:
    """Difficulty and hashrate: a zero or negative one means "unknown", so None (a tiny one is implausible)."""
    number = _float(value)
    return number if number is not None and number > 0 else None


def _not_negative(value: Any) -> float | None:
    number = _float(value)
    return number if number is not None and number >= 0 else None


# --- shapes -------------------------------------------------------------------------


def _object(doc: Any, source: str, path: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The reply as an object carrying at least one of the keys this endpoint is read for."""
    if not isinstance(doc, dict):
        raise ShapeError(f"{source} {path}: expected an object, got {type(doc).__name__}")
    if not any(key in doc for key in keys):
        raise ShapeError(f"{source} {path}: none of {', '.join(keys)}")
    return doc


def _list(doc: Any, source: str, path: str) -> list[Any]:
    if not isinstance(doc, list):
        raise ShapeError(f"{source} {path}: expected a list, got {type(doc).__name__}")
    return doc


# --- mempool.space ------------------------------------------------------------------


def parse_mempool_difficulty_adjustment(doc: Any) -> NetworkSnapshot:
    """GET /api/v1/difficulty-adjustment: the current epoch and its estimated retarget.

    estimatedRetargetDate is milliseconds in current backends (the docs example
    still shows seconds), difficultyChange is a percentage, previousTime is
    seconds and absent from older backends.
    """
    data = _object(
        doc,
        MEMPOOL,
        _PATH_DIFFICULTY_ADJUSTMENT,
        ("nextRetargetHeight", "remainingBlocks", "estimatedRetargetDate", "difficultyChange", "previousTime"),
    )
    next_retarget = _count(data.get("nextRetargetHeight"))
    if next_retarget == 0:  # what the backend reports before it has seen any block
        next_retarget = None
    remaining = _count(data.get("remainingBlocks"))
    if remaining is not None and not 0 < remaining <= RETARGET_INTERVAL:
        remaining = None
    # The backend computes remainingBlocks = 2016 - tip % 2016 and
    # nextRetargetHeight = tip + remainingBlocks, so the tip is their difference:
    # capture 838656 - 1606 = 837050 (837050 % 2016 = 410, 410 / 2016 = its
    # progressPercent 20.337 %); docs example 741888 - 1121 = 740767.
    height = next_retarget - remaining if next_retarget is not None and remaining is not None else None
    change = _float(data.get("difficultyChange"))
    if change == 0 and remaining is not None and RETARGET_INTERVAL - remaining < _MEMPOOL_ESTIMATE_LAG_BLOCKS:
        change = None  # too early in the epoch: 0 is the backend's placeholder
    where = f"{MEMPOOL} {_PATH_DIFFICULTY_ADJUSTMENT}"
    return plausible_snapshot(
        NetworkSnapshot(
            source=MEMPOOL,
            height=height if height is not None and height >= 0 else None,
            next_retarget_height=next_retarget,
            blocks_until_retarget=remaining,
            estimated_retarget_time=unix_time(data.get("estimatedRetargetDate"), f"{where}: estimatedRetargetDate"),
            estimated_difficulty_change=change / 100 if change is not None else None,
            previous_retarget_time=unix_time(data.get("previousTime"), f"{where}: previousTime"),
        ),
        where,
    )


def parse_mempool_tip_height(body: str | bytes) -> NetworkSnapshot:
    """GET /api/blocks/tip/height: a text/plain bare integer, not JSON."""
    if isinstance(body, bytes):
        try:
            body = body.decode("ascii")
        except UnicodeDecodeError as error:
            raise ShapeError(f"{MEMPOOL} {_PATH_TIP_HEIGHT}: body is not ASCII") from error
    if not isinstance(body, str):
        raise ShapeError(f"{MEMPOOL} {_PATH_TIP_HEIGHT}: expected text, got {type(body).__name__}")
    text = body.strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise ShapeError(f"{MEMPOOL} {_PATH_TIP_HEIGHT}: not a bare block height: {text[:40]!r}")
    where = f"{MEMPOOL} {_PATH_TIP_HEIGHT}"
    return plausible_snapshot(NetworkSnapshot(source=MEMPOOL, height=HEIGHT.whole(text, f"{where}: height")), where)


def parse_mempool_hashrate(doc: Any) -> NetworkSnapshot:
    """GET /api/v1/mining/hashrate/3d: current network hashrate (H/s) and difficulty.

    currentHashrate is a JS float printed as an integer above 2^53; Python's json
    makes it an int, and float() of it is the same double the server had.
    """
    data = _object(doc, MEMPOOL, _PATH_HASHRATE, ("currentHashrate", "currentDifficulty"))
    return plausible_snapshot(
        NetworkSnapshot(
            source=MEMPOOL,
            hashrate=_positive(data.get("currentHashrate")),
            difficulty=_positive(data.get("currentDifficulty")),
        ),
        f"{MEMPOOL} {_PATH_HASHRATE}",
    )


def parse_mempool_reward_stats(doc: Any) -> NetworkSnapshot:
    """GET /api/v1/mining/reward-stats/144: average fees per block over the window.

    totalFee is a string of sats summed over blocks startBlock..endBlock inclusive.
    """
    data = _object(doc, MEMPOOL, _PATH_REWARD_STATS, ("totalFee", "startBlock", "endBlock"))
    where = f"{MEMPOOL} {_PATH_REWARD_STATS}"
    total_fee = _whole(data.get("totalFee"))
    start = HEIGHT.check(_count(data.get("startBlock")), f"{where}: startBlock", data.get("startBlock"))
    end = HEIGHT.check(_count(data.get("endBlock")), f"{where}: endBlock", data.get("endBlock"))
    blocks = end - start + 1 if start is not None and end is not None else None
    average = as_float(total_fee) / blocks if total_fee is not None and total_fee >= 0 and blocks and blocks > 0 else None
    return plausible_snapshot(NetworkSnapshot(source=MEMPOOL, average_fees_per_block=average), where)


def parse_mempool_fees(doc: Any) -> NetworkSnapshot:
    """GET /api/v1/fees/recommended (or /fees/precise): fee rates in sat/vB per target."""
    data = _object(doc, MEMPOOL, _PATH_FEES, tuple(_MEMPOOL_FEE_TARGETS))
    rates = {}
    for key, target in _MEMPOOL_FEE_TARGETS.items():
        rate = _not_negative(data.get(key))
        if rate is not None:
            rates[target] = rate
    return plausible_snapshot(NetworkSnapshot(source=MEMPOOL, fee_rates=rates), f"{MEMPOOL} {_PATH_FEES}")


def _points(doc: Any, path: str, key: str) -> list[dict[str, Any]]:
    """A mining chart: a list of {avgHeight, timestamp, <key>} objects."""
    points = _list(doc, MEMPOOL, path)
    for point in points:
        if not isinstance(point, dict) or key not in point:
            raise ShapeError(f"{MEMPOOL} {path}: a point is not an object with {key}")
    return points


def _latest(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The point with the highest avgHeight (the docs list oldest first; do not rely on it)."""
    dated = [p for p in points if _count(p.get("avgHeight")) is not None]
    return max(dated, key=lambda p: _count(p.get("avgHeight")) or 0) if dated else None


def parse_mempool_block_fees(doc: Any) -> NetworkSnapshot:
    """GET /api/v1/mining/blocks/fees/24h: the latest point's avgFees (sats per block).

    The fallback for when reward-stats/144 is unavailable: a point averages only
    the few blocks in its bucket, not the last 144, so it is noisier.
    """
    latest = _latest(_points(doc, _PATH_BLOCK_FEES, "avgFees"))
    fees = _not_negative(latest.get("avgFees")) if latest is not None else None
    return plausible_snapshot(NetworkSnapshot(source=MEMPOOL, average_fees_per_block=fees), f"{MEMPOOL} {_PATH_BLOCK_FEES}")


def parse_mempool_block_rewards(doc: Any) -> NetworkSnapshot:
    """GET /api/v1/mining/blocks/rewards/24h: validated, nothing exported.

    avgRewards is subsidy plus fees; the subsidy is known from the height and the
    fees come from reward-stats, so this endpoint adds nothing and is not polled.
    """
    _points(doc, _PATH_BLOCK_REWARDS, "avgRewards")
    return NetworkSnapshot(source=MEMPOOL)


def parse_mempool_difficulty_adjustments(doc: Any) -> NetworkSnapshot:
    """GET /api/v1/mining/difficulty-adjustments/1m: the latest retarget's difficulty and time.

    Entries are [timestamp (s), height, difficulty, ratio] tuples; the docs list
    is newest first, but the entry with the highest height is taken regardless.
    """
    entries = _list(doc, MEMPOOL, _PATH_DIFFICULTY_ADJUSTMENTS)
    for entry in entries:
        if not isinstance(entry, list) or len(entry) < 3:
            raise ShapeError(
                f"{MEMPOOL} {_PATH_DIFFICULTY_ADJUSTMENTS}: an entry is not a [timestamp, height, difficulty, ratio] list"
            )
    dated = [e for e in entries if _count(e[1]) is not None]
    if not dated:
        return NetworkSnapshot(source=MEMPOOL)
    latest = max(dated, key=lambda e: _count(e[1]) or 0)
    where = f"{MEMPOOL} {_PATH_DIFFICULTY_ADJUSTMENTS}"
    return plausible_snapshot(
        NetworkSnapshot(
            source=MEMPOOL,
            difficulty=_positive(latest[2]),
            previous_retarget_time=unix_time(latest[0], f"{where}: timestamp"),
        ),
        where,
    )


# --- blockchain.info ----------------------------------------------------------------


def parse_blockchain_info_stats(doc: Any) -> NetworkSnapshot:
    """GET https://api.blockchain.info/stats.

    hash_rate is GH/s. total_fees_btc is satoshis over the last 24 h despite its
    name, like n_btc_mined: in the docs example n_btc_mined 168750000000 is
    135 blocks x 12.5 BTC in sats, and with total_fees_btc 11648437530 it adds up
    to miners_revenue_btc 1803 BTC. nextretarget names the last block of the
    epoch (576575 = 286 x 2016 - 1); it is moved to the first block at the new
    difficulty, a multiple of 2016, which is what mempool.space reports, so both
    sources mean the same height and blocks_until_retarget.
    """
    data = _object(
        doc,
        BLOCKCHAIN_INFO,
        _PATH_STATS,
        ("hash_rate", "difficulty", "n_blocks_total", "nextretarget", "total_fees_btc", "n_blocks_mined"),
    )
    hashrate_ghs = _positive(data.get("hash_rate"))
    height = _count(data.get("n_blocks_total"))
    next_retarget = _count(data.get("nextretarget"))
    if next_retarget is not None and next_retarget % RETARGET_INTERVAL == RETARGET_INTERVAL - 1:
        next_retarget += 1
    elif next_retarget is not None and (next_retarget == 0 or next_retarget % RETARGET_INTERVAL != 0):
        next_retarget = None  # neither convention: a height we cannot interpret
    until = next_retarget - height if next_retarget is not None and height is not None else None
    fees, mined = _whole(data.get("total_fees_btc")), _count(data.get("n_blocks_mined"))
    return plausible_snapshot(
        NetworkSnapshot(
            source=BLOCKCHAIN_INFO,
            height=height,
            difficulty=_positive(data.get("difficulty")),
            hashrate=hashrate_ghs * 1e9 if hashrate_ghs is not None else None,
            next_retarget_height=next_retarget,
            blocks_until_retarget=until if until is not None and 0 < until <= RETARGET_INTERVAL else None,
            average_fees_per_block=as_float(fees) / as_float(mined) if fees is not None and fees >= 0 and mined else None,
        ),
        f"{BLOCKCHAIN_INFO} {_PATH_STATS}",
    )


# --- endpoints ----------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkEndpoint:
    """One request a poller makes: GET base_url + path, then parse the reply.

    text: the reply is text/plain and parse takes the raw body (str or bytes)
    instead of decoded JSON. fallback: only worth asking when the other
    endpoints of the source left the fields it fills empty (merge it last).
    """

    name: str
    path: str
    parse: Callable[[Any], NetworkSnapshot]
    text: bool = False
    fallback: bool = False


# In merge order: earlier replies win where two fill the same field (the tip height
# endpoint before the height derived from the difficulty adjustment).
ENDPOINTS: dict[str, list[NetworkEndpoint]] = {
    MEMPOOL: [
        NetworkEndpoint("tip_height", _PATH_TIP_HEIGHT, parse_mempool_tip_height, text=True),
        NetworkEndpoint("difficulty_adjustment", _PATH_DIFFICULTY_ADJUSTMENT, parse_mempool_difficulty_adjustment),
        NetworkEndpoint("hashrate", _PATH_HASHRATE, parse_mempool_hashrate),
        NetworkEndpoint("reward_stats", _PATH_REWARD_STATS, parse_mempool_reward_stats),
        NetworkEndpoint("fees", _PATH_FEES, parse_mempool_fees),
        NetworkEndpoint("block_fees", _PATH_BLOCK_FEES, parse_mempool_block_fees, fallback=True),
        NetworkEndpoint(
            "difficulty_adjustments", _PATH_DIFFICULTY_ADJUSTMENTS, parse_mempool_difficulty_adjustments, fallback=True
        ),
    ],
    BLOCKCHAIN_INFO: [
        NetworkEndpoint("stats", _PATH_STATS, parse_blockchain_info_stats),
    ],
}
