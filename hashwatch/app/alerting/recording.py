"""Recording rules (`level:metric:operations`) that dashboards and alerts reuse.

Levels: `fleet` (everything), `site` (the site label, alerting.site_label),
`model` (miner_info's model), `worker` (the pool worker a miner hashes as, the
label Ocean reports it under), `miner` (one miner: instance and miner). Power
is summed over the `estimated` label: a reading and an estimate both count.

The dashboards (grafana/) draw every fleet and profitability graph from these
series, so a fleet of 10,000 miners is a handful of series per graph; and
`miner:miner_info:identity` gives every miner a `miner` label, also when it is
scraped through /probe (where the miner is the `instance`), for the
dashboards' miner variable and links.
"""

from __future__ import annotations

from .config import AlertingConfig
from .model import Group, Recording
from .promql import MINER, quoted, series


def named(build) -> str:
    """`build(matcher)` for every miner, each named in a `miner` label: fleet-mode series have one, and a
    miner scraped through /probe gets its `instance` copied into `miner`."""
    return (f"{build('miner!=' + quoted(''))}\nor\n"
            f"label_replace({build('miner=' + quoted(''))}, \"miner\", \"$1\", \"instance\", \"(.+)\")")


def groups(config: AlertingConfig) -> list[Group]:
    m = config.miner_selector
    site = config.site_label
    hashrate = series("miner_hashrate_hashes_per_second", m)
    expected = series("miner_expected_hashrate_hashes_per_second", m)
    power = f"sum without (estimated) ({series('miner_power_watts', m)})"
    info = series("miner_info", m)
    powered = f"{hashrate} and on({MINER}) {series('miner_power_watts', m)}"
    rated = f"{hashrate} and on({MINER}) {expected}"  # miners that report both
    rating = f"{expected} and on({MINER}) {hashrate}"
    up = series("miner_up", m)
    by_model = f"on({MINER}) group_left(model) {info}"
    chip = series("miner_temperature_celsius", m, 'sensor="chip"')

    def shares(result: str) -> str:
        return f"rate({series('miner_shares_total', m, 'result=' + quoted(result))}[15m])"

    all_shares = f"rate({series('miner_shares_total', m)}[15m])"
    pool_up = series("miner_pool_up", m, "worker!=" + quoted(""))
    active_worker = f"max by ({MINER}, worker) ({pool_up} == 1 and on({MINER}, pool) {series('miner_pool_active', m)} == 1)"
    miners = Group(
        "hashwatch.miners.recording",
        (
            Recording(f"{site}:miner_hashrate_hashes_per_second:sum", f"sum by ({site}) ({hashrate})"),
            Recording("fleet:miner_hashrate_hashes_per_second:sum", f"sum({hashrate})"),
            Recording(f"{site}:miner_expected_hashrate_hashes_per_second:sum", f"sum by ({site}) ({expected})"),
            Recording("fleet:miner_expected_hashrate_hashes_per_second:sum", f"sum({expected})"),
            Recording(
                "model:miner_hashrate_hashes_per_second:sum",
                f"sum by (model) ({hashrate} * on({MINER}) group_left(model) {info})",
            ),
            Recording(
                "model:miner_expected_hashrate_hashes_per_second:sum",
                f"sum by (model) ({expected} * on({MINER}) group_left(model) {info})",
            ),
            # Hashrate over expected among the miners that report both: a miner whose firmware
            # reports no nominal hashrate would otherwise count above 100%.
            Recording(f"{site}:miner_hashrate_of_expected:ratio", f"sum by ({site}) ({rated}) / sum by ({site}) ({rating})"),
            Recording("fleet:miner_hashrate_of_expected:ratio", f"sum({rated}) / sum({rating})"),
            Recording(
                "model:miner_hashrate_of_expected:ratio",
                f"sum by (model) (({rated}) * {by_model}) / sum by (model) (({rating}) * {by_model})",
            ),
            Recording(f"{site}:miner_power_watts:sum", f"sum by ({site}) ({power})"),
            Recording("fleet:miner_power_watts:sum", f"sum({power})"),
            Recording("model:miner_power_watts:sum", f"sum by (model) ({power} * {by_model})"),
            # Power over the hashrate of the miners that report power: a miner without a
            # power reading would otherwise make the site look more efficient than it is.
            Recording(
                f"{site}:miner_efficiency_joules_per_terahash:ratio",
                f"{site}:miner_power_watts:sum / (sum by ({site}) ({powered}) / 1e12)",
            ),
            Recording(
                "fleet:miner_efficiency_joules_per_terahash:ratio",
                f"fleet:miner_power_watts:sum / (sum({powered}) / 1e12)",
            ),
            Recording(
                "model:miner_efficiency_joules_per_terahash:ratio",
                f"model:miner_power_watts:sum / (sum by (model) (({powered}) * {by_model}) / 1e12)",
            ),
            Recording(
                "miner:miner_shares_rejected:ratio_rate15m",
                f"sum without (result) ({shares('rejected')}) / sum without (result) ({all_shares}) > -1",
            ),
            Recording(
                "miner:miner_shares_stale:ratio_rate15m",
                f"sum without (result) ({shares('stale')}) / sum without (result) ({all_shares}) > -1",
            ),
            Recording(
                f"{site}:miner_shares_rejected:ratio_rate15m",
                f"sum by ({site}) ({shares('rejected')}) / sum by ({site}) ({all_shares}) > -1",
            ),
            Recording(
                "fleet:miner_shares_rejected:ratio_rate15m",
                f"sum({shares('rejected')}) / sum({all_shares}) > -1",
            ),
            Recording(
                "model:miner_shares_rejected:ratio_rate15m",
                f"sum by (model) ({shares('rejected')} * {by_model}) / sum by (model) ({all_shares} * {by_model}) > -1",
            ),
            Recording(f"{site}:miner_chip_temperature_celsius:max", f"max by ({site}) ({chip})"),
            Recording(f"{site}:miner_up:sum", f"sum by ({site}) ({up})"),
            Recording(f"{site}:miner_up:count", f"count by ({site}) ({up})"),
            Recording("fleet:miner_up:sum", f"sum({up})"),
            Recording("fleet:miner_up:count", f"count({up})"),
            # Miners that answer, by model (a miner that does not answer has no miner_info, hence no model).
            Recording("model:miner_info:count", f"count by (model) ({info})"),
            Recording(
                "miner:miner_info:identity",
                named(lambda sel: series("miner_info", m, sel)),
            ),
            # The fleet overview's tables of miners (worst, hottest, dead boards, backup pool): per-miner
            # series with the joins done here, every miner named in `miner`, so a dashboard's topk over
            # 10,000 miners reads one recorded name instead of joining raw series at query time.
            Recording(
                "miner:miner_hashrate_of_expected:ratio",
                named(lambda sel: f"{series('miner_hashrate_hashes_per_second', m, sel)} / on({MINER}) group_left() "
                                  f"{series('miner_expected_hashrate_hashes_per_second', m, sel)} > -1"),
            ),
            Recording(
                "miner:miner_temperature_celsius:max",
                named(lambda sel: f"max by ({MINER}, {site}) "
                                  f"({series('miner_temperature_celsius', m, sel, 'sensor=~' + quoted('chip|pcb'))})"),
            ),
            # Chips missing on a board, or 0 for a board hashing nothing or with no chip answering.
            Recording(
                "board:miner_board_chips:missing",
                named(lambda sel: f"{series('miner_board_expected_chips', m, sel)} - on({MINER}, board) group_left() "
                                  f"{series('miner_board_chips', m, sel)} > 0"
                                  f" or {series('miner_board_hashrate_hashes_per_second', m, sel)} == 0"
                                  f" or {series('miner_board_chips', m, sel)} == 0"),
            ),
            # The priority of the pool a miner mines on, when it is not its first (failover).
            Recording(
                "miner:miner_pool_backup:priority",
                named(lambda sel: f"{series('miner_pool_priority', m, sel)} > 0 and on({MINER}, pool) "
                                  f"{series('miner_pool_active', m, sel)} == 1"),
            ),
            Recording(
                "worker:miner_hashrate_hashes_per_second:sum",
                # A miner hashing for two workers at once (quota mode) counts half for each.
                f"sum by (worker) (\n  {active_worker}\n  / on({MINER}) group_left() count by ({MINER}) ({active_worker})\n"
                f"  * on({MINER}) group_left() {hashrate}\n)",
            ),
        ),
    )
    o = config.ocean_selector
    ocean = Group(
        "hashwatch.pool.recording",
        (
            Recording(
                "worker:ocean_worker_hashrate_hashes_per_second:window3600s",
                f"sum by (worker) ({series('ocean_worker_hashrate_hashes_per_second', o, 'window=' + quoted('3600s'))})",
            ),
            Recording(
                "worker:miner_vs_ocean_hashrate:ratio_avg1h",
                "avg_over_time(worker:miner_hashrate_hashes_per_second:sum[1h])"
                " / worker:ocean_worker_hashrate_hashes_per_second:window3600s",
            ),
        ),
    )
    p = config.profitability_selector
    economics = Group(
        "hashwatch.economics.recording",
        (
            Recording(
                "fleet:profitability_profit_per_day:avg1h",
                f"avg_over_time({series('profitability_fleet_profit_per_day', p)}[1h])",
            ),
            Recording(
                "fleet:profitability_margin_ratio:avg1h",
                f"avg_over_time({series('profitability_fleet_margin_ratio', p)}[1h])",
            ),
            Recording(
                f"{site}:profitability_profit_per_day:avg1h",
                f"avg_over_time({series('profitability_site_profit_per_day', p)}[1h])",
            ),
            # Miners advised off, per site and reason; 0 for a site whose miners are ranked and none advised.
            Recording(
                f"{site}:profitability_curtail_advised:count",
                f"count by ({site}, reason) ({series('profitability_curtail_advised', p)} == 1)\n"
                f"or on({site})\nlabel_replace(count by ({site}) ({series('profitability_miner_curtail_rank', p)}), "
                f"\"reason\", \"none\", \"\", \"\") * 0",
            ),
        ),
    )
    return [miners, ocean, economics]
