"""Absurd upstream values are bad replies, never data (issue 10, "one bad upstream value breaks /metrics").

For each absurd input the issue lists (a 400-digit earnpay amount and tip
height, prices of 1e12 and 1e308, a difficulty of 5e-324, a height of 1e30, a
negative Ocean hashrate, a -500 BTC payout, a pool difficulty of 0): the parser
refuses it with ImplausibleValue, the poller counts it as `implausible` and
keeps the last good value, and /metrics keeps answering 200. Also: the Ocean
counters built from history are never pinned by one wrong reply, a slightly
negative unpaid balance is real (issue 11), rendering skips what is not a
finite number, and docs/metrics.md lists every range.
"""

from __future__ import annotations

import asyncio
import json
import math
import re

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from exporters.market import network, prices
from exporters.market.config import MarketConfig
from exporters.market.model import NetworkSnapshot
from exporters.market.server import MarketExporter
from exporters.ocean import parse
from exporters.ocean.metrics import HIGH_WATER_POLLS, PayoutCollector
from exporters.ocean.parse import EarnPay, Payment
from exporters.ocean.server import OceanExporter
from hashwatch.numbers import BTC, DIFFICULTY, HEIGHT, PLAUSIBLE_RANGES, Plausible, whole
from hashwatch.polled_exporter import FiniteOnly
from hashwatch.polling import Poller, PollJob
from hashwatch.shape import ImplausibleValue, ShapeError
from tests.support.prom_text import samples
from tests.support.prom_text import wait_for_samples as wait_for
from tests.support.replay_server import Reply, ReplayServer
from tests.support.servers import AppThread
from tests.market.test_market_exporter import healthy as healthy_market
from tests.ocean.test_ocean_exporter import ADDRESS, healthy_routes, ocean_config, result_of
from tests.support.paths import MARKET_CAPTURES, REPO

FOUR_HUNDRED_DIGITS = "1" + "0" * 399
DOCS = REPO / "docs" / "metrics.md"


def refused(call, *args, match: str = ""):
    """The ImplausibleValue call(*args) raises: a ShapeError the poller counts as `implausible`."""
    with pytest.raises(ImplausibleValue, match=match or None) as caught:
        call(*args)
    assert isinstance(caught.value, ShapeError) and caught.value.kind == "implausible"
    return caught.value


# --- the shared helper ------------------------------------------------------------------


def test_a_plausible_range_names_the_field_and_the_value():
    assert HEIGHT.whole("924321", "tip") == 924321 and HEIGHT.check(None, "tip") is None  # absent is not implausible
    assert HEIGHT.whole("soon", "tip") is None  # not a number: missing, as before
    message = str(refused(HEIGHT.whole, FOUR_HUNDRED_DIGITS, "mempool tip"))
    assert "mempool tip" in message and "'1000000000" in message and "400 characters" in message
    assert "block height (0 to 10,000,000 blocks)" in message
    assert "an integer of about 401 digits" in str(refused(BTC.number, 10**400, "amount"))
    assert "10^30" in str(refused(HEIGHT.number, 1e30, "height"))
    refused(DIFFICULTY.number, 5e-324, "difficulty")
    refused(BTC.number, "inf", "amount")
    refused(BTC.number, "1e400", "amount")
    # Thousands of digits: refused before int() reads them (CPython would raise ValueError past 4,300).
    refused(HEIGHT.whole, "9" * 5000, "height")
    assert whole("9" * 41) == math.inf and whole("9" * 40) == int("9" * 40) and whole("-" + "9" * 41) == -math.inf
    assert BTC.number("nan", "amount") is None  # not a number at all: missing


def test_a_range_is_declared_once():
    with pytest.raises(ValueError, match="two plausible ranges"):
        Plausible("block height", 0, 5, "blocks")


# --- Ocean parsers ----------------------------------------------------------------------


def earnpay(paid: object) -> dict:
    return {
        "earnings": [{"ts": "2025-11-20T10:00:00", "satoshis_net_earned": "1500"}],
        "payouts": [{"ts": "2025-11-21T00:00:00", "total_satoshis_net_paid": paid}],
    }


