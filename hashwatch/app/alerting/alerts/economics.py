"""Economics: profit, margin, curtailment advice and the next difficulty retarget."""

from __future__ import annotations

from ..config import AlertingConfig
from .. import links
from ..model import Alert, Group
from ..promql import series


def group(config: AlertingConfig) -> Group:
    k = config.market_selector
    p = config.profitability_selector
    return Group(
        "hashwatch.economics",
        title="Economics",
        dashboard=links.PROFITABILITY,
        rules=(
            Alert(
                "FleetProfitNegative",
                "fleet:profitability_profit_per_day:avg1h < 0",
                severity="warning",
                summary="The fleet is losing money.",
                description=(
                    "The fleet's profit averaged {{ $value | printf \"%.2f\" }} {{ $labels.currency }} "
                    "per day over the last hour."
                ),
                runbook=(
                    "Expected revenue (hashrate x hashprice x BTC price, after the pool fee) is below the "
                    "electricity cost, averaged over an hour (`fleet:profitability_profit_per_day:avg1h`). "
                    "It fires once per currency the fleet is priced in; they say the same thing.\n\n"
                    "- What moved: `market_btc_price`, `market_hashprice_btc_per_petahash_day`, "
                    "`profitability_electricity_price_per_kwh` (a peak tariff hour?), or the fleet's "
                    "efficiency (`fleet:miner_efficiency_joules_per_terahash:ratio`).\n"
                    "- `profitability_curtail_advised{reason=\"unprofitable\"}` lists the miners losing "
                    "money, least efficient first (MinerCurtailmentAdvised).\n"
                    "- Check the inputs are right before acting: a stale price (MarketPriceStale) or a wrong "
                    "tariff in `profitability.electricity` gives a wrong answer."
                ),
                for_=config.economics_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "SiteMarginLow",
                f"{series('profitability_site_margin_ratio', p)} < {config.margin_warning_ratio:g}",
                severity="warning",
                summary="A site's profit margin is low.",
                description=(
                    "Site {{ $labels.site }} keeps {{ $value | humanizePercentage }} of its revenue as profit "
                    f"(warning below {config.margin_warning_ratio:.0%})."
                ),
                runbook=(
                    "The site's profit is a small share of its revenue (`profitability_site_margin_ratio`): "
                    "a modest fall in the BTC price or rise in difficulty makes it lose money.\n\n"
                    "- `profitability_miner_margin_ratio{site=\"...\"}` and "
                    "`profitability_miner_efficiency_joules_per_terahash`: usually a few old, inefficient "
                    "miners drag the site down.\n"
                    "- `profitability_miner_break_even_electricity_price` vs the tariff: whether a cheaper "
                    "tariff window or underclocking (lower J/TH) pays.\n"
                    "- DifficultyRiseAhead: the next retarget may make it worse; "
                    "`profitability_site_profit_per_day_next_retarget` shows by how much."
                ),
                for_=config.economics_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "MinerCurtailmentAdvised",
                f"{series('profitability_curtail_advised', p)} == 1",
                severity="info",
                summary="The profitability exporter advises switching a miner off.",
                description=(
                    "Switching off miner {{ $labels.miner }} at site {{ $labels.site }} is advised "
                    "({{ $labels.reason }}) for 30 minutes."
                ),
                runbook=(
                    "Advice only: hashwatch never sends a command to a miner. `reason` says why:\n\n"
                    "- `unprofitable`: at the current price, difficulty and tariff the miner's electricity "
                    "costs more than it earns (`profitability_miner_profit_per_day` < 0).\n"
                    "- `power_cap`: the site draws more than its `power_cap_watts`; the least efficient "
                    "miners (`profitability_miner_curtail_rank` 1 first) are the ones to switch off.\n\n"
                    "Decide with the whole picture: a pool payout threshold, a retarget about to lower "
                    "difficulty, or a tariff that changes within the hour may make waiting the better choice. "
                    "Switch the miner off or underclock it from its web page or your fleet tool; the alert "
                    "resolves when the advice changes."
                ),
                for_=config.miner_curtailment_advised_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "DifficultyRiseAhead",
                f"{series('market_network_difficulty_change_estimated_ratio', k)}"
                f" > {config.difficulty_rise_warning_ratio:g}",
                severity="info",
                dashboard=links.MARKET,
                summary="The next difficulty retarget is expected to raise difficulty markedly.",
                description=(
                    "The next retarget is expected to raise the network difficulty by "
                    "{{ $value | humanizePercentage }}."
                ),
                runbook=(
                    "mempool.space's estimate of the next difficulty adjustment "
                    "(`market_network_difficulty_change_estimated_ratio`) is a rise above the threshold: "
                    "after the retarget every miner earns that much less BTC per TH/s.\n\n"
                    "- When: `market_network_blocks_until_retarget`, "
                    "`market_network_retarget_estimated_timestamp_seconds`.\n"
                    "- What it does to you: `profitability_fleet_profit_per_day_next_retarget` and "
                    "`profitability_miner_profit_per_day_next_retarget`; plan curtailment or tariff changes "
                    "for the miners that turn unprofitable.\n"
                    "- Early in an epoch the estimate swings widely; it settles as the epoch fills."
                ),
                for_=config.difficulty_rise_ahead_for,
            ),
        ),
    )
