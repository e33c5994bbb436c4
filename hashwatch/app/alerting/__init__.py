"""Prometheus rules, alerts and runbooks, generated from one config (the `alerting:` section).

Where things live:
  config.py     AlertingConfig: selectors, thresholds, durations, per-model overrides
  model.py      Recording, Alert (with its runbook), Group
  promql.py     selector and join builders every rule module uses
  recording.py  the recording rules (level:metric:operations) dashboards and alerts reuse
  alerts/       one module per alert group: miners, pools, fleet, sources, economics, events, meta
  links.py      the Grafana dashboard each group of alerts links to (dashboard_url)
  render.py     rule files and docs/runbooks.md as committed text
  generate.py   every group from a config; `hashwatch rules` writes or checks the files
"""
