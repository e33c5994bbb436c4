"""Ocean: what the pool credits (hashrate windows, workers, TIDES shares, earnings, payouts) against what the miners report.

The miners' side is the recorded `worker:miner_hashrate_hashes_per_second:sum`
(a miner's hashrate under the worker name it mines as), so the pool's view and
the miners' own line up worker by worker.
"""

from __future__ import annotations

from typing import Any

from hashwatch.app.alerting.config import AlertingConfig

from .. import house as h
from ..house import Prom

OURS = "sum(worker:miner_hashrate_hashes_per_second:sum and on(worker) worker:ocean_worker_hashrate_hashes_per_second:window3600s)"


def build(config: AlertingConfig) -> dict[str, Any]:
    t = h.Thresholds(config)
    panels = [
        h.stat("Hashrate (1 h)", "Your hashrate over the last hour as Ocean measures it, all watched addresses.",
               [Prom('sum(ocean_hashrate_hashes_per_second{window="3600s"})')], h.HASHRATE),
        h.stat("Active workers", "Workers Ocean counts as active.", [Prom("sum(ocean_active_workers)")], h.COUNT),
        h.stat("Unpaid", "Earned, not yet paid out.", [Prom("sum(ocean_unpaid_btc)")], h.BTC, decimals=8),
        h.stat("Next block estimate", "What you would earn if the pool found the next block (TIDES share of its "
               "reward, fees included).", [Prom("sum(ocean_estimated_total_earnings_next_block_btc)")], h.BTC,
               decimals=8),
        h.stat("Paid out", "Paid since `earnings_since` (on-chain payouts only).", [Prom("sum(ocean_paid_btc_total)")],
               h.BTC, decimals=8),
        h.stat("Last share", "Seconds since Ocean last received a share from you; red past the alerting config's "
               "ocean_worker_silent_seconds.",
               [Prom("time() - max(ocean_last_share_timestamp_seconds)")], h.SECONDS,
               thresholds=t.age(config.ocean_worker_silent_seconds)),
        h.timeseries("Ocean's hashrate windows against the miners' own", "Your hashrate as Ocean measures it over "
                     "10 minutes, 1 hour and 24 hours, and the hashrate your miners report for the workers Ocean "
                     "knows. Ocean's lower by more than rejects and luck: see OceanHashrateShortfall.",
                     [Prom('sum by (window) (ocean_hashrate_hashes_per_second{window=~"600s|3600s|86400s"})',
                           "Ocean {{window}}"),
                      Prom(OURS, "miners' own")], h.HASHRATE, w=24, minimum=0),
        h.table("Workers", "Each worker: Ocean's 1 h hashrate, the hashrate its miners report, the ratio of the two "
                "(averaged over 1 h; OceanHashrateShortfall above the config's ratio), its shares in the TIDES "
                "window, and the seconds since Ocean's last share from it.",
                [Prom("worker:ocean_worker_hashrate_hashes_per_second:window3600s"),
                 Prom("worker:miner_hashrate_hashes_per_second:sum and on(worker) "
                      "worker:ocean_worker_hashrate_hashes_per_second:window3600s"),
                 Prom("worker:miner_vs_ocean_hashrate:ratio_avg1h"),
                 Prom("sum by (worker) (ocean_worker_shares_in_tides_window)"),
                 Prom("time() - max by (worker) (ocean_worker_last_share_timestamp_seconds)")],
                rename={"Value #A": "Ocean 1 h", "Value #B": "miners' own", "Value #C": "miners / Ocean",
                        "Value #D": "TIDES shares", "Value #E": "last share (s ago)"},
                units={"Ocean 1 h": h.HASHRATE, "miners' own": h.HASHRATE, "miners / Ocean": h.NONE,
                       "TIDES shares": h.COUNT, "last share (s ago)": h.SECONDS},
                thresholds=t.ocean_shortfall(), colored="miners / Ocean", w=24, h=9),
        h.timeseries("Worker $worker: Ocean against its miners", "The chosen worker's hashrate as Ocean measures it "
                     "per window, and what the miners hashing as that worker report.",
                     [Prom('ocean_worker_hashrate_hashes_per_second{worker="$worker", window=~"600s|3600s|86400s"}',
                           "Ocean {{window}}"),
                      Prom('worker:miner_hashrate_hashes_per_second:sum{worker="$worker"}', "miners' own")],
                     h.HASHRATE, minimum=0),
        h.timeseries("Your share of the TIDES window", "Your shares over the pool's TIDES window size: the share of "
                     "each block's reward you would get.",
                     [Prom("sum(ocean_shares_in_tides_window) / scalar(max(ocean_pool_tides_window_max_shares))",
                           "share of window")], h.RATIO, minimum=0),
        h.timeseries("Estimated earnings with the next block", "Ocean's estimate of your earnings and payout if the "
                     "pool found the next block, and your unpaid balance.",
                     [Prom("sum(ocean_estimated_total_earnings_next_block_btc)", "next block earnings"),
                      Prom("sum(ocean_estimated_payout_next_block_btc)", "next block payout"),
                      Prom("sum(ocean_unpaid_btc)", "unpaid")], h.BTC),
        h.timeseries("Earned and paid", "Net earnings credited and payouts received since `earnings_since` "
                     "(counters; on-chain payouts only).",
                     [Prom("sum(ocean_earned_btc_total)", "earned"), Prom("sum(ocean_paid_btc_total)", "paid")],
                     h.BTC, minimum=0),
        h.stat("Payouts", "Payouts received since `earnings_since`.", [Prom("sum(ocean_payouts_total)")], h.COUNT),
        h.stat("Last payout", "Amount of the latest payout.", [Prom("max(ocean_last_payout_btc)")], h.BTC, decimals=8),
        h.stat("Since last payout", "Time since the latest payout.",
               [Prom("time() - max(ocean_last_payout_timestamp_seconds)")], h.SECONDS),
        h.stat("Pool hashrate (5 min)", "The whole pool's hashrate over five minutes (pool_hashrate's pool_300s).",
               [Prom('max(ocean_pool_hashrate_hashes_per_second{window="300s"})')], h.HASHRATE),
        h.stat("Blocks found (30 d)", "Blocks the pool found in the last 30 days (among the latest 100 it lists).",
               [Prom('max(ocean_pool_blocks_found{window="30d"})')], h.COUNT),
        h.stat("Since the pool's last block", "Time since the pool last found a block.",
               [Prom("time() - max(ocean_pool_last_block_timestamp_seconds)")], h.SECONDS),
        h.timeseries("Pool hashrate", "The whole pool's hashrate over 5 minutes, 3 hours and a day.",
                     [Prom('max by (window) (ocean_pool_hashrate_hashes_per_second{window=~"300s|10800s|86400s"})',
                           "pool {{window}}")], h.HASHRATE, minimum=0),
        h.bargauge("Blocks found", "Blocks the pool found in the last day, week and 30 days.",
                   [Prom("max by (window) (ocean_pool_blocks_found)", "{{window}}")], h.COUNT),
    ]
    return h.dashboard(
        "ocean", "Ocean.xyz: your hashrate as the pool sees it against your miners, workers, TIDES, earnings, "
        "payouts, and the pool's hashrate and blocks.", panels,
        variables=[h.variable("worker", "Worker", "label_values(ocean_worker_hashrate_hashes_per_second, worker)")],
        link_to=("fleet", "profitability", "alerts"),
    )
