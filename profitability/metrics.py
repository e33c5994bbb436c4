"""Profitability series per miner, site and fleet: the rendering of one `Snapshot` (snapshot.py).

Each scrape takes one snapshot of the cached inputs at the moment of the scrape
(the electricity price depends on the hour) and renders it; nothing is computed
here. Inputs older than `max_input_age_seconds` count as missing: their
dependent series are absent and `profitability_missing_input{input}` says how
many miners lack what.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hashwatch.polling import Poller

from .catalog import Catalog
from .config import ProfitabilityConfig
from .evaluate import Totals
from .inputs import INPUTS_JOB
from .snapshot import Snapshot, Snapshots

__all__ = ["INPUTS_JOB", "MINER_SERIES", "TOTAL_SERIES", "ProfitabilityCollector"]

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

# Also the field names of the ledger's fleet_economics and site_economics points (records.py).
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
    """Renders one snapshot per scrape; `snapshots` keeps it for the ledger."""

    def __init__(
        self,
        poller: Poller,
        config: ProfitabilityConfig,
        catalog: Catalog | None,
        clock: Callable[[], float] = time.time,
    ):
        self.poller = poller
        self.config = config
        self.snapshots = Snapshots(poller, config, catalog, clock)

    def collect(self) -> Iterator[Metric]:
        state = self.poller.state(INPUTS_JOB)
        up = GaugeMetricFamily("hashwatch_profitability_inputs_up", "1 if the latest read of the inputs from Prometheus succeeded.")
        read = GaugeMetricFamily("hashwatch_profitability_inputs_read_timestamp_seconds", "When the inputs were last read.")
        if state.up is not None:
            up.add_metric([], 1.0 if state.up else 0.0)
        snapshot = self.snapshots.take()
        if snapshot is None:
            yield from (up, read)
            return
        read.add_metric([], snapshot.read_at)
        yield from (up, read)
        yield from self._miner_series(snapshot)
        yield from self._totals(snapshot)
        yield from self._advice(snapshot)
        rates = GaugeMetricFamily(
            "profitability_electricity_price_per_kwh", "The electricity price now, in the profitability currency.",
            labels=["site", "currency"],
        )
        for site, rate in snapshot.electricity_prices.items():
            rates.add_metric([site, snapshot.currency], rate)
        yield rates
        absent = GaugeMetricFamily(
            "profitability_missing_input", "Miners whose series are incomplete, by the input they lack "
            "(price, network, electricity_price, exchange_rate, power).", labels=["input"],
        )
        for reason, count in snapshot.missing.items():
            absent.add_metric([reason], count)
        yield absent
        profit = GaugeMetricFamily(
            "profitability_model_profit_per_day",
            "Calculator: expected profit per day of a catalog model at current network conditions and the default tariff.",
            labels=["make", "model", "currency"],
        )
        for model in snapshot.calculator:
            profit.add_metric([model.make, model.model, snapshot.currency], model.profit_per_day)
        yield profit
        yield from self._ocean_check(snapshot)

    def _ocean_check(self, snapshot: Snapshot) -> Iterator[Metric]:
        """What Ocean saw and paid against what the miners' own hashrate should earn (snapshot.py)."""
        hashrate = GaugeMetricFamily(
            "profitability_ocean_hashrate_ratio", "Ocean's 24 h hashrate of the watched addresses / the fleet's reported hashrate."
        )
        earnings = GaugeMetricFamily(
            "profitability_ocean_earnings_ratio",
            "BTC per day Ocean credited over the last 7 days / BTC per day the fleet's hashrate should earn at this difficulty.",
        )
        if snapshot.ocean_hashrate_ratio is not None:
            hashrate.add_metric([], snapshot.ocean_hashrate_ratio)
        if snapshot.ocean_earnings_ratio is not None:
            earnings.add_metric([], snapshot.ocean_earnings_ratio)
        yield from (hashrate, earnings)

    def _miner_series(self, snapshot: Snapshot) -> Iterator[Metric]:
        currency = snapshot.currency
        for suffix, doc, attribute, monetary in MINER_SERIES:
            family = GaugeMetricFamily(
                f"profitability_miner_{suffix}", doc, labels=["miner", "site", *(["currency"] if monetary else [])]
            )
            for miner in snapshot.miners:
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
        for miner in snapshot.miners:
            if miner.power_watts is not None:
                power.add_metric([miner.miner, miner.site, "true" if miner.power_estimated else "false"], miner.power_watts)
        yield power

    def _totals(self, snapshot: Snapshot) -> Iterator[Metric]:
        """Site and fleet sums; money in every currency the market exporter prices BTC in."""
        for suffix, doc, attribute, monetary in TOTAL_SERIES:
            extra = ["currency"] if monetary else []
            site_family = GaugeMetricFamily(f"profitability_site_{suffix}", doc, labels=["site", *extra])
            fleet_family = GaugeMetricFamily(f"profitability_fleet_{suffix}", doc, labels=extra)
            rows: list[tuple[list[str], Totals, GaugeMetricFamily]] = [
                *(([name], total, site_family) for name, total in snapshot.sites.items()),
                ([], snapshot.fleet, fleet_family),
            ]
            for labels, total, family in rows:
                value = getattr(total, attribute)
                if value is None or not total.miners:
                    continue
                if monetary:
                    for code, factor in sorted(snapshot.conversions.items()):
                        family.add_metric([*labels, code], value * factor)
                else:
                    family.add_metric(labels, value)
            yield from (site_family, fleet_family)

    def _advice(self, snapshot: Snapshot) -> Iterator[Metric]:
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
        for place in snapshot.curtail_ranks:
            rank.add_metric([place.miner, place.site], place.position)
        yield rank
        for item in snapshot.advice:
            advice.add_metric([item.miner, item.site, item.reason], 1)
        yield advice
