"""Alerts: what fires now (from Alertmanager, and Prometheus's ALERTS), and the history the webhook receiver keeps.

History comes from the receiver's mirror of alert events into InfluxDB
(measurement `alert_events`, docs/webhook.md) through the `hashwatch-influxdb`
datasource; the receiver's own counters come from Prometheus.
"""

from __future__ import annotations

from typing import Any

from hashwatch.app.alerting.config import AlertingConfig

from .. import house as h
from ..house import Influx, Prom

SEVERITY = {"critical": h.RED, "warning": h.ORANGE, "info": h.BLUE}


def build(config: AlertingConfig) -> dict[str, Any]:
    firing = 'ALERTS{alertstate="firing", alertname!="Watchdog"}'
    panels = [
        h.alert_groups("Firing now (Alertmanager)", "Alerts Alertmanager holds now, grouped as it routes them "
                       "(silenced and inhibited ones included, marked). Watchdog always fires: it proves the "
                       "pipeline works.", h=10),
        h.stat("Firing alerts", "Alert instances firing in Prometheus now, Watchdog included (it always fires).",
               [Prom('count(ALERTS{alertstate="firing"})')], h.COUNT, thresholds=h.steps(h.GREEN, (2, h.ORANGE))),
        h.stat("Critical", "Critical alert instances firing now (these page someone); 0 when there are none.",
               [Prom('count(ALERTS{alertstate="firing", severity="critical"})')], h.COUNT,
               thresholds=h.steps(h.GREEN, (1, h.RED)), no_value="0"),
        h.bargauge("Firing by alert", "Instances of each alert firing now (ALERTS in Prometheus).",
                   [Prom("sort_desc(count by (alertname) (ALERTS{alertstate=\"firing\"}))", "{{alertname}}")],
                   h.COUNT, w=16, h=8),
        h.state_timeline("Alerts over time", "Which alerts were pending or firing, and when (ALERTS).",
                         [Prom('max by (alertname) (ALERTS{alertstate="firing"}) * 2 or max by (alertname) '
                               '(ALERTS{alertstate="pending"})', "{{alertname}}")],
                         mappings=h.value_text({"1": ("pending", h.YELLOW), "2": ("firing", h.RED)}), h=10),
        h.table("Firing now (Prometheus)", "Alert instances firing now, with their labels (at most 50).",
                [Prom(f"topk(50, {firing})")], hide=("Value", "alertstate", "__name__"), w=24),
        h.timeseries("Events received (webhook history)", "Alert events the webhook receiver stored, per "
                     "alertname, from its InfluxDB mirror (measurement alert_events).",
                     [Influx('SELECT count("fingerprint") FROM "alert_events" WHERE $timeFilter '
                             'GROUP BY time($__interval), "alertname" fill(none)', "$tag_alertname")],
                     h.COUNT, bars=True, stack=True),
        h.table("History (webhook receiver)", "The latest 100 alert events the receiver stored: firing and "
                "resolved, with how long each lasted.",
                [Influx('SELECT "alertname", "status", "severity", "site", "miner", "summary", "duration_seconds" '
                        'FROM "alert_events" WHERE $timeFilter ORDER BY time DESC LIMIT 100', table=True)],
                units={"duration_seconds": h.SECONDS}, sort="Time"),
        h.timeseries("Notifications received", "Notifications Alertmanager posted to the webhook receiver, per "
                     "result (stored, duplicate, unauthorized, invalid, ...).",
                     [Prom("sum by (result) (increase(hashwatch_webhook_notifications_received_total"
                           "[$__rate_interval]))", "{{result}}")], h.COUNT, bars=True, stack=True),
        h.timeseries("Events stored", "New alert events the receiver stored, firing and resolved (cumulative).",
                     [Prom("sum by (status) (hashwatch_webhook_events_stored_total)", "{{status}}")], h.COUNT),
    ]
    return h.dashboard(
        "alerts", "What fires now, from Alertmanager and Prometheus, and the webhook receiver's history.", panels,
        link_to=("fleet", "miner", "hashwatch"), time_from="now-24h",
    )
