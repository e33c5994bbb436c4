"""Fleet overview: the whole fleet by site and by model, and the miners that need a look.

Every graph is a range query over recorded series (prometheus/rules/
hashwatch-recording.yml), a few series whatever the fleet's size; every table
of miners is an instant topk/bottomk of at most house.TABLE_ROWS rows over a
recorded per-miner series (the joins done by the rules, every miner named in
`miner`), each row linking to the miner dashboard.
"""

from __future__ import annotations

from typing import Any

from hashwatch.app.alerting.config import AlertingConfig

from .. import house as h
from ..house import Prom


def build(config: AlertingConfig) -> dict[str, Any]:
    t = h.Thresholds(config)
    n = h.TABLE_ROWS
    site = 'site=~"$site"'
    model = 'model=~"$model"'
    panels = [
        h.stat("Fleet hashrate", "Summed hashrate the miners report now (fleet:miner_hashrate_hashes_per_second:sum).",
               [Prom("fleet:miner_hashrate_hashes_per_second:sum")], h.HASHRATE),
        h.stat("Of expected", "Hashrate over nominal hashrate among the miners that report both "
               "(fleet:miner_hashrate_of_expected:ratio); red under the MinerHashrateLow ratio.",
               [Prom("fleet:miner_hashrate_of_expected:ratio")],
               h.RATIO, thresholds=t.hashrate_ratio(), decimals=1),
        h.stat("Miners up", "Miners answering their API over miners configured (fleet:miner_up).",
               [Prom("fleet:miner_up:sum / fleet:miner_up:count")], h.RATIO, thresholds=t.up_ratio(), decimals=1),
        h.stat("Miners down", "Miners configured that do not answer their API now.",
               [Prom("fleet:miner_up:count - fleet:miner_up:sum")], h.COUNT,
               thresholds=h.steps(h.GREEN, (1, h.RED))),
        h.stat("Power", "Summed power the miners report (readings and firmware estimates).",
               [Prom("fleet:miner_power_watts:sum")], h.WATTS),
        h.stat("Efficiency", "Fleet J/TH: power over the hashrate of the miners that report power.",
               [Prom("fleet:miner_efficiency_joules_per_terahash:ratio")], h.JOULES_PER_TH, decimals=1),
        h.timeseries("Hashrate, by site", "Summed hashrate each site's miners report.",
                     [Prom(f"site:miner_hashrate_hashes_per_second:sum{{{site}}}", "{{site}}")],
                     h.HASHRATE, stack=True, minimum=0),
        h.timeseries("Hashrate against expected, by site and model", "Hashrate over nominal (expected) hashrate "
                     "among the miners that report both, per site and per model. Under 100% is lost hashrate: "
                     "dead boards, throttling; the line is MinerHashrateLow's ratio. Miners down count in neither.",
                     [Prom(f"site:miner_hashrate_of_expected:ratio{{{site}}}", "{{site}}"),
                      Prom(f"model:miner_hashrate_of_expected:ratio{{{model}}}", "{{model}}")],
                     h.RATIO, thresholds=t.hashrate_ratio()),
        h.timeseries("Miners up, by site", "Miners answering their API against miners configured, per site. "
                     "SiteMinersDown fires when the share down reaches the alerting config's site_down_ratio.",
                     [Prom(f"site:miner_up:sum{{{site}}}", "{{site}} up"),
                      Prom(f"site:miner_up:count{{{site}}}", "{{site}} configured")], h.COUNT, minimum=0),
        h.timeseries("Miners answering, by model", "Miners that answer and identify themselves, per model (a miner "
                     "that does not answer has no model).",
                     [Prom(f"model:miner_info:count{{{model}}}", "{{model}}")], h.COUNT, stack=True, minimum=0),
        h.timeseries("Power, by site", "Summed power per site (readings and firmware estimates).",
                     [Prom(f"site:miner_power_watts:sum{{{site}}}", "{{site}}")], h.WATTS, stack=True, minimum=0),
        h.timeseries("Efficiency, by site and model", "J/TH: power over the hashrate of the miners that report power.",
                     [Prom(f"site:miner_efficiency_joules_per_terahash:ratio{{{site}}}", "{{site}}"),
                      Prom(f"model:miner_efficiency_joules_per_terahash:ratio{{{model}}}", "{{model}}")],
                     h.JOULES_PER_TH),
        h.timeseries("Reject ratio", "Rejected over all shares in the last 15 minutes, fleet and per site; the line "
                     "is MinerRejectRatioHigh's threshold.",
                     [Prom("fleet:miner_shares_rejected:ratio_rate15m", "fleet"),
                      Prom(f"site:miner_shares_rejected:ratio_rate15m{{{site}}}", "{{site}}")],
                     h.RATIO, thresholds=t.reject_ratio(), minimum=0),
        h.timeseries("Hottest chip, by site", "The hottest chip of each site; the lines are the chip temperature "
                     "alerts' default thresholds (per-model overrides aside).",
                     [Prom(f"site:miner_chip_temperature_celsius:max{{{site}}}", "{{site}}")], h.CELSIUS,
                     thresholds=t.chip_temperature()),
        h.table("Worst miners: lowest hashrate against expected",
                f"The {n} miners hashing the least against their nominal hashrate now. Click a miner for its page.",
                [Prom(f"bottomk({n}, miner:miner_hashrate_of_expected:ratio{{{site}}})")],
                h.RATIO, thresholds=t.hashrate_ratio(), hide=("instance",), rename={"Value": "of expected"},
                link_miner=True, colored="of expected"),
        h.table("Hottest miners", f"The {n} miners with the hottest chip or board sensor now.",
                [Prom(f"topk({n}, miner:miner_temperature_celsius:max{{{site}}})")],
                h.CELSIUS, thresholds=t.chip_temperature(), hide=("instance",), rename={"Value": "hottest"},
                link_miner=True, colored="hottest", sort="hottest"),
        h.table("Dead boards and missing chips", "Boards hashing nothing or with no chip answering, and boards with "
                "fewer chips than at start-up (MinerHashboardDead, MinerChipsMissing).",
                [Prom(f"topk({n}, board:miner_board_chips:missing{{{site}}})")],
                h.NONE, hide=("instance",), rename={"Value": "chips missing, or 0"}, link_miner=True),
        h.table("Miners on a backup pool", "Miners whose active pool is not their first (MinerPoolFailover); the "
                "value is the pool's priority.",
                [Prom(f"topk({n}, miner:miner_pool_backup:priority{{{site}}})")],
                h.NONE, hide=("instance",), rename={"Value": "priority"}, link_miner=True),
        h.table("Miners down", "Miners not answering their API now, with the reason (miner_scrape_error).",
                [Prom(h.listed(f"topk({n}, miner_scrape_error{{@miners}})"))],
                h.NONE, hide=("instance", "Value"), link_miner=True, w=24),
    ]
    return h.dashboard(
        "fleet", "The whole fleet by site and model, and the miners that need a look.", panels,
        variables=[h.variable("site", "Site", "label_values(site:miner_up:count, site)", all_=True, multi=True),
                   h.variable("model", "Model", "label_values(model:miner_info:count, model)", all_=True, multi=True)],
        link_to=("miner", "profitability", "ocean", "alerts"),
    )
