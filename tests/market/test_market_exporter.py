"""`hashwatch market` end to end against local replays of every public source.

Prices and network data come from simulator/captures/market (captures and
documentation examples; see its SOURCES.md). All sources are served by one
replay server, each source pointed at it with base_url.
"""

from __future__ import annotations

import time

import pytest
import requests

from exporters.market.config import MarketConfig
from exporters.market.server import MarketExporter
from tests.support.prom_text import samples
from tests.support.prom_text import wait_for_samples as wait_for
from tests.support.promtool import check_metrics
from tests.support.replay_server import Reply, ReplayServer
from tests.market.test_market_network import REPLIES as NETWORK_REPLIES
from tests.support.servers import AppThread
from tests.support.paths import MARKET_CAPTURES

FIXTURES = MARKET_CAPTURES

ROUTES = {
    "/api/v3/simple/price": "coingecko_simple_price_bitcoin_usd_all_flags_DOCS.json",
    "/v2/assets/bitcoin": "coincap_v2_assets_bitcoin.json",
    "/api/v1/prices": "mempool_v1_prices.json",
    "/ticker": "blockchain_info_ticker.json",
    **NETWORK_REPLIES,  # every network endpoint, as the network parser tests serve them
}


def healthy(server: ReplayServer) -> None:
    for path, name in ROUTES.items():
        server.route(path, Reply.file(FIXTURES / name))


@pytest.fixture(scope="module")
def market():
    with ReplayServer() as server:
        healthy(server)
        base = server.url
        config = MarketConfig(
            currencies=["USD", "EUR", "JPY"],
            price_sources=[{"name": n, "base_url": base, "ttl_seconds": 0.2, "timeout_seconds": 0.5}
                           for n in ("coingecko", "coincap", "mempool", "blockchain_info")],
            network_sources=[{"name": n, "base_url": base, "interval_seconds": 0.2, "timeout_seconds": 0.5}
                             for n in ("mempool", "blockchain_info")],
            max_age_seconds=1.5, max_backoff_seconds=1,
        )
        with AppThread(lambda: MarketExporter(config).app()) as app:
            yield server, f"{app.url}/metrics"


def everything_up(found) -> bool:
    ups = [v for (name, _), v in found.items() if name == "hashwatch_market_source_up"]
    return len(ups) == 12 and all(ups)


def test_prices_come_from_the_first_source_that_has_the_currency(market):
    _, url = market
    s = wait_for(url, everything_up)
    assert everything_up(s)
    # CoinGecko's reply (the docs example) only has USD: EUR and JPY fall through
    # CoinCap (USD only) to mempool.space.
    assert s[("market_btc_price", (("currency", "USD"),))] == 67187.3358936566
    assert s[("market_btc_price_source_info", (("currency", "USD"), ("source", "coingecko")))] == 1
    assert s[("market_btc_price", (("currency", "EUR"),))] == 64823
    assert s[("market_btc_price_source_info", (("currency", "EUR"), ("source", "mempool")))] == 1
    assert s[("market_btc_price", (("currency", "JPY"),))] == 10601000
    assert s[("market_source_btc_price", (("currency", "USD"), ("source", "coincap")))] == pytest.approx(23363.4297331051475688)
    # Captures from different years disagree wildly: that is visible.
    assert s[("market_btc_price_sources_disagree", (("currency", "USD"),))] == 1
    assert s[("market_btc_price_spread_ratio", (("currency", "USD"),))] > 0.5


def test_network_values_units_and_derived_series(market):
    _, url = market
    s = wait_for(url, everything_up)
    assert s[("market_network_height", ())] == 698767  # tip height, text/plain
    assert s[("market_network_difficulty", ())] == 31251101365711.12
    assert s[("market_network_hashrate_hashes_per_second", ())] == float(252033247355212300000)  # above 2^53
    assert s[("market_network_next_retarget_height", ())] == 838656
    assert s[("market_network_retarget_estimated_timestamp_seconds", ())] == pytest.approx(1712766704.114)  # from ms
    assert s[("market_network_difficulty_change_estimated_ratio", ())] == pytest.approx(0.05914788959658535)  # from %
    # reward-stats: 1,311,748,254 sats of fees over blocks 736556..736655 = 13,117,482.54 sats per block
    assert s[("market_network_fees_per_block_average_btc", ())] == pytest.approx(0.1311748254)
    assert s[("market_network_fee_rate_sat_per_vbyte", (("target", "fastest"),))] == 8
    # Subsidy from height 698,767: three halvings, 6.25 BTC; 141,233 blocks to the 4th halving.
    assert s[("market_network_block_subsidy_btc", ())] == 6.25
    assert s[("market_network_blocks_until_halving", ())] == 840_000 - 698_767
    # Hashprice by hand: 1e15 * 86400 * (6.25 + 0.1311748254) BTC / (31251101365711.12 * 2^32) = 4.10761e-3
    assert s[("market_hashprice_btc_per_petahash_day", ())] == pytest.approx(4.10761e-3, rel=1e-5)
    assert s[("market_hashprice_per_petahash_day", (("currency", "USD"),))] == pytest.approx(4.10761e-3 * 67187.3358936566, rel=1e-5)
    assert s[("market_network_value_source_info", (("metric", "market_network_height"), ("source", "mempool")))] == 1


