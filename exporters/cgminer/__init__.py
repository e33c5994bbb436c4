"""CGMiner API (TCP 4028) exporter for ASIC miners.

Where things live:
  commands.py   the read-only allow-list; the only place a request is encoded
  wire.py       bytes -> JSON, repairing the firmware quirks seen in real captures
  reply.py      the STATUS envelope and multi-command splitting
  client.py     asyncio TCP client with timeouts and a reply-size cap
  units.py      hashrate units and the number formats firmwares emit
  model.py      the normalized miner model every firmware parser produces
  firmware/     detection and one parser per firmware family
  memory.py     what is remembered of a miner between scrapes, bounded in bytes
  scrape.py     one scrape of one miner: detect, request, parse, never raise
  exposition.py the hand-written Prometheus text writer the metrics use
  metrics.py    normalized model -> Prometheus metric families (and the label names they use)
  labels.py     which names a fleet target's own labels may have (config, file_sd, discover)
  targets.py    fleet targets: static miners and file_sd files, their label values
  fleet_scrape.py  one process scrapes a target list in lanes, rendering as results arrive
  workers.py    the target list sharded over worker processes running fleet_scrape
  fleet.py      fleet mode facade: targets, then in-process or worker scraping
  config.py     the `cgminer:` section of hashwatch.yml
  discover.py   `hashwatch discover`: scan networks, write a file_sd file
  server.py     HTTP: /probe, /metrics, /
"""
