"""hashwatch itself: the services' health, scrape durations, upstream freshness and requests, the ledger spools.

"A hashwatch service" is any target exporting `hashwatch_build_info`, whatever
its job is called.
"""

from __future__ import annotations

from typing import Any

from hashwatch.app.alerting.config import AlertingConfig

from .. import house as h
from ..house import Prom

OURS = "on(instance, job) group_left(service) hashwatch_build_info"


def build(config: AlertingConfig) -> dict[str, Any]:
    t = h.Thresholds(config)
    panels = [
        h.state_timeline("Targets up", "Share of each scrape job's targets Prometheus reaches (`up`): the hashwatch "
                         "services (HashwatchExporterDown), Alertmanager, and with /probe each miner.",
                         [Prom("sum by (job) (up) / count by (job) (up)", "{{job}}")],
                         thresholds=h.steps(h.RED, (0.5, h.ORANGE), (1, h.GREEN)), w=12, h=6),
        h.table("Versions", "Each service and its hashwatch version.",
                [Prom("hashwatch_build_info")], hide=("Value",), w=12, h=6),
        h.timeseries("Prometheus scrape duration", "How long Prometheus takes to scrape each hashwatch service.",
                     [Prom(f"max by (service) (scrape_duration_seconds * {OURS})", "{{service}}")], h.SECONDS,
                     minimum=0),
        h.timeseries("Miner scrape duration", "Time to scrape one miner: the slowest, and the 90th percentile "
                     "over the fleet.",
                     [Prom("max(miner_scrape_duration_seconds)", "slowest"),
                      Prom("quantile(0.9, miner_scrape_duration_seconds)", "90th percentile")], h.SECONDS, minimum=0),
        h.timeseries("Miner scrape failures", "Failed miner scrapes per second by reason (probe and fleet).",
                     [Prom("sum by (reason) (rate(hashwatch_cgminer_scrape_errors_total[$__rate_interval]))",
                           "{{reason}}")], h.OPS, stack=True, minimum=0),
        h.timeseries("Ocean data age", "Seconds since each Ocean endpoint last answered with usable data; the line "
                     "is the alerting config's ocean_stale_seconds (OceanDataStale).",
                     [Prom("max by (endpoint) (time() - hashwatch_ocean_api_last_success_timestamp_seconds)",
                           "{{endpoint}}")], h.SECONDS, thresholds=t.age(config.ocean_stale_seconds), minimum=0),
        h.timeseries("Market data age", "Seconds since each market source last answered; the line is "
                     "price_stale_seconds (MarketPriceStale).",
                     [Prom("time() - hashwatch_market_source_last_success_timestamp_seconds", "{{source}} {{endpoint}}")],
                     h.SECONDS, thresholds=t.age(config.price_stale_seconds), minimum=0),
        h.timeseries("Profitability inputs age", "Seconds since the profitability exporter last read its inputs "
                     "from Prometheus.",
                     [Prom("time() - hashwatch_profitability_inputs_read_timestamp_seconds", "inputs")], h.SECONDS,
                     minimum=0),
        h.timeseries("Upstream requests", "Requests to Ocean and the market sources per second, by result.",
                     [Prom("sum by (result) (rate(hashwatch_ocean_api_requests_total[$__rate_interval]))",
                           "ocean {{result}}"),
                      Prom("sum by (result) (rate(hashwatch_market_source_requests_total[$__rate_interval]))",
                           "market {{result}}")], h.OPS, stack=True, minimum=0),
        h.timeseries("Ledger spool", "Points waiting in each ledger's disk spool for InfluxDB (profitability "
                     "snapshots, alert events); a growing spool means InfluxDB is not taking writes (LedgerFailing).",
                     [Prom('{__name__=~"hashwatch_.+_ledger_pending_points"}', "{{job}} pending")], h.COUNT,
                     minimum=0),
        h.timeseries("Ledger writes", "Points each ledger wrote to InfluxDB per second.",
                     [Prom('rate({__name__=~"hashwatch_.+_ledger_points_written_total"}[$__rate_interval])',
                           "{{job}} written")], h.OPS, minimum=0),
        h.timeseries("Memory", "Resident memory of each hashwatch service.",
                     [Prom(f"max by (service) (process_resident_memory_bytes * {OURS})", "{{service}}")], h.BYTES,
                     minimum=0),
        h.timeseries("CPU", "CPU seconds per second of each hashwatch service.",
                     [Prom(f"max by (service) (rate(process_cpu_seconds_total[$__rate_interval]) * {OURS})",
                           "{{service}}")], h.OPS, minimum=0),
    ]
    return h.dashboard(
        "hashwatch", "hashwatch's own health: services up, scrape durations, data freshness, upstream requests, "
        "ledger spools.", panels, link_to=("alerts", "fleet"), time_from="now-3h",
    )