def test_ocean_earnpay_with_a_400_digit_amount_is_refused():
    refused(parse.parse_earnpay, earnpay(FOUR_HUNDRED_DIGITS), match="total_satoshis_net_paid")
    history = earnpay("100000")
    history["earnings"].append({"ts": "2025-11-21T10:00:00", "satoshis_net_earned": FOUR_HUNDRED_DIGITS})
    refused(parse.parse_earnpay, history, match="satoshis_net_earned")


def test_ocean_payout_of_minus_500_btc_is_refused():
    refused(parse.parse_earnpay, earnpay(-500 * 100_000_000), match="total_satoshis_net_paid")
    refused(parse.parse_earnpay, earnpay("-50000000000"))


def test_ocean_sums_beyond_the_supply_are_refused():
    # Each payout is plausible on its own (15 M BTC); together they are more than will ever exist.
    history = {"payouts": [{"ts": 1.7e9, "total_satoshis_net_paid": 15_000_000 * 10**8}] * 2}
    refused(parse.parse_earnpay, history, match="the sum of total_satoshis_net_paid")


def test_ocean_negative_hashrate_is_refused():
    refused(parse.parse_user_hashrate, {"hashrate_60s": "-1000000000000", "active_worker_count": 3}, match="hashrate_60s")
    refused(parse.parse_pool_hashrate, {"pool_60s": -1e18}, match="pool_60s")
    worker = {"workers": {"s19-01": {"hashrate_60s": "-5"}}}
    refused(parse.parse_user_hashrate_full, worker, match="s19-01")
    user = {"user_full": {"hashrate_300s": "-5"}, "workers": {}}
    refused(parse.parse_userinfo_full, user, match="user_full hashrate_300s")
    # 0 is a real idle worker, not a broken reply.
    assert parse.parse_user_hashrate({"hashrate_60s": "0"}).hashrate == {"60s": 0.0}


def test_ocean_pool_difficulty_of_zero_is_refused():
    refused(parse.parse_pool_stat, {"active_users": 5, "network_difficulty": 0}, match="network_difficulty")
    refused(parse.parse_pool_stat, {"network_difficulty": "1e40"})
    assert parse.parse_pool_stat({"network_difficulty": "152271405447597"}).network_difficulty == 152271405447597


def test_ocean_other_quantities_have_ranges():
    refused(parse.parse_blocks, {"blocks": [{"ts": 1.7e9, "height": 1e30, "total_reward_sats": 312500000}]})
    refused(parse.parse_blocks, {"blocks": [{"ts": 1.7e9, "height": 924000, "total_reward_sats": FOUR_HUNDRED_DIGITS}]})
    refused(parse.parse_blocks, {"blocks": [{"ts": FOUR_HUNDRED_DIGITS, "height": 924000}]}, match="blocks ts")
    refused(parse.parse_user_hashrate, {"hashrate_60s": "1", "lastest_share_ts": "9999999999"})  # the year 2286
    refused(parse.parse_user_hashrate, {"active_worker_count": -3})
    refused(parse.parse_statsnap, {"shares_in_tides": -1})
    refused(parse.parse_statsnap, {"estimated_payout_next_block": "1e12"}, match="estimated_payout_next_block")
    refused(parse.parse_pool_stat, {"max_tides_shares": 1e300})


# "-0.00000001" is the reading another client reported from Ocean (hashrate-autopilot
# #362: 679,776 -> -1 -> -1 -> 679,776 sat); no capture of the reply itself is public.
@pytest.mark.parametrize("unpaid", ["-0.00000001", "-0.00000012", -0.001, "-0.01"])
def test_ocean_slightly_negative_unpaid_is_real(unpaid):
    assert parse.parse_statsnap({"unpaid": unpaid}).unpaid == float(unpaid)


def test_ocean_slightly_negative_unpaid_is_exported_as_it_is():
    from exporters.ocean.metrics import TidesCollector

    info = parse.parse_userinfo_full({"user_full": {"unpaid": "-0.00000001"}, "workers": []})
    poller = type("P", (), {"value": lambda self, endpoint, address="": info if endpoint == "userinfo_full" else None})()
    exported = [s.value for f in TidesCollector(poller, [ADDRESS]).collect() for s in f.samples if s.name == "ocean_unpaid_btc"]
    assert exported == [-0.00000001]


