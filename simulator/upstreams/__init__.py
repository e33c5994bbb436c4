"""Replayed upstream APIs: Ocean.xyz and the market and network sources, served from recorded replies.

The demo (and docker-compose's demo profile) points the Ocean and market
exporters here instead of the internet. Every reply has the shape of a
recorded one (simulator/captures/ocean/ and simulator/captures/market/, with
their SOURCES.md); what the replay changes at serve time is listed in
docs/demo.md: times are moved to now, prices move slowly around one reference
price, and Ocean credits the simulated fleet's workers with their hashrate.

Where things live:
  captures.py    reading the bundled captures (works from an installed wheel), moving their times
  prices.py      the reference price every price source is scaled to, moving a little over time
  ocean.py       /ocean/v1/...: the user's and workers' hashrate, TIDES estimates, earnings, pool, blocks
  coingecko.py   /coingecko/api/v3/simple/price
  coincap.py     /coincap/v2/assets/bitcoin
  mempool.py     /mempool/api/...: prices, tip height, difficulty adjustment, hashrate, fees, rewards
  blockchain.py  /blockchain/ticker and /blockchain/stats (blockchain.info)
  app.py         one aiohttp application with every upstream, an index and health endpoints; client_settings
"""

from .app import client_settings, upstreams_app
from .ocean import OceanReplay, load_workers

__all__ = ["OceanReplay", "client_settings", "load_workers", "upstreams_app"]
