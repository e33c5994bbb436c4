"""CGMiner API (TCP 4028) exporter for ASIC miners.

Where things live:
  commands.py   the read-only allow-list; the only place a request is encoded
  wire.py       bytes -> JSON, repairing the firmware quirks seen in real captures
  reply.py      the STATUS envelope and multi-command splitting
  client.py     asyncio TCP client with timeouts and a reply-size cap
  units.py      hashrate units and the number formats firmwares emit
  model.py      the normalized miner model every firmware parser produces
  firmware/     detection and one parser per firmware family
  scrape.py     one scrape of one miner: detect, request, parse, never raise
  metrics.py    normalized model -> Prometheus metric families
  fleet.py      fleet mode: static targets and file_sd files, bounded concurrency
  server.py     HTTP: /probe, /metrics, /
"""
