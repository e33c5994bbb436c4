"""`hashwatch demo`: the whole stack on loopback, no hardware, Docker or internet (docs/demo.md).

A simulated fleet with scripted faults, replayed Ocean and market APIs, every
exporter, the webhook receiver, InfluxDB (when installed), Prometheus with the
generated rules, Alertmanager and Grafana (when installed): each a real child
process with its log in the work directory, stopped cleanly on Ctrl-C.

Where things live:
  layout.py     the address, fixed port and URL of every piece; the fleet's miners and sites; ports checked free
  scenario.py   the scripted faults: which miner gets which, and the alerts each raises
  configs.py    hashwatch.yml, prometheus.yml, the rules, alertmanager.yml and influxdb.conf, written to the workdir
  grafana.py    Grafana's ini and provisioning (when Grafana is installed), or how to get it
  processes.py  child processes: start with a log, wait until ready, notice an early death, stop in bounded time
  main.py       the order things start in, the printed URLs, waiting and shutting down
"""

from .main import DemoError, DemoOptions, run_demo

__all__ = ["DemoError", "DemoOptions", "run_demo"]
