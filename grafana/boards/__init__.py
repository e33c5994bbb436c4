"""One module per dashboard, each `build(config: AlertingConfig) -> dict` (the dashboard's JSON).

Where things live (one file per dashboard, its slug in grafana/house.py's DASHBOARDS):
  fleet.py          fleet overview: by site and model, the worst, hottest, dead-board, backup-pool and down miners
  miner.py          one miner: boards, chips, temperatures, fans, power, shares, pools, faults, uptime
  ocean.py          Ocean.xyz against the miners' own hashrate: workers, TIDES, earnings, payouts, pool, blocks
  profitability.py  revenue, cost, profit and margin per site and fleet; break-even, hashprice, curtailment
  market.py         BTC price by source, difficulty and retarget, fees, subsidy, halving, hashprice
  alerts.py         firing now (Alertmanager, ALERTS) and the webhook receiver's history
  hashwatch.py      hashwatch's own health: targets up, scrape durations, freshness, ledger spools
"""

from . import alerts, fleet, hashwatch, market, miner, ocean, profitability

BUILDERS = {
    "fleet": fleet.build,
    "miner": miner.build,
    "ocean": ocean.build,
    "profitability": profitability.build,
    "market": market.build,
    "alerts": alerts.build,
    "hashwatch": hashwatch.build,
}
