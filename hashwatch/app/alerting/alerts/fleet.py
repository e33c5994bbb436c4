"""Alerts on the fleet and its sites: hashrate falling fast, a large share of a site's miners down.

Built on the recording rules (recording.py): `fleet:` and `<site_label>:`
sums of hashrate and of miner_up. A site-wide outage is one SiteMinersDown
alert per site; Alertmanager inhibits that site's MinerDown alerts by the
site label.
"""

from __future__ import annotations

from ..config import AlertingConfig
from .. import links
from ..model import Alert, Group


def _drop(recorded: str, window: str, ratio: float) -> str:
    """The share by which `recorded` is below its maximum over `window`, when above `ratio`."""
    return f"1 - {recorded} / max_over_time({recorded}[{window}]) > {ratio:g}"


def group(config: AlertingConfig) -> Group:
    site = config.site_label
    window = config.hashrate_drop_window
    ratio = config.fleet_hashrate_drop_ratio
    check = (
        "- Is it a few miners or many? MinerDown, MinerHashrateZero and MinerHashboardDead list them.\n"
        "- Many miners at once: a site-wide cause. Power (utility feed, breakers, PDUs), network "
        "(uplink, core switch, DHCP), cooling (miners throttling or shutting down on heat), or the pool "
        "(miners without an alive pool hash nothing: `miner_pool_up`).\n"
        "- A deliberate curtailment (demand response, power cap) is silenced by Alertmanager's curtailment "
        "window; outside it, find who switched miners off.\n"
        "- The alert clears once the drop leaves the "
        f"{window} window even if the hashrate has not recovered: the per-miner alerts stay."
    )
    return Group(
        "hashwatch.fleet",
        title="Fleet and sites",
        dashboard=links.FLEET,
        rules=(
            Alert(
                "FleetHashrateDrop",
                _drop("fleet:miner_hashrate_hashes_per_second:sum", window, ratio),
                severity="critical",
                summary="The fleet's hashrate fell sharply.",
                description=(
                    "The fleet's hashrate is {{ $value | humanizePercentage }} below its maximum "
                    f"of the last {window}."
                ),
                runbook=(
                    f"The whole fleet's hashrate fell by more than {ratio * 100:g} % compared with its maximum "
                    f"over the last {window}: a large part of the revenue is gone.\n\n" + check
                ),
                for_=config.fleet_hashrate_drop_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "SiteHashrateDrop",
                _drop(f"{site}:miner_hashrate_hashes_per_second:sum", window, ratio),
                severity="warning",
                dashboard=links.SITE,
                summary="A site's hashrate fell sharply.",
                description=(
                    f"The hashrate of site {{{{ $labels.{site} }}}} is {{{{ $value | humanizePercentage }}}} "
                    f"below its maximum of the last {window}."
                ),
                runbook=(
                    f"One site's hashrate fell by more than {ratio * 100:g} % compared with its maximum over "
                    f"the last {window}.\n\n" + check
                ),
                for_=config.site_hashrate_drop_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "SiteMinersDown",
                f"1 - {site}:miner_up:sum / {site}:miner_up:count >= {config.site_down_ratio:g}",
                severity="critical",
                dashboard=links.SITE,
                summary="A large share of a site's miners is down.",
                description=(
                    f"{{{{ $value | humanizePercentage }}}} of the miners of site {{{{ $labels.{site} }}}} "
                    "do not answer their API."
                ),
                runbook=(
                    f"At least {config.site_down_ratio * 100:g} % of a site's miners do not answer at once: one "
                    "alert for the site, whose per-miner MinerDown alerts Alertmanager inhibits. Single miners "
                    "do not fail together, so look for the shared cause.\n\n"
                    "- Power: utility feed, transformer, breakers, PDUs of the affected rows.\n"
                    "- Network: the site's uplink, VPN or tunnel to Prometheus, core switch, DHCP leases "
                    "(miners that changed address), the exporter's route to the miners' VLAN.\n"
                    "- The exporter itself: HashwatchProbeFailuresHigh and `miner_scrape_error` reasons; if "
                    "the pool still sees the workers hashing, only monitoring is cut off.\n"
                    "- Cooling: a room that overheated can make miners shut down.\n"
                    "- Send someone on site if power or network cannot be checked remotely."
                ),
                for_=config.site_down_for,
                keep_firing_for=config.keep_firing_for,
            ),
        ),
    )
