"""Bitcoin's consensus arithmetic: subsidy, halving and retarget schedules, expected reward, hashprice.

Pure functions shared by the market exporter (subsidy, halving and hashprice
series, retarget estimates for a node without its own) and profitability
(expected BTC per day of a miner). Nothing here is configured: the subsidy
follows the halving schedule from the height, the retarget schedule is every
2,016 blocks, and the expected reward comes from difficulty (the expectation
the protocol sets), not from a noisy network-hashrate estimate. Formulas are
written out in docs/economics.md.
"""

from __future__ import annotations

from .numbers import SATOSHIS_PER_BTC

HALVING_INTERVAL = 210_000  # blocks (consensus: nSubsidyHalvingInterval)
INITIAL_SUBSIDY_SATS = 50 * SATOSHIS_PER_BTC
RETARGET_INTERVAL = 2016  # blocks between difficulty adjustments
TARGET_BLOCK_SECONDS = 600
HASHES_PER_DIFFICULTY = 2**32  # expected hashes per block at difficulty 1
SECONDS_PER_DAY = 86_400
PETAHASH = 1e15
# A retarget moves difficulty by at most a factor of 4 either way.
MAX_ADJUSTMENT = 4.0


def block_subsidy_sats(height: int) -> int:
    """The new coins in block `height`: 50 BTC halved every 210,000 blocks (Bitcoin Core's GetBlockSubsidy)."""
    if height < 0:
        raise ValueError(f"negative height {height}")
    halvings = height // HALVING_INTERVAL
    if halvings >= 64:  # a right shift by 64 or more is undefined in C++; the subsidy is long since 0
        return 0
    return INITIAL_SUBSIDY_SATS >> halvings


def next_halving_height(height: int) -> int:
    return (height // HALVING_INTERVAL + 1) * HALVING_INTERVAL


def next_retarget_height(height: int) -> int:
    """The first block of the next difficulty epoch."""
    return (height // RETARGET_INTERVAL + 1) * RETARGET_INTERVAL


def epoch_start_height(height: int) -> int:
    return (height // RETARGET_INTERVAL) * RETARGET_INTERVAL


def expected_btc_per_day(hashrate: float, difficulty: float, block_reward_sats: float) -> float:
    """BTC a miner of `hashrate` H/s earns per day on average at this difficulty.

    A block takes difficulty × 2^32 hashes on average, so a miner finds
    hashrate × 86,400 / (difficulty × 2^32) blocks a day, each worth the
    subsidy plus fees.
    """
    if difficulty <= 0:
        raise ValueError("difficulty must be positive")
    blocks_per_day = hashrate * SECONDS_PER_DAY / (difficulty * HASHES_PER_DIFFICULTY)
    return blocks_per_day * block_reward_sats / SATOSHIS_PER_BTC


def hashprice_btc(difficulty: float, subsidy_sats: float, average_fees_sats: float) -> float:
    """Hashprice: expected BTC per PH/s per day, before pool fees."""
    return expected_btc_per_day(PETAHASH, difficulty, subsidy_sats + average_fees_sats)


def estimate_retarget(
    height: int, epoch_start_time: float, now: float
) -> tuple[float, float] | None:
    """(estimated difficulty change as a ratio, estimated retarget unix time) from this epoch's pace.

    The blocks mined since the epoch began took (now - epoch_start_time)
    seconds; if the rest come at the same pace, the epoch ends after
    remaining × average seconds, and difficulty moves by 600 s / average - 1
    (clamped to the consensus limit of 4x either way). None until the epoch
    has a block to measure.
    """
    mined = height - epoch_start_height(height)
    elapsed = now - epoch_start_time
    if mined <= 0 or elapsed <= 0:
        return None
    average = elapsed / mined
    remaining = next_retarget_height(height) - height
    factor = min(MAX_ADJUSTMENT, max(1 / MAX_ADJUSTMENT, TARGET_BLOCK_SECONDS / average))
    return factor - 1, now + remaining * average
