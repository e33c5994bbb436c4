"""Pools: what each miner says about its pools, and what Ocean credits the workers with."""

from __future__ import annotations

from ..config import AlertingConfig
from .. import links
from ..model import Alert, Group
from ..promql import MINER, series

# The miner's name in a description: `miner` in fleet mode, the probed `instance` otherwise.
WHO = "{{ with $labels.miner }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }}"


def group(config: AlertingConfig) -> Group:
    m = config.miner_selector
    o = config.ocean_selector
    pool_up = series("miner_pool_up", m)
    active = series("miner_pool_active", m)
    priority = series("miner_pool_priority", m)
    ocean_stale = (
        f"(time() - {series('hashwatch_ocean_api_last_success_timestamp_seconds', o)}"
        f" > {config.ocean_stale_seconds:g})"
    )
    return Group(
        "hashwatch.pools",
        title="Pools",
        dashboard=links.OCEAN,
        rules=(
            Alert(
                "MinerPoolDown",
                f"{pool_up} == 0",
                severity="warning",
                dashboard=links.MINER,
                summary="A miner reports one of its configured pools dead.",
                description=(
                    f"{WHO} reports pool {{{{ $labels.pool }}}} ({{{{ $labels.url }}}}, "
                    "worker {{ $labels.worker }}) dead for 5 minutes."
                ),
                runbook=(
                    "The miner's own pool list marks this pool `Dead`: it cannot connect, log in or get work "
                    "from it. While another pool is alive the miner keeps hashing there (see MinerPoolFailover); "
                    "a dead backup pool means there is nothing to fail over to.\n\n"
                    "- Is it every miner on this pool (the pool or your internet connection is down) or just "
                    "this one (its config)? `count by (url) (miner_pool_up == 0)` tells.\n"
                    "- Check the URL and port for typos, DNS from the miner's network, and firewall rules for "
                    "outbound stratum (usually TCP 3333 or the pool's own port).\n"
                    "- For Ocean, check status at ocean.xyz and that the user is `<payout address>.<worker>`.\n"
                    "- Fix or remove the pool in the miner's pool settings; the alert clears once it is alive."
                ),
                for_=config.miner_pool_down_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "MinerPoolFailover",
                f"{priority} > 0\nand on({MINER}, pool) {active} == 1",
                severity="warning",
                dashboard=links.MINER,
                summary="A miner is hashing on a backup pool.",
                description=(
                    f"{WHO} has been mining on pool {{{{ $labels.pool }}}} (priority {{{{ $value }}}}) "
                    "instead of its first pool for 10 minutes."
                ),
                runbook=(
                    "The pool receiving the miner's shares is not its priority-0 pool: the miner failed over. "
                    "Its hashrate now earns wherever the backup pool pays (another account, another payout "
                    "scheme), and Ocean credits the intended worker less.\n\n"
                    "- Look for MinerPoolDown on the same miner: the first pool is likely dead. "
                    "`miner_pool_up{pool=\"0\"}` shows it.\n"
                    "- If the first pool is alive again, most firmwares switch back on their own; some "
                    "(Braiins, LuxOS with quotas) do not until restarted or until the pool list is re-saved.\n"
                    "- A backup pool listed first by mistake: reorder the pools in the miner's settings."
                ),
                for_=config.miner_pool_failover_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "MinerNoActivePool",
                f"{series('miner_up', m)} == 1\n"
                f"unless on({MINER}) {active} == 1\n"
                f"unless on({MINER}) {series('miner_mining', m)} == 0",
                severity="critical",
                dashboard=links.MINER,
                summary="A running miner sends its shares to no pool.",
                description=f"{WHO} answers but has had no active pool for 5 minutes: it earns nothing.",
                runbook=(
                    "The miner answers its API and is not paused (`miner_mining` is not 0), but none of its "
                    "pools is active: every configured pool is dead or none is configured. It draws power and "
                    "earns nothing.\n\n"
                    "- Look at `miner_pool_up` for this miner: all 0 means it cannot reach any pool (network, "
                    "DNS, firewall, the pools are down); no series means no pool is configured (a factory reset).\n"
                    "- Check the miner's network settings (gateway, DNS) from its web page.\n"
                    "- Restore the pool settings (`stratum+tcp://mine.ocean.xyz:3334`, user "
                    "`<payout address>.<worker>`) and restart mining."
                ),
                for_=config.miner_no_active_pool_for,
            ),
            Alert(
                "OceanHashrateShortfall",
                f"worker:miner_vs_ocean_hashrate:ratio_avg1h > {config.ocean_shortfall_ratio:g}",
                severity="warning",
                summary="Ocean credits a worker much less hashrate than its miners report.",
                description=(
                    "Miners hashing as worker {{ $labels.worker }} reported {{ $value | printf \"%.2f\" }} times "
                    "the hashrate Ocean credits it with over the last hour."
                ),
                runbook=(
                    "Over an hour, the miners whose active pool user names this worker report far more "
                    "hashrate (`worker:miner_hashrate_hashes_per_second:sum`) than Ocean's 1-hour figure for "
                    "the worker (`worker:ocean_worker_hashrate_hashes_per_second:window3600s`). Some of the "
                    "work is not being paid for.\n\n"
                    "- Worker names: two miners with different user strings mapped to one worker, or a typo "
                    "in the payout address (the shares then go to someone else's address).\n"
                    "- Stale and rejected shares: `miner:miner_shares_stale:ratio_rate15m`, "
                    "`miner:miner_shares_rejected:ratio_rate15m`; high latency to the pool or a slow proxy.\n"
                    "- A stratum proxy that renames workers, or a miner that is really on a backup pool "
                    "(MinerPoolFailover).\n"
                    "- Firmware that over-reports its hashrate (some custom builds add a dev fee): compare "
                    "with the wall power.\n"
                    "Ocean's hashrate is an estimate from shares and is noisy for small workers: a single "
                    "small miner can read 20-30% off for an hour; look at the 24 h figure before acting."
                ),
                for_=config.ocean_hashrate_shortfall_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "OceanWorkerSilent",
                f"time() - {series('ocean_worker_last_share_timestamp_seconds', o)} > {config.ocean_worker_silent_seconds:g}\n"
                f"unless on(address) {ocean_stale}",
                severity="warning",
                summary="Ocean has received no share from a worker for over 30 minutes.",
                description=(
                    "Ocean's last share from worker {{ $labels.worker }} of {{ $labels.address }} "
                    "is {{ $value | humanizeDuration }} old."
                ),
                runbook=(
                    "Ocean still lists the worker but its latest share is over 30 minutes old (from Ocean's "
                    "userinfo_full; workers only user_hashrate_full lists cannot be judged). The miner "
                    "behind it is off, failed over to another pool, or lost its connection. It does not fire "
                    "while the Ocean data itself is stale (OceanDataStale).\n\n"
                    "- Find the miner whose pool user ends in `.{worker}`: `miner_pool_up{worker=\"...\"}`. "
                    "Is it up (`miner_up`), hashing, and is Ocean its active pool?\n"
                    "- A miner deliberately switched off or renamed: the worker drops out of Ocean's list "
                    "after a while and the alert resolves; silence it meanwhile."
                ),
                for_=config.ocean_worker_silent_for,
            ),
        ),
    )
