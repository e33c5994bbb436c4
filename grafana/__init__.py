"""grafana: hashwatch's Grafana dashboards as code (grafanalib), their generated JSON and the provisioning files.

Part of the app layer (like hashwatch.app): it reads the alerting config for
thresholds and knows every service's metrics. `hashwatch dashboards generate`
writes dashboards/<slug>.json from boards/; `--check` fails when the committed
JSON (or docs/dashboards.md's generated reference) is stale.

Where things live:
  house.py          the house style: the one wrapper around grafanalib (datasources, uids, units, thresholds, links, layout)
  boards/           one module per dashboard
  generate.py       every dashboard to JSON; write or check dashboards/*.json and the docs reference
  reference.py      the per-dashboard reference of docs/dashboards.md, generated from the JSON
  queries.py        every panel's and variable's query from the committed JSON, variables substituted (panel tests, previews)
  datasources.py    Prometheus, Alertmanager and InfluxDB asked over HTTP the way Grafana asks them
  preview.py        a PNG per dashboard drawn with matplotlib from those queries' results (`hashwatch dashboards preview`)
  units.py          Grafana's unit ids as the previews print them
Data: dashboards/*.json (generated, committed), provisioning/ (datasources and the dashboard provider for Grafana).
"""