@pytest.mark.parametrize("unpaid", [-0.5, -500, "1e9"])
def test_ocean_unpaid_far_out_of_range_is_refused(unpaid):
    refused(parse.parse_statsnap, {"unpaid": unpaid}, match="unpaid")


# --- market parsers ---------------------------------------------------------------------


def test_market_400_digit_tip_height_is_refused():
    refused(network.parse_mempool_tip_height, FOUR_HUNDRED_DIGITS.encode(), match="tip/height")
    refused(network.parse_mempool_tip_height, "9" * 5000)  # past CPython's int() limit: still a counted bad reply
    refused(network.parse_mempool_tip_height, "10000001")


@pytest.mark.parametrize("price", [1e12, 1e308, "1e12", 0.001])
def test_market_absurd_prices_are_refused_by_every_source(price):
    refused(prices.parse_coingecko, {"bitcoin": {"usd": price, "last_updated_at": 1711854906}}, ["USD"], match="USD price")
    refused(prices.parse_coincap, {"data": {"id": "bitcoin", "priceUsd": str(price)}}, ["USD"])
    refused(prices.parse_mempool, {"time": 1711854906, "USD": price, "EUR": 64823}, ["USD", "EUR"])
    refused(prices.parse_blockchain_info, {"USD": {"last": price}}, ["USD"])


def test_market_price_ranges_fit_every_currency_and_leave_others_unjudged():
    quote = prices.parse_coingecko({"bitcoin": {"xau": 30.5, "vnd": 2_900_000_000, "usd": 110_000}}, ["XAU", "VND", "USD"])
    assert quote.prices == {"XAU": 30.5, "VND": 2.9e9, "USD": 110_000.0}
    # Only requested currencies are data: an absurd one nobody asked for does not refuse the reply.
    assert prices.parse_mempool({"USD": 69880, "XYZ": 1e308}, ["USD"]).prices == {"USD": 69880.0}
    # mempool.space's -1 (no feed yet) stays "not quoted", not a broken reply.
    assert prices.parse_mempool({"USD": 69880, "EUR": -1}, ["USD", "EUR"]).prices == {"USD": 69880.0}


def test_market_difficulty_of_5e_324_is_refused():
    refused(network.parse_mempool_hashrate, {"currentHashrate": 8e20, "currentDifficulty": 5e-324}, match="difficulty")
    refused(network.parse_blockchain_info_stats, {"difficulty": 5e-324, "n_blocks_total": 575644})
    refused(network.parse_mempool_difficulty_adjustments, [[1703311464, 822528, 5e-324, 1.0]])
    # 0 from these sources means "not known": left out, as before.
    assert network.parse_mempool_hashrate({"currentHashrate": 0, "currentDifficulty": 0}).difficulty is None


def test_market_height_of_1e30_is_refused():
    refused(network.parse_blockchain_info_stats, {"n_blocks_total": 1e30, "difficulty": 6702169884349}, match="height")
    refused(network.parse_mempool_difficulty_adjustment, {"nextRetargetHeight": 1e30, "remainingBlocks": 1000})
    refused(network.parse_mempool_reward_stats, {"totalFee": "1000", "startBlock": 0, "endBlock": 1e30})


def test_market_other_quantities_have_ranges():
    refused(network.parse_mempool_hashrate, {"currentHashrate": FOUR_HUNDRED_DIGITS})
    refused(network.parse_blockchain_info_stats, {"hash_rate": 1e300})  # GH/s: overflows to inf, refused
    refused(network.parse_mempool_fees, {"fastestFee": 1e9, "hourFee": 3}, match="fee rate")
    early_doubling = {"difficultyChange": 500, "remainingBlocks": 10, "nextRetargetHeight": 840000}  # +500 %: over 4x
    refused(network.parse_mempool_difficulty_adjustment, early_doubling, match="estimated_difficulty_change")
    refused(network.parse_mempool_difficulty_adjustment, {"estimatedRetargetDate": 1e30, "remainingBlocks": 10})
    refused(network.parse_mempool_reward_stats, {"totalFee": FOUR_HUNDRED_DIGITS, "startBlock": 10, "endBlock": 20})
    refused(network.parse_blockchain_info_stats, {"total_fees_btc": FOUR_HUNDRED_DIGITS, "n_blocks_mined": 144})
    refused(network.parse_mempool_block_fees, [{"avgHeight": 10, "timestamp": 1.7e9, "avgFees": 1e30}])