def test_exposition_is_valid_and_documented(market):
    from tests.project.test_docs import documented, family_names

    _, url = market
    wait_for(url, everything_up)
    text = requests.get(url, timeout=5).text
    assert check_metrics(text.encode()) == ""
    emitted = {name for name in family_names(text) if name.startswith(("market_", "hashwatch_market_"))}
    assert emitted - set(documented()) == set()


def test_a_failing_source_falls_back_and_stale_values_keep_their_age(market):
    server, url = market
    before = wait_for(url, everything_up)
    try:
        server.route("/api/v3/simple/price", Reply.rate_limited(retry_after=1))
        after = wait_for(url, lambda f: f.get(("market_btc_price_source_info", (("currency", "USD"), ("source", "coincap")))) == 1)
        # Fresh CoinCap now, not a stale CoinGecko and never 0.
        assert after[("market_btc_price", (("currency", "USD"),))] == pytest.approx(23363.4297331051475688)
        assert after[("hashwatch_market_source_up", (("endpoint", "price"), ("source", "coingecko")))] == 0
        # Every price source down: the last good values stay, with the time they were fetched.
        for path in ("/v2/assets/bitcoin", "/api/v1/prices", "/ticker"):
            server.route(path, Reply(status=503))
        down = wait_for(url, lambda f: sum(v == 0 for (n, l), v in f.items() if n == "hashwatch_market_source_up" and ("endpoint", "price") in l) == 4)
        time.sleep(1.6)  # past max_age: every price is stale now
        stale = samples(requests.get(url, timeout=5).text)
        # The most recently fetched of the last good prices, from the source that says so.
        [source] = [dict(l)["source"] for (n, l), v in stale.items() if n == "market_btc_price_source_info" and ("currency", "USD") in l]
        last_good = stale[("market_source_btc_price", (("currency", "USD"), ("source", source)))]
        assert stale[("market_btc_price", (("currency", "USD"),))] == last_good > 0
        fetched = stale[("market_btc_price_fetched_timestamp_seconds", (("currency", "USD"),))]
        assert fetched == stale[("hashwatch_market_source_last_success_timestamp_seconds", (("endpoint", "price"), ("source", source)))]
        assert fetched == max(v for (n, l), v in stale.items() if n == "hashwatch_market_source_last_success_timestamp_seconds" and ("endpoint", "price") in l)
        assert time.time() - fetched > 1.5  # its age shows
        [eur_source] = [dict(l)["source"] for (n, l), v in stale.items() if n == "market_btc_price_source_info" and ("currency", "EUR") in l]
        assert stale[("market_btc_price", (("currency", "EUR"),))] == stale[("market_source_btc_price", (("currency", "EUR"), ("source", eur_source)))]
        # Disagreement needs fresh quotes: with none fresh it is not claimed either way.
        assert ("market_btc_price_sources_disagree", (("currency", "USD"),)) not in stale
        assert down[("hashwatch_market_source_requests_total", (("endpoint", "price"), ("result", "rate_limited"), ("source", "coingecko")))] >= 1
    finally:
        healthy(server)
    assert everything_up(wait_for(url, everything_up))
    assert before[("market_btc_price", (("currency", "USD"),))] == 67187.3358936566


def test_network_falls_back_to_blockchain_info(market):
    server, url = market
    wait_for(url, everything_up)
    try:
        for path in ("/api/blocks/tip/height", "/api/v1/difficulty-adjustment", "/api/v1/mining/hashrate/3d",
                     "/api/v1/mining/reward-stats/144", "/api/v1/mining/blocks/fees/24h", "/api/v1/mining/difficulty-adjustments/1m"):
            server.route(path, Reply(status=502, body="<html>bad gateway</html>"))
        s = wait_for(url, lambda f: f.get(("market_network_value_source_info", (("metric", "market_network_height"), ("source", "blockchain_info")))) == 1)
        time.sleep(1.6)
        s = samples(requests.get(url, timeout=5).text)
        # blockchain.info /stats: n_blocks_total 575644, hash_rate in GH/s, fees in sats under a _btc name.
        assert s[("market_network_height", ())] == 575644
        assert s[("market_network_hashrate_hashes_per_second", ())] == pytest.approx(44977500727.36728e9)
        assert s[("market_network_difficulty", ())] == 6702169884349
        assert s[("market_network_block_subsidy_btc", ())] == 12.5
    finally:
        healthy(server)


