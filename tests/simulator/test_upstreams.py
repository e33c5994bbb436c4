"""The replayed upstreams serve what the real clients parse: the Ocean and market exporters run against them.

Real servers on loopback: `simulator.upstreams` in a thread, and the Ocean and
market exporters polling it as they would poll api.ocean.xyz and the price and
network APIs. What the replay promises (docs/demo.md): Ocean credits the
workers it is given, times are recent, prices agree across sources and move a
little, the chain height is the one of the captured retarget epoch.
"""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from exporters.market.config import MarketConfig
from exporters.market.server import MarketExporter
from exporters.ocean.config import OceanConfig
from exporters.ocean.server import OceanExporter
from hashwatch.app.cli import main
from simulator.upstreams import coingecko, load_workers, mempool, prices, upstreams_app
from tests.support.paths import MARKET_CAPTURES
from tests.support.prom_text import wait_for_samples as wait_for
from tests.support.servers import AppThread

ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
WORKERS = {"rig-a": 110e12, "rig-b": 200e12, "rig-c": 14e12}
OCEAN_ENDPOINTS = 7
MARKET_JOBS = 12  # 4 price sources, 7 mempool endpoints, blockchain.info stats


@pytest.fixture(scope="module")
def upstreams():
    with AppThread(lambda: upstreams_app(WORKERS)) as server:
        yield server.url


def up_count(found, name: str) -> int:
    return sum(1 for (metric, _), value in found.items() if metric == name and value == 1)


def test_the_ocean_exporter_sees_the_given_workers_with_recent_times(upstreams):
    config = OceanConfig(
        addresses=[ADDRESS], api_url=f"{upstreams}/ocean/v1", timeout_seconds=2, max_backoff_seconds=1,
        intervals={name: 0.2 for name in ("hashrate", "workers", "pool", "earnings", "blocks")},
    )
    with AppThread(lambda: OceanExporter(config).app()) as exporter:
        s = wait_for(f"{exporter.url}/metrics", lambda f: up_count(f, "hashwatch_ocean_api_up") == OCEAN_ENDPOINTS)
    assert up_count(s, "hashwatch_ocean_api_up") == OCEAN_ENDPOINTS, sorted(k for k in s if "api_up" in k[0])
    now = time.time()
    for worker, rate in WORKERS.items():
        key = ("ocean_worker_hashrate_hashes_per_second", (("address", ADDRESS), ("window", "3600s"), ("worker", worker)))
        assert s[key] == pytest.approx(rate, rel=0.1), worker
        last_share = s[("ocean_worker_last_share_timestamp_seconds", (("address", ADDRESS), ("worker", worker)))]
        assert now - 70 < last_share <= now
    user = (("address", ADDRESS),)
    assert s[("ocean_active_workers", user)] == len(WORKERS)
    total = s[("ocean_hashrate_hashes_per_second", user + (("window", "86400s"),))]
    assert total == pytest.approx(sum(WORKERS.values()), rel=0.05)
    assert 0 < s[("ocean_estimated_total_earnings_next_block_btc", user)] < 0.001  # a 324 TH/s share of one block
    assert s[("ocean_unpaid_btc", user)] >= 0
    # The recorded 2026 earnings, scaled to this user's hashrate (the recorded user hashed ~810 PH/s).
    recorded_user = 810287957706473728
    scale = sum(WORKERS.values()) / recorded_user
    assert s[("ocean_earned_btc_total", user)] == pytest.approx((14297234 + 14562604 + 14690711) * scale / 1e8, abs=3e-8)
    assert now - 4 * 3600 < s[("ocean_last_payout_timestamp_seconds", user)] < now
    # The pool: the real 2026 pool_stat values where they exist, the hand-built ones elsewhere.
    assert s[("ocean_pool_network_difficulty", ())] == 138966872071213.02
    assert s[("ocean_pool_estimated_block_reward_btc", ())] == 3.1331216
    assert s[("ocean_pool_active_users", ())] == 1187
    assert now - 2 * 86400 < s[("ocean_pool_last_block_timestamp_seconds", ())] < now


def test_the_market_exporter_gets_agreeing_moving_prices_and_one_chain(upstreams):
    price_bases = {"coingecko": "coingecko", "coincap": "coincap", "mempool": "mempool", "blockchain_info": "blockchain"}
    config = MarketConfig(
        currencies=["USD", "EUR"],
        price_sources=[{"name": n, "base_url": f"{upstreams}/{p}", "ttl_seconds": 0.2, "timeout_seconds": 2}
                       for n, p in price_bases.items()],
        network_sources=[{"name": n, "base_url": f"{upstreams}/{price_bases[n]}", "interval_seconds": 0.2,
                          "timeout_seconds": 2} for n in ("mempool", "blockchain_info")],
        max_backoff_seconds=1,
    )
    with AppThread(lambda: MarketExporter(config).app()) as exporter:
        s = wait_for(f"{exporter.url}/metrics", lambda f: up_count(f, "hashwatch_market_source_up") == MARKET_JOBS)
    assert up_count(s, "hashwatch_market_source_up") == MARKET_JOBS, sorted(k for k in s if "source_up" in k[0])
    recorded = json.loads((MARKET_CAPTURES / "mempool_v1_prices.json").read_text())
    usd = s[("market_btc_price", (("currency", "USD"),))]
    assert usd == pytest.approx(recorded["USD"], rel=0.01)
    # Every source is scaled to the same reference in every currency: a spread of hundredths of a
    # percent, no disagreement (the recordings, years apart, differ threefold).
    for currency in ("USD", "EUR"):
        assert 0 < s[("market_btc_price_spread_ratio", (("currency", currency),))] < 0.002, currency
        assert s[("market_btc_price_sources_disagree", (("currency", currency),))] == 0, currency
    # EUR follows the reference at the mempool.space capture's cross rate.
    eur = s[("market_btc_price", (("currency", "EUR"),))]
    assert eur / usd == pytest.approx(recorded["EUR"] / recorded["USD"], rel=0.002)
    # One chain: the tip of the captured retarget epoch, the retarget ahead of now.
    assert s[("market_network_height", ())] == 838656 - 1606
    assert s[("market_network_blocks_until_retarget", ())] == 1606
    assert s[("market_network_block_subsidy_btc", ())] == 6.25
    assert s[("market_network_retarget_estimated_timestamp_seconds", ())] > time.time()


def test_prices_move_a_little_and_every_source_follows():
    base = prices.base_usd()
    seen = {round(prices.reference_usd(t), 2) for t in range(0, 900, 60)}
    assert len(seen) > 10 and all(abs(price / base - 1) < 0.01 for price in seen)
    now = 1_800_000_000.0
    for source_price in (
        coingecko.simple_price("bitcoin", "usd", set(), now)["bitcoin"]["usd"],
        mempool.price_index(now)["USD"],
    ):
        assert source_price == pytest.approx(prices.reference_usd(now), rel=0.001)
    assert coingecko.simple_price("bitcoin", "usd", set(), now) != coingecko.simple_price("bitcoin", "usd", set(), now + 120)


def test_a_bad_workers_file_is_refused_naming_the_worker(tmp_path):
    bad = tmp_path / "workers.json"
    bad.write_text(json.dumps({"workers": {"rig-a": 1e14, "rig-b": "fast"}}))
    with pytest.raises(ValueError, match="workers.rig-b"):
        load_workers(bad)
    result = CliRunner().invoke(main, ["upstreams", "--ocean.workers", str(bad), "--listen", "127.0.0.1:0"])
    assert result.exit_code == 2 and "workers.rig-b" in result.output
