"""Market and network exporter: BTC price, difficulty, retarget, fees and hashprice.

Where things live:
  model.py      the values every source produces: PriceQuote, NetworkSnapshot
  prices.py     price sources: CoinGecko, CoinCap, mempool.space, blockchain.info
  network.py    network sources: mempool.space, blockchain.info
  bitcoind.py   the user's own Bitcoin Core node over JSON-RPC
  economics.py  pure functions: block subsidy, retarget estimates, hashprice
"""
