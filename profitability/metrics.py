"""Profitability series per miner, site and fleet, evaluated at scrape time from cached inputs.

Inputs (read from Prometheus in the background) older than
`max_input_age_seconds` count as missing: their dependent series are absent
and `profitability_missing_input{input}` says how many miners lack what. The
electricity price is the tariff at the moment of the scrape, converted to the
profitability currency through BTC prices when the tariff is in another one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters.market.economics import SATOSHIS_PER_BTC
from hashwatch.polling import Poller

from .config import ProfitabilityConfig
from .catalog import Catalog
from .evaluate import (
    Market, MinerEconomics, MinerInput, SiteSettings, curtail_for_cap, curtail_unprofitable, curtailment_order,
    evaluate_miner, totals,
)
from .inputs import Inputs
from .ledger import Point

INPUTS_JOB = "prometheus/inputs"

# (metric suffix, help, attribute, monetary)
MINER_SERIES = (
    ("btc_per_day", "Expected BTC mined per day after the pool fee.", "btc_per_day", False),
    ("btc_per_day_next_retarget", "Expected BTC per day at the estimated difficulty after the next retarget.",
     "btc_per_day_next_retarget", False),
    ("revenue_per_day", "Expected revenue per day.", "revenue_per_day", True),
    ("power_cost_per_day", "Electricity cost per day, site overhead (PUE) included.", "power_cost_per_day", True),
    ("profit_per_day", "Revenue minus electricity per day.", "profit_per_day", True),
    ("profit_per_day_next_retarget", "Profit per day at the estimated difficulty after the next retarget.",
     "profit_per_day_next_retarget", True),
    ("margin_ratio", "Profit as a fraction of revenue.", "margin", False),
    ("efficiency_joules_per_terahash", "Watts per TH/s.", "efficiency_j_per_th", False),
    ("break_even_btc_price", "BTC price at which revenue pays the electricity.", "break_even_btc_price", True),
    ("break_even_electricity_price", "Price per kWh at which the electricity costs what mining earns.",
     "break_even_electricity_price", True),
    ("break_even_hashprice", "Hashprice (per PH/s per day, before pool fee) at which revenue pays the electricity.",
     "break_even_hashprice", True),
    ("payback_days", "Days for the profit to repay the hardware's configured price.", "payback_days", False),
)

TOTAL_SERIES = (
    ("miners", "Miners hashing.", "miners", False),
    ("hashrate_hashes_per_second", "Hashrate reported by the miners.", "hashrate", False),
    ("power_watts", "Power drawn (reported or estimated); absent if any miner's is unknown.", "power_watts", False),
    ("btc_per_day", "Expected BTC per day after the pool fee.", "btc_per_day", False),
    ("revenue_per_day", "Expected revenue per day.", "revenue_per_day", True),
    ("power_cost_per_day", "Electricity cost per day.", "power_cost_per_day", True),
    ("profit_per_day", "Revenue minus electricity per day.", "profit_per_day", True),
    ("profit_per_day_next_retarget", "Profit per day at the estimated difficulty after the next retarget.",
     "profit_per_day_next_retarget", True),
    ("margin_ratio", "Profit as a fraction of revenue.", "margin", False),
)


class ProfitabilityCollector(Collector):
    def __init__(
        self,
        poller: Poller,
        config: ProfitabilityConfig,
        catalog: Catalog | None,
        clock: Callable[[], float] = time.time,
    ):
        self.poller = poller
        self.config = config
        self.catalog = catalog
        self.clock = clock

    def nominal_watts(self, make: str, model: str) -> float | None:
        entry = self.catalog.lookup(make, model) if self.catalog is not None else None
        return entry.power_watts if entry is not None else None

    def _fresh(self, fetched: float | None, now: float) -> bool:
        return fetched is not None and now - fetched <= self.config.max_input_age_seconds

    def market(self, inputs: Inputs, now: float) -> Market:
        currency = self.config.currency
        network = self._fresh(inputs.network_fetched, now)
        price = inputs.prices.get(currency) if self._fresh(inputs.price_fetched.get(currency), now) else None
        sats = lambda btc: btc * SATOSHIS_PER_BTC if network and btc is not None else None  # noqa: E731
        return Market(
            difficulty=inputs.difficulty if network else None,
            subsidy_sats=sats(inputs.subsidy_btc),
            average_fees_sats=sats(inputs.fees_btc),
            price=price,
            currency=currency,
            estimated_difficulty_change=inputs.difficulty_change if network else None,
        )

    def site(self, name: str, inputs: Inputs, now: float) -> tuple[SiteSettings, str | None]:
        """The site's electricity price now, in the profitability currency; and why it is missing, if it is."""
        tariff = self.config.tariff_for(name)
        if tariff is None:
            return SiteSettings(None), "electricity_price"
        rate = tariff.rate_at(datetime.fromtimestamp(now, timezone.utc))
        if rate is None:
            return SiteSettings(None, tariff.pue), "electricity_price"
        if tariff.currency != self.config.currency:
            # Cross rate through BTC: both prices must be fresh.
            ours, theirs = (
                inputs.prices.get(c) if self._fresh(inputs.price_fetched.get(c), now) else None
                for c in (self.config.currency, tariff.currency)
            )
            if not ours or not theirs:
                return SiteSettings(None, tariff.pue), "exchange_rate"
            rate = rate * ours / theirs
        return SiteSettings(rate, tariff.pue), None

    def evaluate(self, inputs: Inputs, now: float) -> tuple[list[MinerEconomics], dict[str, int]]:
        market = self.market(inputs, now)
        missing: dict[str, int] = {}
        results = []
        sites: dict[str, tuple[SiteSettings, str | None]] = {}
        for miner in inputs.miners:
            if miner.site not in sites:
                sites[miner.site] = self.site(miner.site, inputs, now)
            settings, reason = sites[miner.site]
            result = evaluate_miner(miner, market, settings, self.config.pool_fee, self.nominal_watts, self.config.hardware_price)
            if result is None:
                continue
            if reason == "exchange_rate" and "electricity_price" in result.missing:
                result.missing[result.missing.index("electricity_price")] = "exchange_rate"
            for why in result.missing:
                missing[why] = missing.get(why, 0) + 1
            results.append(result)
        return results, missing

    def current(self) -> tuple[Inputs, list[MinerEconomics], dict[str, int], float] | None:
        """The latest fresh inputs evaluated now; None when there are none."""
        inputs: Inputs | None = self.poller.state(INPUTS_JOB).value
        now = self.clock()
        if inputs is None or not self._fresh(inputs.read_at, now):
            return None
        miners, missing = self.evaluate(inputs, now)
        return inputs, miners, missing, now

    def collect(self) -> Iterator[Metric]:
        currency = self.config.currency
        state = self.poller.state(INPUTS_JOB)
        up = GaugeMetricFamily("profitability_inputs_up", "1 if the latest read of the inputs from Prometheus succeeded.")
        read = GaugeMetricFamily("profitability_inputs_read_timestamp_seconds", "When the inputs were last read.")
        if state.up is not None:
            up.add_metric([], 1.0 if state.up else 0.0)
        inputs: Inputs | None = state.value
        if inputs is None or not self._fresh(inputs.read_at, self.clock()):
            yield from (up, read)
            return
        read.add_metric([], inputs.read_at)
        yield from (up, read)
        now = self.clock()
        miners, missing = self.evaluate(inputs, now)
        yield from self._miner_series(miners, currency)
        sites, fleet = totals(miners)
        yield from self._totals(sites, fleet, self.conversions(inputs, now))
        yield from self._advice(miners)
        rates = GaugeMetricFamily(
            "profitability_electricity_price_per_kwh", "The electricity price now, in the profitability currency.",
            labels=["site", "currency"],
        )
        for name in sorted({m.site for m in inputs.miners}):
            settings, _ = self.site(name, inputs, now)
            if settings.rate_per_kwh is not None:
                rates.add_metric([name, currency], settings.rate_per_kwh)
        yield rates
        absent = GaugeMetricFamily(
            "profitability_missing_input", "Miners whose series are incomplete, by the input they lack "
            "(price, network, electricity_price, exchange_rate, power).", labels=["input"],
        )
        for reason in ("price", "network", "electricity_price", "exchange_rate", "power"):
            absent.add_metric([reason], missing.get(reason, 0))
        yield absent
        yield from self._calculator(inputs, now)
        yield from self._ocean_check(inputs, fleet)

    def _ocean_check(self, inputs: Inputs, fleet) -> Iterator[Metric]:
        """What Ocean saw and paid against what the miners' own hashrate should earn.

        Assumes the fleet mines to the Ocean addresses the Ocean exporter watches.
        Hashrate near 1 is healthy (below: rejects, stale shares, miners on another
        pool); earnings swing with the pool's luck and settle near 1 over weeks.
        """
        hashrate = GaugeMetricFamily(
            "profitability_ocean_hashrate_ratio", "Ocean's 24 h hashrate of the watched addresses / the fleet's reported hashrate."
        )
        earnings = GaugeMetricFamily(
            "profitability_ocean_earnings_ratio",
            "BTC per day Ocean credited over the last 7 days / BTC per day the fleet's hashrate should earn at this difficulty.",
        )
        if inputs.ocean_hashrate is not None and fleet.hashrate > 0:
            hashrate.add_metric([], inputs.ocean_hashrate / fleet.hashrate)
        if inputs.ocean_earned_per_day is not None and fleet.btc_per_day:
            earnings.add_metric([], inputs.ocean_earned_per_day / fleet.btc_per_day)
        yield from (hashrate, earnings)

    def _calculator(self, inputs: Inputs, now: float) -> Iterator[Metric]:
        """Expected profit per day of every catalog model at today's network and the default tariff."""
        profit = GaugeMetricFamily(
            "profitability_model_profit_per_day",
            "Calculator: expected profit per day of a catalog model at current network conditions and the default tariff.",
            labels=["make", "model", "currency"],
        )
        if self.catalog is not None:
            market = self.market(inputs, now)
            site, _ = self.site("", inputs, now)  # the default tariff
            for entry in self.catalog.models:
                miner = MinerInput(f"{entry.make} {entry.model}", "", entry.hashrate_hs, entry.power_watts, entry.make, entry.model)
                result = evaluate_miner(miner, market, site, self.config.pool_fee, lambda *_: None, lambda *_: None)
                if result is not None and result.profit_per_day is not None:
                    profit.add_metric([entry.make, entry.model, self.config.currency], result.profit_per_day)
        yield profit

    def _miner_series(self, miners: list[MinerEconomics], currency: str) -> Iterator[Metric]:
        for suffix, doc, attribute, monetary in MINER_SERIES:
            family = GaugeMetricFamily(
                f"profitability_miner_{suffix}", doc, labels=["miner", "site", *(["currency"] if monetary else [])]
            )
            for miner in miners:
                value = getattr(miner, attribute)
                if value is not None:
                    family.add_metric([miner.miner, miner.site, *([currency] if monetary else [])], value)
            yield family
        power = GaugeMetricFamily(
            "profitability_miner_power_watts",
            "Power used in the cost: reported by the miner, or the catalog's nominal. estimated=\"true\" for the "
            "catalog's nominal and for a firmware's own estimate.",
            labels=["miner", "site", "estimated"],
        )
        for miner in miners:
            if miner.power_watts is not None:
                power.add_metric([miner.miner, miner.site, "true" if miner.power_estimated else "false"], miner.power_watts)
        yield power

    def conversions(self, inputs: Inputs, now: float) -> dict[str, float]:
        """Factor from the profitability currency to every currency with a fresh BTC price (cross rates via BTC)."""
        fresh = {c: p for c, p in inputs.prices.items() if p > 0 and self._fresh(inputs.price_fetched.get(c), now)}
        base = fresh.get(self.config.currency)
        factors = {self.config.currency: 1.0}
        if base:
            factors.update({c: p / base for c, p in fresh.items()})
        return factors

    def _totals(self, sites, fleet, factors: dict[str, float]) -> Iterator[Metric]:
        """Site and fleet sums; money in every currency the market exporter prices BTC in."""
        for suffix, doc, attribute, monetary in TOTAL_SERIES:
            extra = ["currency"] if monetary else []
            site_family = GaugeMetricFamily(f"profitability_site_{suffix}", doc, labels=["site", *extra])
            fleet_family = GaugeMetricFamily(f"profitability_fleet_{suffix}", doc, labels=extra)
            for labels, total, family in (
                *(([name], total, site_family) for name, total in sorted(sites.items())),
                ([], fleet, fleet_family),
            ):
                value = getattr(total, attribute)
                if value is None or not total.miners:
                    continue
                if monetary:
                    for code, factor in sorted(factors.items()):
                        family.add_metric([*labels, code], value * factor)
                else:
                    family.add_metric(labels, value)
            yield from (site_family, fleet_family)

    def _advice(self, miners: list[MinerEconomics]) -> Iterator[Metric]:
        advice = GaugeMetricFamily(
            "profitability_curtail_advised",
            "1 for a miner to switch off: `unprofitable` (its power costs more than it earns) or "
            "`power_cap` (least efficient first until the site fits its cap). Advice only.",
            labels=["miner", "site", "reason"],
        )
        rank = GaugeMetricFamily(
            "profitability_miner_curtail_rank",
            "Order in which to switch the site's miners off when power is dear or capped: 1 is the least efficient.",
            labels=["miner", "site"],
        )
        for site in sorted({m.site for m in miners}):
            for position, miner in enumerate(curtailment_order([m for m in miners if m.site == site]), start=1):
                rank.add_metric([miner.miner, miner.site], position)
        yield rank
        for miner in curtail_unprofitable(miners):
            advice.add_metric([miner.miner, miner.site, "unprofitable"], 1)
        for site, settings in sorted(self.config.sites.items()):
            if settings.power_cap_watts is not None:
                for miner in curtail_for_cap([m for m in miners if m.site == site], settings.power_cap_watts):
                    advice.add_metric([miner.miner, miner.site, "power_cap"], 1)
        yield advice


def snapshot_points(current, currency: str) -> list[Point]:
    """The ledger's record of one moment: fleet and per-site economics, and the market inputs they used."""
    inputs, miners, _, now = current
    sites, fleet = totals(miners)
    points = []
    for measurement, tags, total in (
        ("fleet_economics", {"currency": currency}, fleet),
        *(("site_economics", {"currency": currency, "site": name}, site) for name, site in sorted(sites.items())),
    ):
        if not total.miners:
            continue  # nothing hashing: no economics to record, rather than a row of zeros
        fields = {suffix: getattr(total, attribute) for suffix, _, attribute, _ in TOTAL_SERIES}
        points.append(Point(measurement, tags=tags, fields=fields, timestamp=now))
    points.append(
        Point(
            "market_inputs",
            tags={"currency": currency},
            fields={"btc_price": inputs.prices.get(currency), "difficulty": inputs.difficulty,
                    "subsidy_btc": inputs.subsidy_btc, "fees_per_block_btc": inputs.fees_btc},
            timestamp=now,
        )
    )
    return [p for p in points if p.known_fields()]
