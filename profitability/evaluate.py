"""One evaluation: the fleet's telemetry and the market's numbers -> economics per miner, site and fleet.

Inputs arrive as plain values (read from Prometheus by the caller). A missing
or stale input produces no output for the series that depend on it and a
reason instead: no price means no revenue, profit or break-even BTC price, but
still BTC per day and power cost; no difficulty means no revenue at all. A
miner that does not report its power gets the catalog's nominal power, marked
as estimated; one the catalog does not know gets no cost. A power the firmware
itself estimates (miner_power_watts{estimated="true"}) is used as reported and
stays marked as estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import economics


@dataclass(frozen=True)
class Market:
    """Network and price inputs; None when missing or stale."""

    difficulty: float | None
    subsidy_sats: float | None
    average_fees_sats: float | None
    price: float | None  # fiat per BTC in `currency`
    currency: str
    estimated_difficulty_change: float | None = None  # for the next-retarget scenario


@dataclass(frozen=True)
class MinerInput:
    miner: str  # the miner's identity label value (instance or miner)
    site: str
    hashrate: float | None  # H/s as the miner reports it
    power_watts: float | None  # as reported; None when the firmware does not say
    make: str = ""
    model: str = ""
    power_estimated: bool = False  # the firmware's own estimate, not a reading (estimated="true")


@dataclass(frozen=True)
class MinerEconomics:
    """One miner's economics at one moment; None where an input is missing (see `missing`)."""

    miner: str
    site: str
    hashrate: float
    power_watts: float | None
    power_estimated: bool
    btc_per_day: float | None = None
    btc_per_day_next_retarget: float | None = None
    profit_per_day_next_retarget: float | None = None
    revenue_per_day: float | None = None
    power_cost_per_day: float | None = None
    profit_per_day: float | None = None
    margin: float | None = None
    efficiency_j_per_th: float | None = None
    break_even_btc_price: float | None = None
    break_even_electricity_price: float | None = None
    break_even_hashprice: float | None = None
    payback_days: float | None = None
    rate_per_kwh: float | None = None
    missing: list[str] = field(default_factory=list)  # why series are absent, e.g. "price", "power"; read only


SUMMED = (
    "power_watts", "btc_per_day", "revenue_per_day", "power_cost_per_day", "profit_per_day",
    "profit_per_day_next_retarget",
)


@dataclass(frozen=True)
class Totals:
    """Sums over miners (a site or the fleet). A sum is None when any miner lacks the value:
    a partial sum would understate cost or revenue without saying so."""

    miners: int = 0
    hashrate: float = 0.0
    power_watts: float | None = 0.0
    btc_per_day: float | None = 0.0
    revenue_per_day: float | None = 0.0
    power_cost_per_day: float | None = 0.0
    profit_per_day: float | None = 0.0
    profit_per_day_next_retarget: float | None = 0.0

    @classmethod
    def of(cls, miners: Iterable[MinerEconomics]) -> Totals:
        count, hashrate = 0, 0.0
        sums: dict[str, float | None] = dict.fromkeys(SUMMED, 0.0)
        for miner in miners:
            count += 1
            hashrate += miner.hashrate
            for name in SUMMED:
                total, value = sums[name], getattr(miner, name)
                sums[name] = None if total is None or value is None else total + value
        return cls(count, hashrate, **sums)

    @property
    def margin(self) -> float | None:
        if self.revenue_per_day is None or self.power_cost_per_day is None:
            return None
        return economics.margin(self.revenue_per_day, self.power_cost_per_day)


@dataclass(frozen=True)
class SiteSettings:
    rate_per_kwh: float | None  # the tariff now, in the market's currency; None: no price now
    pue: float = 1.0
    # Why there is no rate, for `missing`: "electricity_price" (no tariff covers now), or
    # "exchange_rate" (the tariff's currency cannot be converted without fresh BTC prices).
    rate_missing: str = "electricity_price"


