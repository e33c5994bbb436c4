"""One evaluation of the fleet at one moment: `take_snapshot` -> `Snapshot`, rendered and recorded as is.

The pure step: the inputs read from Prometheus, the configuration and the
catalog, evaluated at a moment `at`, give one frozen `Snapshot`: economics per
miner, per site and for the fleet, each site's electricity price, currency
factors, curtailment order and advice, the catalog calculator, Ocean's ratios,
and how many miners lack which input. metrics.py only renders a snapshot;
records.py turns the same object into the ledger's points.

Freshness is judged at `at`: inputs older than `max_input_age_seconds` count as
missing (their dependent series are absent, and `missing` says how many miners
lack what); inputs that were read longer ago than that give no snapshot at all.
The electricity price is the tariff at `at`, converted to the profitability
currency through BTC prices when the tariff is in another one.

When: once per scrape, at the moment of the scrape, because the electricity
price depends on the hour (the same time semantics as before this step was
pulled out of the collector). `Snapshots` remembers the latest; the ledger
records that very object, stamped with its moment, when it was taken from the
inputs still held and within one inputs interval (`interval_seconds`); only
when nothing scraped in that time does the ledger's own moment take one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType

from hashwatch.numbers import SATOSHIS_PER_BTC
from hashwatch.polling import Poller

from .catalog import Catalog
from .config import ProfitabilityConfig
from .evaluate import (
    Market, MinerEconomics, MinerInput, SiteSettings, Totals, curtail_for_cap, curtail_unprofitable,
    curtailment_order, evaluate_miner, totals,
)
from .inputs import INPUTS_JOB, Inputs

# What a miner's series can lack, in the order profitability_missing_input lists them.
MISSING_INPUTS = ("price", "network", "electricity_price", "exchange_rate", "power")


@dataclass(frozen=True)
class Rank:
    """A miner's place in its site's curtailment order: 1 is the least efficient, the first to switch off."""

    miner: str
    site: str
    position: int


@dataclass(frozen=True)
class Advice:
    """A miner to switch off: "unprofitable" (its power costs more than it earns) or "power_cap"."""

    miner: str
    site: str
    reason: str


@dataclass(frozen=True)
class ModelProfit:
    """The calculator: a catalog model's expected profit per day at the default tariff."""

    make: str
    model: str
    profit_per_day: float


@dataclass(frozen=True)
class MarketReading:
    """The market inputs as read from Prometheus, whatever their age (the ledger keeps them as read)."""

    btc_price: float | None  # in the profitability currency
    difficulty: float | None
    subsidy_btc: float | None
    fees_per_block_btc: float | None


@dataclass(frozen=True)
class Snapshot:
    """Everything the profitability exporter says about one moment. Money is in `currency`."""

    at: float  # the moment evaluated (unix seconds): freshness and the tariff hour
    read_at: float  # when the inputs were read from Prometheus
    currency: str
    miners: tuple[MinerEconomics, ...]  # the miners hashing, in the inputs' order
    sites: Mapping[str, Totals]  # by site name, sorted
    fleet: Totals
    electricity_prices: Mapping[str, float]  # site -> price per kWh at `at`, for sites with a price
    conversions: Mapping[str, float]  # currency -> factor from `currency` (cross rates via fresh BTC prices)
    missing: Mapping[str, int]  # every MISSING_INPUTS reason -> miners lacking it (0 for none)
    curtail_ranks: tuple[Rank, ...]
    advice: tuple[Advice, ...]
    calculator: tuple[ModelProfit, ...]  # empty without a catalog
    ocean_hashrate_ratio: float | None  # Ocean's 24 h hashrate / the fleet's reported hashrate
    ocean_earnings_ratio: float | None  # Ocean's credited BTC per day / what the fleet should earn
    market: MarketReading


