"""Every config file the demo's processes read, written into the work directory.

  hashwatch.yml        the exporters and the webhook receiver, pointed at the replays, Prometheus and InfluxDB
  miners.json          Prometheus file_sd: the simulated miners, by profile and site
  scenario.yml         the scripted faults (scenario.py)
  rules/*.yml          the recording and alerting rules from the project's generator, `for:` shortened
  prometheus.yml       5 s scrapes and evaluations, the jobs of prometheus/prometheus.yml on the demo's ports
  alertmanager.yml     the committed alertmanager/alertmanager.yml: webhooks to the demo's receiver, Slack
                       and email dropped (nothing leaves the machine), timers shortened
  influxdb.conf        InfluxDB 1.x on the demo host, data in the workdir
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from hashwatch.app.alerting.config import AlertingConfig
from hashwatch.app.alerting.generate import outputs
from simulator.upstreams import client_settings

from .layout import INFLUXDB_RPC_PORT, SITES, Layout

OCEAN_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP-173's test vector: nobody's payout address
DATABASE = "hashwatch"
INTERVAL = "5s"
DEMO_FOR = "20s"  # every alert's `for:` in the demo (the shipped defaults are minutes)
DEMO_TIMERS = {"group_wait": "5s", "group_interval": "10s"}
# Illustrative prices of the simulated models, for payback days (not quotes).
HARDWARE = [
    {"make": "Bitmain", "model": "S19 Pro", "price": 900},
    {"make": "Bitmain", "model": "S21", "price": 3000},
    {"make": "Bitmain", "model": "S21 Pro", "price": 4200},
    {"make": "Bitmain", "model": "S19k Pro", "price": 1100},
    {"make": "Bitmain", "model": "S9", "price": 40},
    {"make": "MicroBT", "model": "M31S", "price": 500},
    {"make": "Canaan", "model": "Avalon 1566", "price": 2400},
]


def package_dir(package: str) -> Path:
    """A project package's folder, without importing it (the `grafana` package needs grafanalib to import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def alerting_config(layout: Layout) -> AlertingConfig:
    durations = {name: DEMO_FOR for name in AlertingConfig.model_fields if name.endswith("_for") and name != "keep_firing_for"}
    return AlertingConfig(**durations, keep_firing_for="1m", dashboard_url=f"{layout.url('grafana')}/d")


def hashwatch_yml(layout: Layout, workdir: Path, influxdb: bool) -> dict[str, Any]:
    replays = client_settings(layout.url("upstreams"), price={"ttl_seconds": 10}, network={"interval_seconds": 30})
    config: dict[str, Any] = {
        "cgminer": {"allowed_targets": ["127.0.0.0/8"], "allowed_ports": [layout.miner_port], "timeout_seconds": 3},
        "ocean": {
            "addresses": [OCEAN_ADDRESS], "api_url": replays["ocean_api_url"],
            "intervals": {"hashrate": 10, "workers": 10, "pool": 30, "earnings": 30, "blocks": 30},
        },
        "market": {
            "currencies": ["USD", "EUR", "GBP", "CAD", "JPY"],
            "price_sources": replays["price_sources"],
            "network_sources": replays["network_sources"],
        },
        "profitability": {
            "prometheus_url": layout.url("prometheus"),
            "interval_seconds": 5,
            "currency": "USD",
            "pool_fee": 0.02,
            "tariff": {"rate": 0.07, "currency": "USD", "timezone": "UTC", "pue": 1.05},
            "sites": {
                SITES[0]: {"tariff": {"rate": 0.07, "currency": "USD", "timezone": "UTC", "pue": 1.05}},
                SITES[1]: {
                    "tariff": {
                        "rate": 0.05, "currency": "USD", "timezone": "America/Chicago", "pue": 1.1,
                        "periods": [{"hours": "17:00-21:00", "weekdays": ["mon", "tue", "wed", "thu", "fri"], "rate": 0.16}],
                    },
                    "power_cap_watts": 9000,
                },
            },
            "hardware": HARDWARE,
        },
        "webhook": {"listen": layout.address("webhook"), "db_path": str(workdir / "webhook.db")},
    }
    if influxdb:
        def ledger(name: str) -> dict[str, Any]:
            return {"api": "v1", "url": layout.url("influxdb"), "database": DATABASE, "interval_seconds": 15,
                    "spool_dir": str(workdir / f"{name}-spool")}

        config["profitability"]["ledger"] = ledger("ledger")
        config["webhook"]["ledger"] = ledger("webhook-ledger")
    return config


