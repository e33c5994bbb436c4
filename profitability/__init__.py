"""Profitability: revenue, power cost, profit and break-even series, and a long-term ledger.

    Prometheus --inputs.py (every interval)--> Inputs --snapshot.py (per scrape)--> Snapshot
        Snapshot --metrics.py--> /metrics        Snapshot --records.py--> hashwatch.ledger

Where things live:
  config.py      the `profitability:` section of hashwatch.yml (its `ledger:` is hashwatch.ledger's LedgerConfig)
  prometheus.py  instant queries to Prometheus, bounded
  inputs.py      the inputs of one evaluation (miners, market, Ocean), read from Prometheus together
  economics.py   pure functions: revenue, cost, profit, margin, efficiency, break-evens, payback
  evaluate.py    one miner's economics, site and fleet sums, curtailment order
  snapshot.py    the pure step: inputs at a moment -> a frozen Snapshot, taken once per scrape
  metrics.py     the collector: renders a Snapshot
  records.py     the ledger's points of a Snapshot
  tariffs.py     electricity prices: flat or time-of-use, per site, with an overhead factor (PUE)
  catalog.py     the ASIC catalog (catalog.yml): nominal hashrate and power of current models
  server.py      the HTTP side: the inputs poll job, the collector, the ledger's start and stop

Bitcoin's consensus arithmetic (expected reward from difficulty) is hashwatch/consensus.py,
shared with the market exporter; the ledger (spool, writers, flush loop) is hashwatch/ledger/.
"""