class _Moment:
    """The inputs as they stand at `at`: what is fresh, the market, and each site's electricity price."""

    def __init__(self, inputs: Inputs, config: ProfitabilityConfig, at: float):
        self.inputs, self.config, self.at = inputs, config, at

    def fresh(self, fetched: float | None) -> bool:
        return fetched is not None and self.at - fetched <= self.config.max_input_age_seconds

    def price(self, currency: str) -> float | None:
        """Fiat per BTC in `currency` if its price is fresh."""
        return self.inputs.prices.get(currency) if self.fresh(self.inputs.price_fetched.get(currency)) else None

    def market(self) -> Market:
        inputs, network = self.inputs, self.fresh(self.inputs.network_fetched)
        sats = lambda btc: btc * SATOSHIS_PER_BTC if network and btc is not None else None  # noqa: E731
        return Market(
            difficulty=inputs.difficulty if network else None,
            subsidy_sats=sats(inputs.subsidy_btc),
            average_fees_sats=sats(inputs.fees_btc),
            price=self.price(self.config.currency),
            currency=self.config.currency,
            estimated_difficulty_change=inputs.difficulty_change if network else None,
        )

    def site(self, name: str) -> SiteSettings:
        """The site's electricity price at `at`, in the profitability currency, or why there is none."""
        tariff = self.config.tariff_for(name)
        if tariff is None:
            return SiteSettings(None)
        rate = tariff.rate_at(datetime.fromtimestamp(self.at, timezone.utc))
        if rate is None:
            return SiteSettings(None, tariff.pue)
        if tariff.currency != self.config.currency:
            # Cross rate through BTC: both prices must be fresh.
            ours, theirs = self.price(self.config.currency), self.price(tariff.currency)
            if not ours or not theirs:
                return SiteSettings(None, tariff.pue, rate_missing="exchange_rate")
            rate = rate * ours / theirs
        return SiteSettings(rate, tariff.pue)

    def conversions(self) -> dict[str, float]:
        """Factor from the profitability currency to every currency with a fresh BTC price."""
        fresh = {c: p for c, p in self.inputs.prices.items() if p > 0 and self.fresh(self.inputs.price_fetched.get(c))}
        base = fresh.get(self.config.currency)
        factors = {self.config.currency: 1.0}
        if base:
            factors.update({c: p / base for c, p in fresh.items()})
        return factors


def _nominal_watts(catalog: Catalog | None) -> Callable[[str, str], float | None]:
    def lookup(make: str, model: str) -> float | None:
        entry = catalog.lookup(make, model) if catalog is not None else None
        return entry.power_watts if entry is not None else None

    return lookup


def _advice(miners: list[MinerEconomics], config: ProfitabilityConfig) -> tuple[tuple[Rank, ...], tuple[Advice, ...]]:
    ranks = tuple(
        Rank(miner.miner, miner.site, position)
        for site in sorted({m.site for m in miners})
        for position, miner in enumerate(curtailment_order([m for m in miners if m.site == site]), start=1)
    )
    advice = [Advice(m.miner, m.site, "unprofitable") for m in curtail_unprofitable(miners)]
    for site, settings in sorted(config.sites.items()):
        if settings.power_cap_watts is not None:
            capped = curtail_for_cap([m for m in miners if m.site == site], settings.power_cap_watts)
            advice.extend(Advice(m.miner, m.site, "power_cap") for m in capped)
    return ranks, tuple(advice)


def _calculator(catalog: Catalog | None, market: Market, site: SiteSettings, pool_fee: float) -> tuple[ModelProfit, ...]:
    """Expected profit per day of every catalog model at today's network and the default tariff."""
    found = []
    for entry in catalog.models if catalog is not None else ():
        miner = MinerInput(f"{entry.make} {entry.model}", "", entry.hashrate_hs, entry.power_watts, entry.make, entry.model)
        result = evaluate_miner(miner, market, site, pool_fee, lambda *_: None, lambda *_: None)
        if result is not None and result.profit_per_day is not None:
            found.append(ModelProfit(entry.make, entry.model, result.profit_per_day))
    return tuple(found)


