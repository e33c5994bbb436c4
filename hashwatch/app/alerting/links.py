"""Which Grafana dashboard each group of alerts links to (the `dashboard_url` annotation).

Paths are relative to `alerting.dashboard_url` (default http://localhost:3000/d):
a dashboard uid of grafana/ and, for alerts about one miner or one site, the
variable that opens the dashboard on it. tests/grafana/test_dashboards.py checks
every uid and variable named here against the generated dashboards.
"""

from __future__ import annotations

# A miner is its `miner` label in fleet mode and its `instance` in /probe mode.
_WHO = "{{ with $labels.miner }}{{ . | urlquery }}{{ else }}{{ $labels.instance | urlquery }}{{ end }}"

MINER = "hashwatch-miner?var-miner=" + _WHO
SITE = "hashwatch-fleet?var-site={{ $labels.site | urlquery }}"
FLEET = "hashwatch-fleet"
OCEAN = "hashwatch-ocean"
MARKET = "hashwatch-market"
PROFITABILITY = "hashwatch-profitability"
SELF = "hashwatch-self"
ALERTS = "hashwatch-alerts"
