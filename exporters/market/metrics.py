"""Cached market and network data -> Prometheus metric families, one collector per group.

Each value comes from the first fresh source in the configured order
(sources.Selection). A value no source has is left out, never exported as 0;
series derived from it (subsidy, hashprice) are left out with it.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hashwatch import consensus
from hashwatch.numbers import SATOSHIS_PER_BTC
from hashwatch.polling import Poller

from .model import FEE_TARGETS
from .prices import disagreement
from .sources import Selection, split_job_name


class _Group(Collector):
    def __init__(self, selection: Selection):
        self.selection = selection
        self.config = selection.config


class PriceCollector(_Group):
    """The BTC price in each configured currency, where it came from, and whether sources agree."""

    def collect(self) -> Iterator[Metric]:
        price = GaugeMetricFamily("market_btc_price", "Price of one BTC in the currency.", labels=["currency"])
        info = GaugeMetricFamily(
            "market_btc_price_source_info", "The source each currency's price comes from (1 per currency).",
            labels=["currency", "source"],
        )
        fetched = GaugeMetricFamily(
            "market_btc_price_fetched_timestamp_seconds", "When the exported price was fetched: its age.", labels=["currency"]
        )
        per_source = GaugeMetricFamily(
            "market_source_btc_price", "Each source's last good price, for comparison.", labels=["source", "currency"]
        )
        spread = GaugeMetricFamily(
            "market_btc_price_spread_ratio", "(max - min) / median of the fresh sources' prices.", labels=["currency"]
        )
        disagree = GaugeMetricFamily(
            "market_btc_price_sources_disagree",
            "1 when the fresh sources' prices spread more than market.disagreement_ratio.", labels=["currency"],
        )
        fresh = self.selection.fresh_quotes()
        for currency in self.config.currencies:
            chosen = self.selection.price(currency)
            if chosen is not None:
                price.add_metric([currency], chosen.value)
                info.add_metric([currency, chosen.source], 1)
                fetched.add_metric([currency], chosen.fetched_at)
            ratio = disagreement(fresh, currency)
            if ratio is not None:
                spread.add_metric([currency], ratio)
                disagree.add_metric([currency], 1.0 if ratio > self.config.disagreement_ratio else 0.0)
        for name in self.selection.price_jobs():
            quote = self.selection.poller.value(name)
            if quote is not None:
                for currency, value in sorted(quote.prices.items()):
                    per_source.add_metric([split_job_name(name)[0], currency], value)
        yield from (price, info, fetched, per_source, spread, disagree)


# (metric, help, NetworkSnapshot field, conversion to the metric's unit)
NETWORK_FIELDS = (
    ("market_network_height", "Height of the chain tip.", "height", float),
    ("market_network_difficulty", "Current difficulty.", "difficulty", float),
    ("market_network_hashrate_hashes_per_second", "Network hashrate estimate.", "hashrate", float),
    ("market_network_next_retarget_height", "First block of the next difficulty epoch.", "next_retarget_height", float),
    ("market_network_blocks_until_retarget", "Blocks left in this difficulty epoch.", "blocks_until_retarget", float),
    (
        "market_network_retarget_estimated_timestamp_seconds", "When the next difficulty adjustment is expected.",
        "estimated_retarget_time", float,
    ),
    (
        "market_network_difficulty_change_estimated_ratio", "Expected difficulty change at the next retarget (0.05 = +5 %).",
        "estimated_difficulty_change", float,
    ),
    (
        "market_network_previous_retarget_timestamp_seconds", "When the current difficulty epoch began.",
        "previous_retarget_time", float,
    ),
    (
        "market_network_fees_per_block_average_btc", "Average fees per block over about the last day.",
        "average_fees_per_block", lambda sats: sats / SATOSHIS_PER_BTC,
    ),
)


class NetworkCollector(_Group):
    """Height, difficulty, hashrate, retarget, fees; plus subsidy and hashprice derived from them."""

    def collect(self) -> Iterator[Metric]:
        sources = GaugeMetricFamily(
            "market_network_value_source_info", "The source each network metric comes from.", labels=["metric", "source"]
        )
        chosen: dict[str, float] = {}
        for name, doc, field, convert in NETWORK_FIELDS:
            family = GaugeMetricFamily(name, doc)
            value = self.selection.network_field(field)
            if value is not None:
                family.add_metric([], convert(value.value))
                sources.add_metric([name, value.source], 1)
                chosen[field] = value.value
            yield family
        rates = GaugeMetricFamily(
            "market_network_fee_rate_sat_per_vbyte", "Fee rate for confirmation within a target.", labels=["target"]
        )
        fee_rates = self.selection.network_field("fee_rates")
        if fee_rates is not None:
            # One documented label set whatever the source (model.FEE_TARGETS).
            for target in FEE_TARGETS:
                if target in fee_rates.value:
                    rates.add_metric([target], fee_rates.value[target])
            sources.add_metric([rates.name, fee_rates.source], 1)
        yield rates
        yield sources
        yield from self._derived(chosen)

    def _derived(self, chosen: dict[str, float]) -> Iterator[Metric]:
        subsidy = GaugeMetricFamily("market_network_block_subsidy_btc", "New coins per block at the tip's height.")
        halving = GaugeMetricFamily("market_network_blocks_until_halving", "Blocks until the subsidy halves.")
        hashprice = GaugeMetricFamily(
            "market_hashprice_btc_per_petahash_day", "Expected BTC per PH/s per day (subsidy + average fees), before pool fees."
        )
        hashprice_fiat = GaugeMetricFamily(
            "market_hashprice_per_petahash_day", "Hashprice in a fiat currency.", labels=["currency"]
        )
        height = chosen.get("height")
        if height is not None:
            subsidy_sats = consensus.block_subsidy_sats(int(height))
            subsidy.add_metric([], subsidy_sats / SATOSHIS_PER_BTC)
            halving.add_metric([], consensus.next_halving_height(int(height)) - height)
            difficulty, fees = chosen.get("difficulty"), chosen.get("average_fees_per_block")
            if difficulty is not None and fees is not None:
                btc = consensus.hashprice_btc(difficulty, subsidy_sats, fees)
                hashprice.add_metric([], btc)
                for currency in self.config.currencies:
                    price = self.selection.price(currency)
                    if price is not None:
                        hashprice_fiat.add_metric([currency], btc * price.value)
        yield from (subsidy, halving, hashprice, hashprice_fiat)


class SourceCollector(Collector):
    """Health of every source and endpoint: failures show here, never as zeros elsewhere."""

    def __init__(self, poller: Poller):
        self.poller = poller

    def collect(self) -> Iterator[Metric]:
        labels = ["source", "endpoint"]
        up = GaugeMetricFamily(
            "hashwatch_market_source_up", "1 if the latest poll succeeded, 0 if it failed.", labels=labels
        )
        success = GaugeMetricFamily(
            "hashwatch_market_source_last_success_timestamp_seconds",
            "When the source last answered with usable data.",
            labels=labels,
        )
        failures = GaugeMetricFamily(
            "hashwatch_market_source_consecutive_failures", "Failed polls since the last success.", labels=labels
        )
        for (name, _), state in sorted(self.poller.states.items()):
            if state.up is None:
                continue
            source, endpoint = split_job_name(name)
            up.add_metric([source, endpoint], 1.0 if state.up else 0.0)
            if state.last_success is not None:
                success.add_metric([source, endpoint], state.last_success)
            failures.add_metric([source, endpoint], state.failures)
        requests = CounterMetricFamily(
            "hashwatch_market_source_requests",
            "Requests by source, endpoint and result.",
            labels=["source", "endpoint", "result"],
        )
        for (name, result), count in sorted(self.poller.requests.items()):
            requests.add_metric([*split_job_name(name), result], count)
        yield from (up, success, failures, requests)
