"""One reference BTC price for every replayed price source, moving a little over time.

The recorded replies of the four sources were taken years apart (CoinCap at
23,363 USD, mempool.space at 69,880): served as recorded they would disagree
by a factor of three, which only a broken source does. So each source's
reply keeps its recorded shape and currencies, and every price in it is
multiplied by one factor that brings its USD price to the reference: the
mempool.space capture's USD price (its newest verbatim price, 2024-03-31),
moving by under 1% in two slow waves, plus a fixed offset per source of a
few hundredths of a percent so the spread panels show sources that differ a
little, as real ones do. Every other currency follows the same reference
at the mempool.space capture's cross rate, where that capture quotes it
(EUR, GBP, CAD, CHF, AUD, JPY), so no two sources disagree by more than the
offsets; a currency only blockchain.info's ticker quotes keeps the ticker's
recorded cross rate to USD.
"""

from __future__ import annotations

import math

from .captures import load

PERIODS = ((900.0, 0.005), (240.0, 0.002))  # (seconds, relative amplitude) of the two waves
OFFSETS = {"coingecko": 0.0004, "coincap": -0.0006, "mempool": 0.0, "blockchain_info": 0.0003}


def base_usd() -> float:
    return float(load("market", "mempool_v1_prices.json")["USD"])


def reference_usd(now: float) -> float:
    """The USD price at unix time `now`: the base, moved by the waves."""
    return base_usd() * (1 + sum(amplitude * math.sin(2 * math.pi * now / period) for period, amplitude in PERIODS))


def reference(code: str, now: float) -> float | None:
    """The price in currency `code` at `now`, for the currencies the reference capture quotes; else None."""
    recorded = load("market", "mempool_v1_prices.json")
    if code.upper() not in recorded or code.upper() == "TIME":
        return None
    return reference_usd(now) * recorded[code.upper()] / recorded["USD"]


def factor(source: str, recorded_usd: float, now: float) -> float:
    """What to multiply a source's recorded prices by, so its USD price is the reference (plus its offset)."""
    return reference_usd(now) * (1 + OFFSETS[source]) / recorded_usd


def currency_factor(source: str, code: str, recorded: float, recorded_usd: float, now: float) -> float:
    """The factor for one currency of a reply: to the reference in that currency, else the USD factor."""
    target = reference(code, now)
    if target is None:
        return factor(source, recorded_usd, now)
    return target * (1 + OFFSETS[source]) / recorded