def test_bitcoind_snapshot_refuses_absurd_values():
    from exporters.market.node import snapshot
    from tests.support.jsonrpc_server import JsonRpcServer
    from tests.market.test_market_bitcoind import CHAIN, METHODS, PASSWORD, USER, run

    def node_with(**chain):
        return JsonRpcServer(dict(METHODS, getblockchaininfo=dict(CHAIN, **chain)), user=USER, password=PASSWORD)

    with node_with(difficulty=5e-324) as node:
        refused(run, node, snapshot, match="bitcoind: difficulty")
    with node_with(blocks=10**19) as node:
        refused(run, node, snapshot, match="getblockchaininfo.blocks")
        assert node.batch_sizes == [8]  # refused before asking about blocks at an absurd height


# --- the poller -------------------------------------------------------------------------


def test_the_poller_counts_implausible_and_keeps_the_last_good_value(caplog):
    replies = iter([{"hashrate_60s": "5"}, {"hashrate_60s": "-5"}, {"hashrate_60s": "-6"}])

    async def fetch():
        return parse.parse_user_hashrate(next(replies))

    job = PollJob("user_hashrate", ADDRESS, 60, fetch)
    poller = Poller([job], max_backoff=600, label="ocean")

    async def main():
        return [await poller.poll_once(job) for _ in range(3)]

    good, *failed = asyncio.run(main())
    state = poller.state("user_hashrate", ADDRESS)
    assert state.value.hashrate == {"60s": 5.0} and state.up is False and state.failures == 2
    assert "hashrate_60s" in state.last_error
    assert poller.requests == {("user_hashrate", "success"): 1, ("user_hashrate", "implausible"): 2}
    assert sum("implausible value" in r.getMessage() for r in caplog.records) == 1  # logged once per job


# --- counters built from history --------------------------------------------------------


class FakePoller:
    def __init__(self, value):
        self.value_ = value

    def value(self, endpoint, address=""):
        return self.value_ if endpoint == "earnpay" else None


def paid_btc(collector: PayoutCollector) -> float | None:
    found = [s.value for f in collector.collect() for s in f.samples if s.name == "ocean_paid_btc_total"]
    return found[0] if found else None


def history(*sats: int) -> EarnPay:
    return EarnPay([], [Payment(1.7e9 + i, s) for i, s in enumerate(sats)])


def test_paid_total_recovers_at_the_next_good_poll_after_a_wrong_one():
    poller = FakePoller(history(100_000))
    collector = PayoutCollector(poller, [ADDRESS])
    assert paid_btc(collector) == 0.001
    poller.value_ = history(100_000, 20_000_000 * 10**8)  # plausible on its own, wrong: 20 M BTC
    assert paid_btc(collector) == 20_000_000.001
    assert paid_btc(collector) == 20_000_000.001  # scraped again: still one poll
    poller.value_ = history(100_000, 50_000)  # Ocean's next, right answer
    assert paid_btc(collector) == 0.0015  # not pinned: the spike was never confirmed
    poller.value_ = history(100_000, 50_000, 25_000)
    assert paid_btc(collector) == 0.00175


def test_paid_total_bridges_a_shorter_history_but_follows_one_that_persists(caplog):
    poller = FakePoller(history(100_000, 50_000))
    collector = PayoutCollector(poller, [ADDRESS])
    assert paid_btc(collector) == 0.0015
    for _ in range(HIGH_WATER_POLLS - 1):
        poller.value_ = history(50_000)  # a new poll each time, the same shorter history
        assert paid_btc(collector) == 0.0015  # held
    assert "went down" in caplog.text
    poller.value_ = history(50_000)
    assert paid_btc(collector) == 0.0005  # Ocean insists: its corrected history wins
    assert "following Ocean down" in caplog.text


