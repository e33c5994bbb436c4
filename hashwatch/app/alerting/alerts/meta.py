"""The pipeline itself: the Watchdog (dead man's switch) and hashwatch's own exporters being down."""

from __future__ import annotations

from ..config import AlertingConfig
from .. import links
from ..model import Alert, Group
from ..promql import quoted, series


FAILED_PROBES = series("hashwatch_cgminer_probes_total", "", "result=" + quoted("failure"))


def group(config: AlertingConfig) -> Group:
    return Group(
        "hashwatch.meta",
        title="The pipeline itself",
        dashboard=links.SELF,
        rules=(
            Alert(
                "Watchdog",
                "vector(1)",
                severity="info",
                dashboard=links.ALERTS,
                summary="The alerting pipeline is working.",
                description="Always firing: Prometheus evaluates rules and Alertmanager delivers them.",
                runbook=(
                    "Always firing, on purpose: a dead man's switch. Route it to a service that expects it "
                    "every few minutes and raises the alarm when it stops (healthchecks.io-style heartbeat, "
                    "or the hashwatch webhook receiver). If it stops arriving, Prometheus is not evaluating "
                    "rules, or Alertmanager cannot deliver: check both processes, `promtool check rules`, "
                    "and Alertmanager's `alertmanager_notifications_failed_total`."
                ),
            ),
            Alert(
                "HashwatchExporterDown",
                'up{job=~"hashwatch-.*"} == 0',
                severity="critical",
                summary="A hashwatch exporter cannot be scraped.",
                description="{{ $labels.job }} at {{ $labels.instance }} has not answered Prometheus for 5 minutes.",
                runbook=(
                    "Prometheus cannot scrape one of hashwatch's own exporters, so every series it exports "
                    "(and every alert built on them) is missing.\n\n"
                    "- Check the process or container (`docker compose ps`, `systemctl status`), its log, "
                    "and that `/-/healthy` answers on its port.\n"
                    "- A config error stops it at start with exit status 2 and one line naming the key.\n"
                    "- For the CGMiner exporter in probe mode, miners then all look unreachable: fix this first."
                ),
                for_=config.hashwatch_exporter_down_for,
            ),
            Alert(
                "HashwatchProbeFailuresHigh",
                f"sum by (instance) (rate({FAILED_PROBES}[10m]))"
                " / sum by (instance) (rate(hashwatch_cgminer_probes_total[10m])) > 0.5",
                severity="warning",
                summary="Most miner probes through the CGMiner exporter fail.",
                description="{{ $value | humanizePercentage }} of probes through {{ $labels.instance }} failed over 10 minutes.",
                runbook=(
                    "More than half of the exporter's `/probe` scrapes fail. One broken miner cannot do this: "
                    "look at `hashwatch_cgminer_scrape_errors_total` by `reason`.\n\n"
                    "- `connection_refused`, `connect_timeout`, `unreachable`: the exporter lost its route to "
                    "the miners' network (VLAN, firewall, VPN).\n"
                    "- `timeout`: the scrape timeout is too short for the fleet's latency "
                    "(`scrape_timeout`, `cgminer.timeout_seconds`).\n"
                    "- A 403 in Prometheus's target page: the targets are outside `cgminer.allowed_targets` or "
                    "`cgminer.allowed_ports`."
                ),
                for_=config.hashwatch_probe_failures_high_for,
            ),
        ),
    )