def _static(job: str, address: str) -> dict[str, Any]:
    return {"job_name": job, "static_configs": [{"targets": [address]}]}


def prometheus_yml(layout: Layout, workdir: Path) -> dict[str, Any]:
    """The jobs of prometheus/prometheus.yml, on the demo's addresses, scraping every 5 s."""
    return {
        "global": {"scrape_interval": INTERVAL, "scrape_timeout": INTERVAL, "evaluation_interval": INTERVAL},
        "rule_files": [str(workdir / "rules" / "*.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [layout.address("alertmanager")]}]}]},
        "scrape_configs": [
            {
                "job_name": "miners",
                "metrics_path": "/probe",
                "file_sd_configs": [{"files": [str(workdir / "miners.json")], "refresh_interval": "30s"}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": layout.address("cgminer")},
                ],
            },
            _static("hashwatch-cgminer", layout.address("cgminer")),
            _static("hashwatch-ocean", layout.address("ocean")),
            _static("hashwatch-market", layout.address("market")),
            _static("hashwatch-profitability", layout.address("profitability")),
            _static("alertmanager", layout.address("alertmanager")),
            _static("hashwatch-webhook", layout.address("webhook")),
        ],
    }


def _shorten(route: dict[str, Any], top: bool) -> None:
    for key, value in DEMO_TIMERS.items():
        if top or key in route:
            route[key] = value
    for child in route.get("routes", []) or []:
        _shorten(child, top=False)


def alertmanager_yml(committed: dict[str, Any], layout: Layout, templates: Path) -> tuple[dict[str, Any], list[str]]:
    """(the committed config made local, what was dropped): webhooks to the demo's receiver, no Slack or email."""
    config = copy.deepcopy(committed)
    dropped: list[str] = []
    glob = config.get("global", {})
    for key in [k for k in glob if k.startswith(("smtp_", "slack_"))]:
        glob.pop(key)
    config["templates"] = [str(templates / Path(pattern).name) for pattern in config.get("templates", [])]
    for receiver in config.get("receivers", []):
        for kind in [k for k in receiver if k.endswith("_configs") and k != "webhook_configs"]:
            dropped.append(f"{receiver['name']}: {kind}")
            receiver.pop(kind)
        for hook in receiver.get("webhook_configs", []):
            path = urlsplit(hook.get("url", "/alerts")).path or "/alerts"
            hook["url"] = layout.url("webhook") + path
    _shorten(config["route"], top=True)
    return config, dropped


def influxdb_conf(data: Path, rpc_address: str, http_address: str) -> str:
    """influxd 1.x's config: data under `data`, loopback addresses, no reporting, no _internal store,
    warnings only (also used by the tests' InfluxDB, tests/support/influx_servers.py)."""
    return f"""\
reporting-disabled = true
bind-address = "{rpc_address}"

[meta]
  dir = "{data / 'meta'}"

[data]
  dir = "{data / 'data'}"
  wal-dir = "{data / 'wal'}"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "{http_address}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
"""


def write_all(layout: Layout, workdir: Path, scenario: str, influxdb: bool) -> list[str]:
    """Write every file; returns the Alertmanager integrations dropped (for the printout)."""
    import json

    (workdir / "hashwatch.yml").write_text(yaml.safe_dump(hashwatch_yml(layout, workdir, influxdb), sort_keys=False))
    (workdir / "miners.json").write_text(json.dumps(layout.file_sd(), indent=2) + "\n")
    (workdir / "scenario.yml").write_text(scenario)
    rules = workdir / "rules"
    rules.mkdir(exist_ok=True)
    for relative, text in outputs(alerting_config(layout)).items():
        if relative.startswith("prometheus/rules/"):
            (rules / Path(relative).name).write_text(text)
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(prometheus_yml(layout, workdir), sort_keys=False))
    committed_dir = package_dir("alertmanager")
    committed = yaml.safe_load((committed_dir / "alertmanager.yml").read_text())
    config, dropped = alertmanager_yml(committed, layout, committed_dir / "templates")
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    if influxdb:
        (workdir / "influxdb.conf").write_text(
            influxdb_conf(workdir / "influxdb", f"{layout.host}:{INFLUXDB_RPC_PORT}", layout.address("influxdb"))
        )
    return dropped
