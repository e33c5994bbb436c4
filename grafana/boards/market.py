"""Network and market: BTC price by source and their spread, difficulty and the retarget, fees, subsidy, halving, hashprice."""

from __future__ import annotations

from typing import Any

from hashwatch.app.alerting.config import AlertingConfig

from .. import house as h
from ..house import Prom


def build(config: AlertingConfig) -> dict[str, Any]:
    t = h.Thresholds(config)
    cur = 'currency="$currency"'
    panels = [
        h.stat("BTC price ($currency)", "The price from the first fresh source in the configured order.",
               [Prom(f"market_btc_price{{{cur}}}")], h.NONE, decimals=0),
        h.stat("Hashprice ($currency per PH/s per day)", "Expected revenue of 1 PH/s for a day before pool fees.",
               [Prom(f"market_hashprice_per_petahash_day{{{cur}}}")], h.NONE, decimals=2),
        h.stat("Difficulty", "The current network difficulty.", [Prom("market_network_difficulty")], h.COUNT),
        h.stat("Next retarget", "Expected change of difficulty at the next retarget; orange above the alerting "
               "config's difficulty_rise_warning_ratio (DifficultyRiseAhead).",
               [Prom("market_network_difficulty_change_estimated_ratio")], h.RATIO,
               thresholds=t.difficulty_rise(), decimals=2),
        h.stat("Blocks to the retarget", "Blocks left in this difficulty epoch.",
               [Prom("market_network_blocks_until_retarget")], h.BLOCKS),
        h.stat("Blocks to the halving", "Blocks until the subsidy halves (about 10 minutes each).",
               [Prom("market_network_blocks_until_halving")], h.BLOCKS),
        h.timeseries("BTC price by source ($currency)", "Each source's last good price and the price used.",
                     [Prom(f"market_source_btc_price{{{cur}}}", "{{source}}"),
                      Prom(f"market_btc_price{{{cur}}}", "used")], h.NONE),
        h.timeseries("Price spread across sources", "(max − min) / median of the fresh sources' prices; "
                     "MarketPriceSourcesDisagree fires above market.disagreement_ratio.",
                     [Prom(f"market_btc_price_spread_ratio{{{cur}}}", "spread")], h.RATIO, minimum=0),
        h.timeseries("Difficulty", "The network difficulty; it steps at each retarget.",
                     [Prom("market_network_difficulty", "difficulty")], h.COUNT),
        h.timeseries("Retarget estimate", "The expected change at the next retarget (0.05 = +5 %).",
                     [Prom("market_network_difficulty_change_estimated_ratio", "expected change")], h.RATIO,
                     thresholds=t.difficulty_rise()),
        h.timeseries("Network hashrate", "The network hashrate estimate.",
                     [Prom("market_network_hashrate_hashes_per_second", "network")], h.HASHRATE),
        h.timeseries("Fee rates", "Fee rate for each confirmation target.",
                     [Prom("market_network_fee_rate_sat_per_vbyte", "{{target}}")], h.SAT_PER_VBYTE, minimum=0),
        h.timeseries("Subsidy and fees per block", "New coins per block and the average fees per block over about "
                     "a day.", [Prom("market_network_block_subsidy_btc", "subsidy"),
                                Prom("market_network_fees_per_block_average_btc", "fees")], h.BTC, stack=True),
        h.timeseries("Hashprice", "Expected revenue of 1 PH/s for a day before pool fees, in $currency.",
                     [Prom(f"market_hashprice_per_petahash_day{{{cur}}}", "$currency")], h.NONE),
        h.timeseries("Hashprice in BTC", "Expected BTC of 1 PH/s for a day before pool fees.",
                     [Prom("market_hashprice_btc_per_petahash_day", "BTC")], h.BTC),
        h.stat("Retarget in", "Time until the expected retarget.",
               [Prom("market_network_retarget_estimated_timestamp_seconds - time()")], h.SECONDS, w=6),
        h.stat("Height", "The height of the chain tip (blocks).", [Prom("market_network_height")], h.NONE, w=6),
        h.table("Sources", "Which source each value comes from now, and each source's health.",
                [Prom("market_btc_price_source_info or market_network_value_source_info")],
                hide=("instance", "Value"), w=12, h=6),
    ]
    return h.dashboard(
        "market", "BTC price by source and spread, difficulty and the retarget estimate, fees, subsidy, the halving "
        "countdown and hashprice.", panels,
        variables=[h.variable("currency", "Currency", "label_values(market_btc_price, currency)")],
        link_to=("profitability", "fleet"),
    )