def test_paid_total_cannot_be_poisoned_by_a_value_the_parser_would_refuse(caplog):
    poller = FakePoller(history(100_000))
    collector = PayoutCollector(poller, [ADDRESS])
    assert paid_btc(collector) == 0.001
    poller.value_ = history(10**400)  # as if it had got past the parser
    assert paid_btc(collector) == 0.001
    poller.value_ = history(100_000, 50_000)
    assert paid_btc(collector) == 0.0015
    assert "is not a plausible BTC amount" in caplog.text and "ignoring it" in caplog.text


# --- rendering never fails --------------------------------------------------------------


class Poisoned:
    def collect(self):
        gauge = GaugeMetricFamily("poisoned_values", "Values no parser would let in.", labels=["kind"])
        for kind, value in (("inf", math.inf), ("nan", math.nan), ("huge", 10**400), ("fine", 1.5)):
            gauge.add_metric([kind], value)
        yield gauge
        yield CounterMetricFamily("poisoned_before_raising", "Yielded before the collector fails.", value=3)
        raise OverflowError("int too large to convert to float")


class Healthy:
    def collect(self):
        yield GaugeMetricFamily("healthy_value", "A value.", value=7)


def test_finite_only_skips_what_is_not_a_finite_number_and_survives_a_failing_collector(caplog):
    bare = CollectorRegistry(auto_describe=False)
    bare.register(Poisoned())
    with pytest.raises(Exception):
        generate_latest(bare)  # what a scrape did before: a 500
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiniteOnly(Poisoned()))
    registry.register(FiniteOnly(Healthy()))
    found = samples(generate_latest(registry).decode())
    assert found[("poisoned_values", (("kind", "fine"),))] == 1.5
    assert not [key for key in found if key[0] == "poisoned_values" and key[1] != (("kind", "fine"),)]
    assert found[("poisoned_before_raising_total", ())] == 3 and found[("healthy_value", ())] == 7
    generate_latest(registry)
    assert sum("Poisoned failed" in r.getMessage() for r in caplog.records) == 1  # with its traceback, once


# --- end to end: the exporters keep answering -------------------------------------------


def status_and_samples(url: str) -> tuple[int, dict]:
    reply = requests.get(url, timeout=5)
    return reply.status_code, samples(reply.text) if reply.status_code == 200 else {}


def implausible_count(found: dict, name: str, **labels: str) -> float:
    return sum(
        value for (metric, keys), value in found.items()
        if metric == name and ("result", "implausible") in keys and all((k, v) in keys for k, v in labels.items())
    )


def ocean_result(name: str) -> dict:
    return {"result": result_of(name)}


@pytest.fixture(scope="module")
def ocean():
    with ReplayServer() as server:
        healthy_routes(server)
        config = ocean_config(server, interval=0.1)
        exporter = OceanExporter(config)
        with AppThread(lambda: exporter.app()) as app:
            yield server, f"{app.url}/metrics", exporter


def ocean_up(found) -> bool:
    return sum(1 for (name, _), v in found.items() if name == "hashwatch_ocean_api_up" and v == 1) == 7