def node_config(server: ReplayServer, node) -> MarketConfig:
    """The user's node first, mempool.space on the replay server behind it; short intervals."""
    from tests.market.test_market_bitcoind import PASSWORD, USER

    return MarketConfig(
        currencies=["USD"],
        price_sources=[{"name": "mempool", "base_url": server.url, "ttl_seconds": 0.2}],
        network_sources=[{"name": "mempool", "base_url": server.url, "interval_seconds": 0.2}],
        bitcoind={"url": node.url, "user": USER, "password": PASSWORD, "interval_seconds": 0.2, "timeout_seconds": 1},
        max_age_seconds=1.0, max_backoff_seconds=1,
    )


def test_your_own_node_is_preferred_and_public_sources_take_over_when_it_stops():
    from tests.support.jsonrpc_server import JsonRpcServer
    from tests.market.test_market_bitcoind import CHAIN, METHODS, PASSWORD, USER

    with ReplayServer() as server, JsonRpcServer(METHODS, user=USER, password=PASSWORD) as node:
        healthy(server)
        config = node_config(server, node)
        app = AppThread(lambda: MarketExporter(config).app()).start()
        url = f"{app.url}/metrics"
        try:
            from_node = (("metric", "market_network_height"), ("source", "bitcoind"))
            s = wait_for(url, lambda f: f.get(("market_network_value_source_info", from_node)) == 1)
            assert s[("market_network_height", ())] == CHAIN["blocks"]
            assert s[("market_network_difficulty", ())] == CHAIN["difficulty"]
            assert s[("market_network_next_retarget_height", ())] == (CHAIN["blocks"] // 2016 + 1) * 2016
            # The node has no retarget estimate: it is extrapolated from the epoch's pace.
            assert ("market_network_difficulty_change_estimated_ratio", ()) in s
            assert s[("market_network_value_source_info", (("metric", "market_network_difficulty_change_estimated_ratio"), ("source", "bitcoind")))] == 1
            assert s[("market_network_block_subsidy_btc", ())] == 3.125  # height 924,321: four halvings
            node.unauthorized_next = 1000  # the node refuses us from now on
            public = (("metric", "market_network_height"), ("source", "mempool"))
            s = wait_for(url, lambda f: f.get(("market_network_value_source_info", public)) == 1)
            assert s[("market_network_height", ())] == 698767
            assert s[("hashwatch_market_source_up", (("endpoint", "rpc"), ("source", "bitcoind")))] == 0
        finally:
            app.stop()


def test_a_slow_source_times_out_and_is_counted(market):
    server, url = market
    wait_for(url, everything_up)
    key = ("hashwatch_market_source_requests_total", (("endpoint", "price"), ("result", "timeout"), ("source", "coincap")))
    try:
        server.route("/v2/assets/bitcoin", Reply.file(FIXTURES / "coincap_v2_assets_bitcoin.json", delay=1.0))
        s = wait_for(url, lambda f: f.get(key, 0) >= 1)
        assert s[key] >= 1
        assert s[("hashwatch_market_source_up", (("endpoint", "price"), ("source", "coincap")))] == 0
        # USD still comes from CoinGecko, untouched.
        assert s[("market_btc_price_source_info", (("currency", "USD"), ("source", "coingecko")))] == 1
    finally:
        healthy(server)


def test_fee_rate_targets_are_the_same_whichever_source_is_chosen():
    from exporters.market.model import FEE_TARGETS
    from tests.support.jsonrpc_server import JsonRpcServer
    from tests.market.test_market_bitcoind import FEE_REPLIES, METHODS, PASSWORD, USER

    # A node with fee history for every target, so it can name all five.
    estimates = {**FEE_REPLIES, 144: {"feerate": 0.00000500, "blocks": 144}}
    methods = {**METHODS, "estimatesmartfee": lambda params: estimates[params[0]]}
    with ReplayServer() as server, JsonRpcServer(methods, user=USER, password=PASSWORD) as node:
        healthy(server)
        config = node_config(server, node)
        app = AppThread(lambda: MarketExporter(config).app()).start()
        url = f"{app.url}/metrics"

        def fees_from(source):
            return lambda f: f.get(("market_network_value_source_info", (("metric", "market_network_fee_rate_sat_per_vbyte"), ("source", source)))) == 1

        def targets(found):
            return {dict(labels)["target"]: v for (name, labels), v in found.items() if name == "market_network_fee_rate_sat_per_vbyte"}

        try:
            from_node = targets(wait_for(url, fees_from("bitcoind")))
            node.unauthorized_next = 1000  # the node refuses us from now on: mempool.space takes over
            from_mempool = targets(wait_for(url, fees_from("mempool")))
        finally:
            app.stop()
    # One label set, whatever the source: a panel on target="economy" does not go blank on failover.
    assert set(from_node) == set(from_mempool) == set(FEE_TARGETS)
    assert from_node["fastest"] == 4.011 and from_node["minimum"] == 0.15  # estimatesmartfee(1), mempoolminfee
    assert from_mempool["fastest"] == 8 and from_mempool["minimum"] == 2