def take_snapshot(
    inputs: Inputs | None, config: ProfitabilityConfig, catalog: Catalog | None, at: float
) -> Snapshot | None:
    """The inputs evaluated at `at`; None when there are none, or they were read too long ago."""
    if inputs is None:
        return None
    moment = _Moment(inputs, config, at)
    if not moment.fresh(inputs.read_at):
        return None
    market = moment.market()
    settings = {name: moment.site(name) for name in sorted({m.site for m in inputs.miners})}
    nominal = _nominal_watts(catalog)
    evaluated = (
        evaluate_miner(miner, market, settings[miner.site], config.pool_fee, nominal, config.hardware_price)
        for miner in inputs.miners
    )
    miners = [result for result in evaluated if result is not None]
    missing = dict.fromkeys(MISSING_INPUTS, 0)
    for miner in miners:
        for why in miner.missing:
            missing[why] = missing.get(why, 0) + 1
    sites, fleet = totals(miners)
    ranks, advice = _advice(miners, config)
    # Ocean's side, assuming the fleet mines to the addresses the Ocean exporter watches: hashrate
    # near 1 is healthy (below: rejects, stale shares, miners on another pool); earnings swing with
    # the pool's luck and settle near 1 over weeks.
    ocean_hashrate = ocean_earnings = None
    if inputs.ocean_hashrate is not None and fleet.hashrate > 0:
        ocean_hashrate = inputs.ocean_hashrate / fleet.hashrate
    if inputs.ocean_earned_per_day is not None and fleet.btc_per_day:
        ocean_earnings = inputs.ocean_earned_per_day / fleet.btc_per_day
    return Snapshot(
        at=at,
        read_at=inputs.read_at,
        currency=config.currency,
        miners=tuple(miners),
        sites=MappingProxyType(dict(sorted(sites.items()))),
        fleet=fleet,
        electricity_prices=MappingProxyType(
            {name: site.rate_per_kwh for name, site in settings.items() if site.rate_per_kwh is not None}
        ),
        conversions=MappingProxyType(moment.conversions()),
        missing=MappingProxyType(missing),
        curtail_ranks=ranks,
        advice=advice,
        calculator=_calculator(catalog, market, moment.site(""), config.pool_fee),  # "": the default tariff
        ocean_hashrate_ratio=ocean_hashrate,
        ocean_earnings_ratio=ocean_earnings,
        market=MarketReading(
            btc_price=inputs.prices.get(config.currency),
            difficulty=inputs.difficulty,
            subsidy_btc=inputs.subsidy_btc,
            fees_per_block_btc=inputs.fees_btc,
        ),
    )


class Snapshots:
    """The inputs the poller holds, evaluated by take_snapshot; the latest result kept for the ledger."""

    def __init__(
        self, poller: Poller, config: ProfitabilityConfig, catalog: Catalog | None, clock: Callable[[], float] = time.time
    ):
        self.poller, self.config, self.catalog, self.clock = poller, config, catalog, clock
        self._latest: tuple[Inputs | None, Snapshot | None] = (None, None)

    def take(self) -> Snapshot | None:
        """The inputs held now, evaluated now (what a scrape shows)."""
        inputs: Inputs | None = self.poller.state(INPUTS_JOB).value
        snapshot = take_snapshot(inputs, self.config, self.catalog, self.clock())
        self._latest = (inputs, snapshot)
        return snapshot

    def latest(self) -> Snapshot | None:
        """The last snapshot taken, while it is of the inputs held now and younger than one inputs interval;
        otherwise one taken now."""
        held, snapshot = self._latest
        if (
            snapshot is not None
            and held is self.poller.state(INPUTS_JOB).value
            and self.clock() - snapshot.at <= self.config.interval_seconds
        ):
            return snapshot
        return self.take()