def evaluate_miner(
    miner: MinerInput,
    market: Market,
    site: SiteSettings,
    pool_fee: float,
    nominal_watts: Callable[[str, str], float | None],
    hardware_price: Callable[[str, str], float | None],
) -> MinerEconomics | None:
    """Economics of one miner; None for a miner that is not hashing (no hashrate)."""
    hashrate = miner.hashrate
    if hashrate is None or hashrate <= 0:
        return None
    watts, estimated = miner.power_watts, miner.power_estimated
    if watts is None:
        watts, estimated = nominal_watts(miner.make, miner.model), True
    missing: list[str] = []
    values: dict[str, float | None] = {}  # MinerEconomics fields, None or left out when unknown
    if watts is None:
        missing.append("power")
    else:
        values["efficiency_j_per_th"] = economics.efficiency_j_per_th(watts, hashrate)
    cost = None
    if site.rate_per_kwh is None:
        missing.append(site.rate_missing)
    elif watts is not None:
        cost = values["power_cost_per_day"] = economics.power_cost_per_day(watts, site.rate_per_kwh, site.pue)
    btc = btc_next = None
    if market.difficulty is None or market.subsidy_sats is None or market.average_fees_sats is None:
        missing.append("network")
    else:
        args = (market.subsidy_sats, market.average_fees_sats, pool_fee)
        btc = values["btc_per_day"] = economics.mined_btc_per_day(hashrate, market.difficulty, *args)
        if market.estimated_difficulty_change is not None:
            after = market.difficulty * (1 + market.estimated_difficulty_change)
            btc_next = values["btc_per_day_next_retarget"] = economics.mined_btc_per_day(hashrate, after, *args)
    revenue = None
    if market.price is None:
        missing.append("price")
    elif btc is not None:
        revenue = values["revenue_per_day"] = btc * market.price
    if revenue is not None and cost is not None:
        profit = values["profit_per_day"] = revenue - cost
        values["margin"] = economics.margin(revenue, cost)
        price = hardware_price(miner.make, miner.model)
        if price is not None:
            values["payback_days"] = economics.payback_days(price, profit)
    if cost is not None and btc_next is not None and market.price is not None:
        # The scenario: same hashrate, power and tariff, at the difficulty expected after the retarget.
        values["profit_per_day_next_retarget"] = btc_next * market.price - cost
    if cost is not None and btc is not None:
        values["break_even_btc_price"] = economics.break_even_btc_price(cost, btc)
    if cost is not None:
        values["break_even_hashprice"] = economics.break_even_hashprice(cost, hashrate, pool_fee)
    if revenue is not None and watts is not None:
        values["break_even_electricity_price"] = economics.break_even_electricity_price(revenue, watts, site.pue)
    return MinerEconomics(
        miner.miner, miner.site, hashrate, watts, estimated and watts is not None,
        rate_per_kwh=site.rate_per_kwh, missing=missing, **values,
    )


def totals(miners: Iterable[MinerEconomics]) -> tuple[dict[str, Totals], Totals]:
    """Per-site sums and the fleet sum."""
    miners = list(miners)
    by_site: dict[str, list[MinerEconomics]] = {}
    for miner in miners:
        by_site.setdefault(miner.site, []).append(miner)
    return {site: Totals.of(group) for site, group in by_site.items()}, Totals.of(miners)


def curtailment_order(miners: list[MinerEconomics]) -> list[MinerEconomics]:
    """Least efficient first: the order in which to switch miners off when power is dear or capped."""
    known = [m for m in miners if m.efficiency_j_per_th is not None]
    return sorted(known, key=lambda m: (-m.efficiency_j_per_th, m.miner))


def curtail_for_cap(miners: list[MinerEconomics], cap_watts: float) -> list[MinerEconomics]:
    """Miners to switch off, least efficient first, until the rest fit under `cap_watts`."""
    load = sum(m.power_watts for m in miners if m.power_watts is not None)
    chosen = []
    for miner in curtailment_order(miners):
        if load <= cap_watts:
            break
        chosen.append(miner)
        load -= miner.power_watts or 0
    return chosen


def curtail_unprofitable(miners: list[MinerEconomics]) -> list[MinerEconomics]:
    """Miners whose power costs more than they earn, least efficient first: advice, never sent to miners."""
    return [m for m in curtailment_order(miners) if m.profit_per_day is not None and m.profit_per_day < 0]
