"""Market and network exporter: BTC price, difficulty, retarget, fees and hashprice.

Subsidy, halving, retarget and hashprice arithmetic is Bitcoin's consensus, shared
with profitability: hashwatch/consensus.py.

Where things live:
  config.py     the `market:` section of hashwatch.yml: currencies, sources, ages
  model.py      the values every source produces: PriceQuote, NetworkSnapshot
  prices.py     price sources: CoinGecko, CoinCap, mempool.space, blockchain.info
  network.py    network sources: mempool.space, blockchain.info
  bitcoind.py   the user's own Bitcoin Core node: JSON-RPC client, auth, read-only allow-list
  node.py       what one snapshot asks the node and how its replies become a NetworkSnapshot
  sources.py    every source as a poll job; Selection picks the first fresh value
  metrics.py    the collectors: prices, network, derived subsidy and hashprice
  server.py     the HTTP side: jobs and collectors on the shared service shell
"""
