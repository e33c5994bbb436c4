"""Profitability: revenue, cost, profit and margin per site and fleet in the chosen currency, and what moves them.

Every graph is over the profitability exporter's site and fleet series (already
aggregated: a few series whatever the fleet's size), recorded series, or the
market's. Money per site and fleet exists in every currency the market prices
BTC in (`$currency`); per-miner and per-model figures and the tariff are in the
profitability currency (profitability.currency), which the legends name.
"""

from __future__ import annotations

from typing import Any

from hashwatch.app.alerting.config import AlertingConfig

from .. import house as h
from ..house import Prom


def build(config: AlertingConfig) -> dict[str, Any]:
    t = h.Thresholds(config)
    n = h.TABLE_ROWS
    cur = 'currency="$currency"'
    site = 'site=~"$site"'
    panels = [
        h.stat("Revenue per day ($currency)", "Expected revenue per day of the whole fleet, after the pool fee.",
               [Prom(f"profitability_fleet_revenue_per_day{{{cur}}}")], h.NONE, decimals=2),
        h.stat("Power cost per day ($currency)", "Electricity per day at the current tariff, PUE included.",
               [Prom(f"profitability_fleet_power_cost_per_day{{{cur}}}")], h.NONE, decimals=2),
        h.stat("Profit per day ($currency)", "Revenue minus electricity per day.",
               [Prom(f"profitability_fleet_profit_per_day{{{cur}}}")], h.NONE, thresholds=t.profit(), decimals=2),
        h.stat("Margin", "Profit over revenue; orange under the alerting config's margin_warning_ratio (SiteMarginLow).",
               [Prom("profitability_fleet_margin_ratio")], h.RATIO, thresholds=t.margin(), decimals=1),
        h.stat("BTC per day", "Expected BTC per day of the whole fleet after the pool fee.",
               [Prom("profitability_fleet_btc_per_day")], h.BTC, decimals=8),
        h.stat("After the next retarget ($currency)", "Profit per day at the difficulty the market exporter expects "
               "after the next retarget.",
               [Prom(f"profitability_fleet_profit_per_day_next_retarget{{{cur}}}")], h.NONE, thresholds=t.profit(),
               decimals=2),
        h.timeseries("Revenue, cost and profit per day ($currency)", "The fleet's revenue, electricity cost and profit "
                     "per day, and the profit after the next retarget.",
                     [Prom(f"profitability_fleet_revenue_per_day{{{cur}}}", "revenue"),
                      Prom(f"profitability_fleet_power_cost_per_day{{{cur}}}", "power cost"),
                      Prom(f"profitability_fleet_profit_per_day{{{cur}}}", "profit"),
                      Prom(f"profitability_fleet_profit_per_day_next_retarget{{{cur}}}", "profit after retarget")],
                     h.NONE, thresholds=t.profit()),
        h.timeseries("Profit per day by site ($currency)", "Each site's profit per day.",
                     [Prom(f"profitability_site_profit_per_day{{{cur}, {site}}}", "{{site}}")], h.NONE,
                     thresholds=t.profit()),
        h.timeseries("Margin by site", "Profit over revenue per site and fleet; the line is the margin warning.",
                     [Prom(f"profitability_site_margin_ratio{{{site}}}", "{{site}}"),
                      Prom("profitability_fleet_margin_ratio", "fleet")], h.RATIO, thresholds=t.margin()),
        h.timeseries("Revenue and cost by site ($currency)", "Each site's revenue and electricity cost per day.",
                     [Prom(f"profitability_site_revenue_per_day{{{cur}, {site}}}", "{{site}} revenue"),
                      Prom(f"profitability_site_power_cost_per_day{{{cur}, {site}}}", "{{site}} power cost")], h.NONE),
        h.timeseries("Break-even BTC price against the market ($currency)", "The BTC price at which each site's "
                     "revenue pays its electricity (power cost over BTC mined per day), against the market price.",
                     [Prom(f"profitability_site_power_cost_per_day{{{cur}, {site}}} / on(site) "
                           f"profitability_site_btc_per_day{{{site}}}", "{{site}} break-even"),
                      Prom(f"market_btc_price{{{cur}}}", "market")], h.NONE),
        h.timeseries("Electricity price against break-even", "Each site's tariff now, and the electricity price at "
                     "which it would break even (tariff × revenue ÷ power cost), in the profitability currency.",
                     [Prom(f"profitability_electricity_price_per_kwh{{{site}}}", "{{site}} tariff ({{currency}})"),
                      Prom(f"profitability_electricity_price_per_kwh{{{site}}} * on(site, currency) "
                           f"profitability_site_revenue_per_day{{{site}}} / on(site, currency) "
                           f"profitability_site_power_cost_per_day{{{site}}}", "{{site}} break-even ({{currency}})")],
                     h.NONE),
        h.timeseries("Hashprice against your cost ($currency per PH/s per day)", "The network's hashprice (before pool "
                     "fees), what the fleet earns per PH/s per day (after them) and what a PH/s per day costs it in "
                     "electricity.",
                     [Prom(f"market_hashprice_per_petahash_day{{{cur}}}", "hashprice"),
                      Prom(f"profitability_fleet_revenue_per_day{{{cur}}} * 1e15 / ignoring(currency) group_left "
                           "profitability_fleet_hashrate_hashes_per_second", "fleet earns"),
                      Prom(f"profitability_fleet_power_cost_per_day{{{cur}}} * 1e15 / ignoring(currency) group_left "
                           "profitability_fleet_hashrate_hashes_per_second", "fleet's power cost")], h.NONE),
        h.timeseries("Miners advised off", "Miners the exporter advises switching off, per site and reason "
                     "(`unprofitable`, `power_cap`; `none`: ranked, none advised). Advice only: nothing is sent "
                     "to the miners.",
                     [Prom(f"site:profitability_curtail_advised:count{{{site}}}", "{{site}} {{reason}}")], h.COUNT,
                     stack=True, minimum=0),
        h.bargauge("ASIC calculator: profit per day by model", "Expected profit per day of every catalog model at "
                   "current network conditions and the default tariff (nominal hashrate and power), in the "
                   "profitability currency.",
                   [Prom("sort_desc(profitability_model_profit_per_day)", "{{model}} ({{currency}})")], h.NONE,
                   thresholds=t.profit(), minimum=None, h=10),
        h.table("Curtailment order", f"The first {n} miners to switch off when power is dear or capped: least "
                "efficient first (rank 1), with their J/TH and profit per day.",
                [Prom(f'bottomk({n}, profitability_miner_curtail_rank{{{site}}})'),
                 Prom(f'profitability_miner_efficiency_joules_per_terahash{{{site}}} and on(miner) '
                      f'bottomk({n}, profitability_miner_curtail_rank{{{site}}})'),
                 Prom(f'sum without (currency) (profitability_miner_profit_per_day{{{site}}}) and on(miner) '
                      f'bottomk({n}, profitability_miner_curtail_rank{{{site}}})')],
                hide=("instance",), rename={"Value #A": "rank", "Value #B": "J/TH", "Value #C": "profit per day"},
                units={"rank": h.NONE, "J/TH": h.JOULES_PER_TH, "profit per day": h.NONE},
                thresholds=t.profit(), colored="profit per day", link_miner=True, h=10),
        h.table("Payback", f"The {n} miners that repay their configured hardware price soonest, in days of profit "
                "(absent while a miner loses money or has no price in profitability.hardware).",
                [Prom(f"bottomk({n}, profitability_miner_payback_days{{{site}}})")], h.DAYS,
                hide=("instance",), rename={"Value": "payback"}, link_miner=True),
        h.table("Least profitable miners", f"The {n} miners with the lowest profit per day now, in the "
                "profitability currency.",
                [Prom(f"bottomk({n}, profitability_miner_profit_per_day{{{site}}})")], h.NONE,
                thresholds=t.profit(), hide=("instance",), rename={"Value": "profit per day"},
                colored="profit per day", link_miner=True),
    ]
    return h.dashboard(
        "profitability", "Revenue, cost, profit and margin per site and fleet in the chosen currency; break-even "
        "prices, hashprice, curtailment, the ASIC calculator and payback.", panels,
        variables=[h.variable("currency", "Currency", "label_values(profitability_fleet_revenue_per_day, currency)"),
                   h.variable("site", "Site", "label_values(profitability_site_miners, site)", all_=True, multi=True)],
        link_to=("fleet", "market", "ocean"),
    )
