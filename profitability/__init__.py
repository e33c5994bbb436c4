"""Profitability: revenue, power cost, profit and break-even series, and a long-term ledger.

Where things live:
  economics.py  pure functions: revenue, cost, profit, margin, efficiency, break-evens, payback
  tariffs.py    electricity prices: flat or time-of-use, per site, with an overhead factor (PUE)
  catalog.py    the ASIC catalog (catalog.yml): nominal hashrate and power of current models
  ledger.py     snapshots to InfluxDB (v2 API, or v1 write API), batched, retried, spooled to disk
"""
