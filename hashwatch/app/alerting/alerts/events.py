"""Events a home miner wants to hear about: blocks, payouts, workers coming and going, hashrate steps.

All `info`: notices, never paged. Each compares now with a moment ago (`offset`), so
it resolves by itself once that moment has passed.
"""

from __future__ import annotations

from ..config import AlertingConfig
from .. import links
from ..model import Alert, Group
from ..promql import quoted, series



def group(config: AlertingConfig) -> Group:
    o = config.ocean_selector
    height = series("ocean_pool_last_block_height", o)
    payout_at = series("ocean_last_payout_timestamp_seconds", o)
    worker = series("ocean_worker_hashrate_hashes_per_second", o, "window=" + quoted("600s"))
    user = series("ocean_hashrate_hashes_per_second", o, "window=" + quoted("3600s"))
    change = f"{user} / ({user} offset 1h > 0) - 1"
    return Group(
        "hashwatch.events",
        title="Events",
        dashboard=links.OCEAN,
        rules=(
            Alert(
                "OceanBlockFound",
                f"{height} > {height} offset 15m",
                severity="info",
                summary="Ocean found a block.",
                description="Ocean found block {{ $value | printf \"%.0f\" }}.",
                runbook=(
                    "The pool found a block in the last 15 minutes (`ocean_pool_last_block_height` rose). "
                    "Under TIDES every share in the window is paid from it: your part is in "
                    "`ocean_earned_btc_total` once Ocean credits it, and `ocean_unpaid_btc` rises.\n\n"
                    "Nothing to do. The reward is `ocean_pool_last_block_reward_btc`. The notice resolves "
                    "by itself after 15 minutes."
                ),
            ),
            Alert(
                "OceanPayoutReceived",
                f"{series('ocean_last_payout_btc', o)}\nand {payout_at} > {payout_at} offset 30m",
                severity="info",
                summary="Ocean paid out to a watched address.",
                description="Ocean paid {{ $value | printf \"%.8f\" }} BTC to {{ $labels.address }}.",
                runbook=(
                    "Ocean's payout history shows a new payout to the address in the last 30 minutes "
                    "(`ocean_last_payout_timestamp_seconds` moved on); the amount is `ocean_last_payout_btc`.\n\n"
                    "Check the transaction arrived in your wallet. Lightning payouts are not in Ocean's "
                    "payout history, so they raise no notice. The notice resolves by itself after 30 minutes."
                ),
            ),
            Alert(
                "OceanWorkerJoined",
                f"{worker} > 0\nunless {worker} offset 1h > 0\nand on() count({worker} offset 1h) > 0",
                severity="info",
                summary="A worker started hashing on Ocean.",
                description=(
                    "Worker {{ $labels.worker }} of {{ $labels.address }} hashes on Ocean "
                    "({{ $value | humanize }}H/s over 10 minutes) and did not an hour ago."
                ),
                runbook=(
                    "Ocean credits this worker with hashrate now (10-minute window) and did not an hour ago: "
                    "a miner was added, switched on, renamed, or came back from a backup pool.\n\n"
                    "If you did not expect it, check the worker name: someone may be mining to your address "
                    "(harmless for you), or a miner has a new pool user. It is not raised when the Ocean "
                    "exporter itself has only just started. The notice resolves by itself within an hour."
                ),
            ),
            Alert(
                "OceanWorkerLeft",
                f"{worker} offset 1h > 0\nunless {worker} > 0",
                severity="info",
                summary="A worker stopped hashing on Ocean.",
                description=(
                    "Worker {{ $labels.worker }} of {{ $labels.address }} hashed {{ $value | humanize }}H/s "
                    "on Ocean an hour ago and sends nothing now."
                ),
                runbook=(
                    "Ocean credited this worker with hashrate an hour ago and credits it nothing now "
                    "(10-minute window): its miner is off, failed over to another pool, renamed, or lost "
                    "its connection.\n\n"
                    "- Find the miner (`miner_pool_up{worker=\"...\"}`): is it up (`miner_up`), and is Ocean "
                    "its active pool (MinerPoolFailover, MinerNoActivePool)?\n"
                    "- If the Ocean exporter itself is down (HashwatchExporterDown) every worker seems to "
                    "leave: fix that first.\n"
                    "- Switched off on purpose: nothing to do. The notice resolves by itself within an hour."
                ),
            ),
            Alert(
                "OceanHashrateStepChange",
                f"{change} > {config.ocean_hashrate_step_ratio:g}\nor\n{change} < -{config.ocean_hashrate_step_ratio:g}",
                severity="info",
                summary="Your hashrate on Ocean changed markedly within an hour.",
                description=(
                    "The 1 h hashrate Ocean credits {{ $labels.address }} with changed by "
                    "{{ $value | humanizePercentage }} against an hour ago."
                ),
                runbook=(
                    "Ocean's 1-hour hashrate for the address differs by more than 20% from the same figure an "
                    "hour earlier: miners were added or removed, switched to another pool, curtailed, or "
                    "(for a small fleet) Ocean's estimate is just noisy.\n\n"
                    "- A fall: OceanWorkerLeft names the workers gone; compare with the miners' own "
                    "`fleet:miner_hashrate_hashes_per_second:sum` to tell a real fall from pool-side noise.\n"
                    "- A rise: OceanWorkerJoined, or miners back from a backup pool.\n"
                    "It resolves by itself once the hashrate is steady for an hour."
                ),
            ),
        ),
    )