def test_ocean_absurd_replies_keep_the_last_good_values_and_metrics_answer(ocean):
    server, url, _ = ocean
    before = wait_for(url, ocean_up)
    assert ocean_up(before)
    user = (("address", ADDRESS),)
    hashrate = ocean_result("user_hashrate_HANDBUILT.json")
    hashrate["result"]["hashrate_60s"] = "-313291020697599"
    pool_stat = ocean_result("pool_stat_HANDBUILT.json")
    pool_stat["result"]["network_difficulty"] = 0
    huge, negative = ocean_result("earnpay_HANDBUILT.json"), ocean_result("earnpay_HANDBUILT.json")
    huge["result"]["earnings"][0]["satoshis_net_earned"] = FOUR_HUNDRED_DIGITS
    negative["result"]["payouts"][0]["total_satoshis_net_paid"] = -500 * 10**8
    try:
        server.route(f"/v1/user_hashrate/{ADDRESS}", Reply.json(hashrate))
        server.route("/v1/pool_stat", Reply.json(pool_stat))
        for bad in (huge, negative):
            now = samples(requests.get(url, timeout=5).text)
            seen = implausible_count(now, "hashwatch_ocean_api_requests_total", endpoint="earnpay")
            server.route_prefix(f"/v1/earnpay/{ADDRESS}/", Reply.json(bad))
            after = wait_for(url, lambda f: implausible_count(f, "hashwatch_ocean_api_requests_total", endpoint="earnpay") > seen + 1
                             and implausible_count(f, "hashwatch_ocean_api_requests_total", endpoint="pool_stat") >= 1
                             and implausible_count(f, "hashwatch_ocean_api_requests_total", endpoint="user_hashrate") >= 1)
            status, during = status_and_samples(url)
            assert status == 200
            for found in (after, during):
                for name, labels in (
                    ("ocean_paid_btc_total", user), ("ocean_earned_btc_total", user),
                    ("ocean_hashrate_hashes_per_second", user + (("window", "60s"),)),
                    ("ocean_pool_network_difficulty", ()),
                ):
                    assert found[(name, labels)] == before[(name, labels)], name
            assert after[("hashwatch_ocean_api_up", (("address", ADDRESS), ("endpoint", "earnpay")))] == 0
    finally:
        healthy_routes(server)
    # Ocean recovers: the counters carry on from the good history, not pinned by what was refused.
    recovered = wait_for(url, ocean_up)
    assert ocean_up(recovered) and requests.get(url, timeout=5).status_code == 200
    assert recovered[("ocean_paid_btc_total", user)] == 0.0025
    assert recovered[("ocean_earned_btc_total", user)] == 0.00176411


def test_ocean_metrics_answer_whatever_got_into_the_cache(ocean):
    server, url, exporter = ocean
    wait_for(url, ocean_up)
    state = exporter.poller.state("pool_hashrate")
    good = state.value
    server.route("/v1/pool_hashrate", Reply(status=503))  # failing polls keep whatever is cached
    try:
        wait_for(url, lambda f: f.get(("hashwatch_ocean_api_up", (("address", ""), ("endpoint", "pool_hashrate")))) == 0)
        # As if a parser had let it through: the render guard still answers, without the value.
        state.value = {"60s": 10**400, "300s": math.inf, "600s": 2e18}
        status, found = status_and_samples(url)
    finally:
        state.value = good
        healthy_routes(server)
    assert status == 200
    windows = {
        dict(labels)["window"]: v for (name, labels), v in found.items() if name == "ocean_pool_hashrate_hashes_per_second"
    }
    assert windows == {"600s": 2e18}
    assert found[("ocean_paid_btc_total", (("address", ADDRESS),))] == 0.0025  # the rest of the scrape is there


@pytest.fixture(scope="module")
def market():
    with ReplayServer() as server:
        healthy_market(server)
        base = server.url
        config = MarketConfig(
            currencies=["USD", "EUR"],
            price_sources=[{"name": n, "base_url": base, "ttl_seconds": 0.1, "timeout_seconds": 0.5}
                           for n in ("coingecko", "mempool")],
            network_sources=[{"name": n, "base_url": base, "interval_seconds": 0.1, "timeout_seconds": 0.5}
                             for n in ("mempool", "blockchain_info")],
            max_age_seconds=30, max_backoff_seconds=1,
        )
        exporter = MarketExporter(config)
        with AppThread(lambda: exporter.app()) as app:
            yield server, f"{app.url}/metrics", exporter


def market_up(found) -> bool:
    ups = [v for (name, _), v in found.items() if name == "hashwatch_market_source_up"]
    return len(ups) == 10 and all(ups)


def fixture_json(name: str):
    return json.loads((MARKET_CAPTURES / name).read_text())


def source(name: str, endpoint: str) -> tuple:
    return (("endpoint", endpoint), ("source", name))


