"""Miner detail: one miner (the `$miner` variable), board by board.

Every query is filtered to `$miner` through house.selected(), which reads the
miner from the `miner` label (fleet mode) or the probed `instance` (/probe).
What a firmware does not report (per-board power, fault codes, fan duty) is
absent for that miner, never drawn as 0 (docs/metrics.md, "Families and models").
"""

from __future__ import annotations

from typing import Any

from hashwatch.app.alerting.config import AlertingConfig

from .. import house as h
from ..house import Prom, selected


def build(config: AlertingConfig) -> dict[str, Any]:
    t = h.Thresholds(config)
    panels = [
        h.stat("Hashrate", "The miner's current hashrate (its shortest window).",
               [Prom(selected("miner_hashrate_hashes_per_second{@miner}"))], h.HASHRATE),
        h.stat("Of expected", "Hashrate over the nominal hashrate; red under the MinerHashrateLow ratio.",
               [Prom(selected("miner_hashrate_hashes_per_second{@miner} / on(instance, miner) "
                              "miner_expected_hashrate_hashes_per_second{@miner}"))],
               h.RATIO, thresholds=t.hashrate_ratio(), decimals=1),
        h.stat("Uptime", "Time since the mining process started; a small value is a reboot (MinerRebooted).",
               [Prom(selected("miner_uptime_seconds{@miner}"))], h.SECONDS),
        h.stat("Answering", "1 when the miner answers its API and its replies parse (miner_up).",
               [Prom(selected("miner_up{@miner}"))], h.NONE,
               thresholds=h.steps(h.RED, (1, h.GREEN)), color="background"),
        h.stat("Power used in the cost", "The power the profitability exporter counts for this miner: its own "
               "reading, or the catalog's nominal power when it reports none.",
               [Prom('sum without (estimated) (profitability_miner_power_watts{miner="$miner"})')], h.WATTS),
        h.stat("Profit per day", "Expected revenue minus electricity per day, in the profitability currency.",
               [Prom('profitability_miner_profit_per_day{miner="$miner"}')], h.NONE,
               thresholds=t.profit(), decimals=2),
        h.timeseries("Hashrate per board", "Each hashboard's hashrate, and the miner's total and nominal.",
                     [Prom(selected("miner_board_hashrate_hashes_per_second{@miner}"), "board {{board}}"),
                      Prom(selected("miner_hashrate_hashes_per_second{@miner}"), "total"),
                      Prom(selected("miner_expected_hashrate_hashes_per_second{@miner}"), "expected")],
                     h.HASHRATE, minimum=0),
        h.timeseries("Chips per board", "Chips answering on each board, and how many the board had at start-up.",
                     [Prom(selected("miner_board_chips{@miner}"), "board {{board}}"),
                      Prom(selected("miner_board_expected_chips{@miner}"), "board {{board}} at start-up")],
                     h.COUNT, minimum=0),
        h.timeseries("Chip temperature", "Hottest chip per board; the lines are the chip temperature alerts' "
                     "default thresholds (hydro and Whatsminer models have their own).",
                     [Prom(selected('miner_temperature_celsius{@miner, sensor="chip"}'), "board {{board}}")],
                     h.CELSIUS, thresholds=t.chip_temperature()),
        h.timeseries("Board and air temperature", "Board (pcb) sensors and inlet/outlet air; the lines are the "
                     "board temperature alerts' thresholds.",
                     [Prom(selected('miner_temperature_celsius{@miner, sensor!="chip"}'), "{{sensor}} {{board}}")],
                     h.CELSIUS, thresholds=t.board_temperature()),
        h.timeseries("Fans", "Fan speeds; a stopped fan is a real 0 (hydro and immersion models export none).",
                     [Prom(selected("miner_fan_speed_rpm{@miner}"), "fan {{fan}}")], h.RPM, minimum=0),
        h.timeseries("Power", "Power as the firmware reports it (estimated or read) and, where it reports none, "
                     "the catalog's nominal power the profitability exporter uses.",
                     [Prom(selected('label_replace(sum without (estimated) (miner_power_watts{@miner}), '
                                    '"source", "reported", "", "")')
                           + '\nor\nlabel_replace(sum without (estimated) (profitability_miner_power_watts{miner="$miner"}), '
                           '"source", "used in the cost", "", "")', "{{source}}")],
                     h.WATTS, minimum=0),
        h.timeseries("Shares per second", "Accepted, rejected and stale shares per second.",
                     [Prom(selected("sum by (result) (rate(miner_shares_total{@miner}[$__rate_interval]))"),
                           "{{result}}")], h.OPS, stack=True, minimum=0),
        h.timeseries("Reject ratio", "Rejected over all shares in the last 15 minutes; the line is "
                     "MinerRejectRatioHigh's threshold.",
                     [Prom(selected("miner:miner_shares_rejected:ratio_rate15m{@miner}"), "rejected"),
                      Prom(selected("miner:miner_shares_stale:ratio_rate15m{@miner}"), "stale")],
                     h.RATIO, thresholds=t.reject_ratio(), minimum=0),
        h.state_timeline("Pools", "Each configured pool: alive or dead, and which one receives the shares "
                         "(a pool other than priority 0 active is a failover).",
                         [Prom(selected("miner_pool_up{@miner}"),
                               "pool {{pool}} {{url}} alive"),
                          Prom(selected("miner_pool_active{@miner}"), "pool {{pool}} active")],
                         mappings=h.value_text({"0": ("no", h.RED), "1": ("yes", h.GREEN)}), h=7),
        h.state_timeline("State and faults", "Whether the miner answers, whether it says it is mining (some "
                         "firmwares), and every fault code it reports.",
                         [Prom(selected('label_replace(miner_up{@miner}, "state", "answering", "", "")\n'
                                        'or label_replace(miner_mining{@miner}, "state", "mining", "", "")\n'
                                        'or label_replace(miner_fault{@miner}, "state", "fault $1", "code", "(.*)")'),
                               "{{state}}")],
                         mappings=h.value_text({"0": ("no", h.RED), "1": ("yes", h.GREEN)}), h=6),
        h.timeseries("Uptime", "Time since the mining process started; each drop to near 0 is a reboot.",
                     [Prom(selected("miner_uptime_seconds{@miner}"), "uptime")], h.SECONDS, minimum=0),
        h.timeseries("Hardware errors per second", "Hardware errors per second, per board.",
                     [Prom(selected("rate(miner_board_hardware_errors_total{@miner}[$__rate_interval])"),
                           "board {{board}}")], h.OPS, minimum=0),
        h.table("Identity and pools", "Make, model and firmware, and the pools with their worker names.",
                [Prom(selected("miner_info{@miner}")), Prom(selected("miner_pool_up{@miner}"))],
                hide=("instance", "profile", "Value #A", "Value #B"), w=24, h=6),
    ]
    return h.dashboard(
        "miner", "One miner: boards, chips, temperatures, fans, power, shares, pools, faults and uptime.", panels,
        variables=[h.variable("site", "Site", "label_values(site:miner_up:count, site)", all_=True, multi=True),
                   h.variable("miner", "Miner", 'label_values(miner:miner_info:identity{site=~"$site"}, miner)')],
        link_to=("fleet", "profitability", "alerts"),
    )
