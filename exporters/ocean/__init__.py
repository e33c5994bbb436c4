"""Ocean.xyz pool exporter: the pool's view of a payout address (TIDES).

Where things live:
  address.py    payout address validation (bech32, bech32m, base58check)
  config.py     the `ocean:` section of hashwatch.yml
  client.py     HTTP client for api.ocean.xyz/v1: envelopes, errors, timeouts
  parse.py      tolerant parsers: strings as numbers, map or list worker shapes
  poller.py     which endpoints are polled, how often, for whom (hashwatch.polling polls)
  metrics.py    cached values -> Prometheus metric families (one collector per group)
  server.py     HTTP: /metrics and a landing page
"""