def test_market_absurd_replies_keep_the_last_good_values_and_metrics_answer(market):
    server, url, _ = market
    before = wait_for(url, market_up)
    assert market_up(before)
    coingecko = fixture_json("coingecko_simple_price_bitcoin_usd_all_flags_DOCS.json")
    coingecko["bitcoin"]["usd"] = 1e12
    mempool_prices = dict(fixture_json("mempool_v1_prices.json"), USD=1e308)
    hashrate = dict(fixture_json("mempool_v1_mining_hashrate_3d_DOCS.json"), currentDifficulty=5e-324)
    stats = dict(fixture_json("blockchain_info_api_stats_DOCS.json"), n_blocks_total=1e30)
    bad = {
        "/api/v3/simple/price": Reply.json(coingecko),
        "/api/v1/prices": Reply.json(mempool_prices),
        "/api/blocks/tip/height": Reply(body=FOUR_HUNDRED_DIGITS),
        "/api/v1/mining/hashrate/3d": Reply.json(hashrate),
        "/stats": Reply.json(stats),
    }
    refused_by = [("coingecko", "price"), ("mempool", "price"), ("mempool", "tip_height"), ("mempool", "hashrate"),
                  ("blockchain_info", "stats")]
    try:
        for path, reply in bad.items():
            server.route(path, reply)
        after = wait_for(url, lambda f: all(
            implausible_count(f, "hashwatch_market_source_requests_total", source=s, endpoint=e) >= 2 for s, e in refused_by
        ))
        status, during = status_and_samples(url)
    finally:
        healthy_market(server)
    assert status == 200
    for s, e in refused_by:
        assert implausible_count(after, "hashwatch_market_source_requests_total", source=s, endpoint=e) >= 2, (s, e)
        assert after[("hashwatch_market_source_up", source(s, e))] == 0
    for found in (after, during):
        # The last good values, from the same sources: never 1e12, 1e308, 5e-324 or 10^30.
        for name, labels in (
            ("market_btc_price", (("currency", "USD"),)),
            ("market_source_btc_price", (("currency", "USD"), ("source", "coingecko"))),
            ("market_source_btc_price", (("currency", "USD"), ("source", "mempool"))),
            ("market_network_height", ()),
            ("market_network_difficulty", ()),
            ("market_network_block_subsidy_btc", ()),
            ("market_hashprice_btc_per_petahash_day", ()),
        ):
            assert found[(name, labels)] == before[(name, labels)], name
        assert math.isfinite(found[("market_hashprice_btc_per_petahash_day", ())])
        assert found[("market_network_block_subsidy_btc", ())] == 6.25
    assert market_up(wait_for(url, market_up))


def test_market_metrics_answer_whatever_got_into_the_cache(market):
    server, url, exporter = market
    wait_for(url, market_up)
    state = exporter.poller.state("mempool/tip_height")
    good = state.value
    server.route("/api/blocks/tip/height", Reply(status=503))  # failing polls keep whatever is cached
    try:
        wait_for(url, lambda f: f.get(("hashwatch_market_source_up", source("mempool", "tip_height"))) == 0)
        state.value = NetworkSnapshot(source="mempool", height=10**400)  # as if a parser had let it through
        status, found = status_and_samples(url)
    finally:
        state.value = good
        healthy_market(server)
    assert status == 200
    assert found[("market_btc_price", (("currency", "USD"),))] > 0  # the other collectors are unharmed


# --- docs -------------------------------------------------------------------------------


def test_docs_list_every_plausible_range():
    # Every module that declares ranges is imported above; the table must match them all.
    section = DOCS.read_text().split("## Plausible ranges", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4 and not re.fullmatch(r"-+", cells[0]) and cells[0] != "quantity":
            rows[cells[0]] = cells[1]
    assert set(rows) == {quantity for quantity, _ in PLAUSIBLE_RANGES}
    for plausible in PLAUSIBLE_RANGES.values():
        assert plausible.describe() in rows[plausible.quantity], plausible
    for name in ("hashwatch_ocean_api_requests_total", "hashwatch_market_source_requests_total"):
        row = next(line for line in DOCS.read_text().splitlines() if line.startswith(f"| `{name}` "))
        assert "`implausible`" in row
