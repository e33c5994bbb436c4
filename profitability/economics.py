"""Mining economics per miner, site or fleet: pure functions, documented in docs/economics.md.

Every function takes plain numbers in base units (H/s, watts, satoshis, fiat
per kWh) and returns None when the answer does not exist (a margin without
revenue, a payback that never comes) rather than a made-up number. Missing
inputs are the caller's to catch: nothing here computes a profit from a zero.
"""

from __future__ import annotations

from hashwatch.consensus import PETAHASH, expected_btc_per_day

HOURS_PER_DAY = 24
TERAHASH = 1e12


def mined_btc_per_day(
    hashrate: float, difficulty: float, subsidy_sats: float, average_fees_sats: float, pool_fee: float = 0.0
) -> float:
    """Expected BTC per day after the pool's fee: hashrate × 86,400 × (subsidy + fees) ÷ (difficulty × 2^32) × (1 − fee)."""
    if not 0 <= pool_fee < 1:
        raise ValueError(f"pool fee {pool_fee} is not a fraction between 0 and 1")
    return expected_btc_per_day(hashrate, difficulty, subsidy_sats + average_fees_sats) * (1 - pool_fee)


def energy_kwh_per_day(watts: float, pue: float = 1.0) -> float:
    """Energy drawn in a day, with the site's overhead for cooling and infrastructure (PUE ≥ 1)."""
    if pue < 1:
        raise ValueError(f"PUE {pue} is below 1")
    return watts * pue * HOURS_PER_DAY / 1000


def power_cost_per_day(watts: float, rate_per_kwh: float, pue: float = 1.0) -> float:
    return energy_kwh_per_day(watts, pue) * rate_per_kwh


def margin(revenue: float, cost: float) -> float | None:
    """Profit as a fraction of revenue; None without revenue."""
    return (revenue - cost) / revenue if revenue > 0 else None


def efficiency_j_per_th(watts: float, hashrate: float) -> float | None:
    """Joules per terahash (W ÷ TH/s); None for a miner that is not hashing."""
    return watts / (hashrate / TERAHASH) if hashrate > 0 else None


def break_even_btc_price(cost_per_day: float, btc_per_day: float) -> float | None:
    """The BTC price at which revenue pays the power."""
    return cost_per_day / btc_per_day if btc_per_day > 0 else None


def break_even_electricity_price(revenue_per_day: float, watts: float, pue: float = 1.0) -> float | None:
    """The price per kWh at which the power costs what the mining earns."""
    energy = energy_kwh_per_day(watts, pue)
    return revenue_per_day / energy if energy > 0 else None


def break_even_hashprice(cost_per_day: float, hashrate: float, pool_fee: float = 0.0) -> float | None:
    """The hashprice (fiat per PH/s per day, before pool fees, as markets quote it) at which revenue pays the power."""
    petahashes = hashrate / PETAHASH
    return cost_per_day / (petahashes * (1 - pool_fee)) if petahashes > 0 else None


def payback_days(hardware_price: float, profit_per_day: float) -> float | None:
    """Days for the profit to repay the hardware; None while mining loses money."""
    return hardware_price / profit_per_day if profit_per_day > 0 else None
