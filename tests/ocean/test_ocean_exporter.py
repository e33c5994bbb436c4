"""`hashwatch ocean` end to end: the exporter polls a local replay of Ocean's API.

The responses here are simulator/captures/ocean's hand-built scenario (internally
consistent, values invented); tests/test_ocean_captures.py replays Ocean's real
replies where public captures exist (see SOURCES.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from exporters.cgminer.metrics import MinerSample, render
from exporters.cgminer.model import MinerStatus, Pool
from exporters.cgminer.scrape import ScrapeResult
from exporters.ocean import parse
from exporters.ocean.client import OceanClient
from exporters.ocean.config import OceanConfig
from exporters.ocean.metrics import PayoutCollector, PoolCollector
from exporters.ocean.parse import EarnPay, Payment
from exporters.ocean.server import OceanExporter
from tests.support.prom_text import samples
from tests.support.prom_text import wait_for_samples as wait_for
from tests.support.promtool import check_metrics
from tests.support.replay_server import Reply, ReplayServer
from tests.support.servers import AppThread
from tests.support.paths import OCEAN_CAPTURES

FIXTURES = OCEAN_CAPTURES
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def fixture(name: str) -> Reply:
    return Reply.file(FIXTURES / name)


def result_of(name: str):
    return json.loads((FIXTURES / name).read_text())["result"]


def healthy_routes(server: ReplayServer) -> None:
    server.route(f"/v1/user_hashrate/{ADDRESS}", fixture("user_hashrate_HANDBUILT.json"))
    server.route(f"/v1/userinfo_full/{ADDRESS}", fixture("userinfo_full_HANDBUILT.json"))
    server.route(f"/v1/user_hashrate_full/{ADDRESS}", fixture("user_hashrate_full_map_HANDBUILT.json"))
    server.route_prefix(f"/v1/earnpay/{ADDRESS}/", fixture("earnpay_HANDBUILT.json"))
    server.route("/v1/pool_stat", fixture("pool_stat_HANDBUILT.json"))
    server.route("/v1/pool_hashrate", fixture("pool_hashrate_HANDBUILT.json"))
    server.route("/v1/blocks/0/100/0", fixture("blocks_HANDBUILT.json"))


def ocean_config(server: ReplayServer, interval: float = 0.2, timeout: float = 0.5) -> OceanConfig:
    """The Ocean exporter on the replay server, every endpoint polled each `interval` seconds."""
    return OceanConfig(
        addresses=[ADDRESS], api_url=f"{server.url}/v1", timeout_seconds=timeout, max_backoff_seconds=1,
        intervals={name: interval for name in ("hashrate", "workers", "pool", "earnings", "blocks")},
    )


@contextlib.contextmanager
def serving_ocean(routes):
    """The Ocean exporter over a replay server set up by `routes(server)`: yields (server, /metrics URL)."""
    with ReplayServer() as server:
        routes(server)
        config = ocean_config(server)
        with AppThread(lambda: OceanExporter(config).app()) as app:
            yield server, f"{app.url}/metrics"


@pytest.fixture(scope="module")
def ocean():
    with serving_ocean(healthy_routes) as served:
        yield served


def all_up(found) -> bool:
    return sum(1 for (name, _), v in found.items() if name == "hashwatch_ocean_api_up" and v == 1) == 7


def test_every_endpoint_is_exported_in_base_units(ocean):
    server, url = ocean
    s = wait_for(url, all_up)
    assert all_up(s), sorted(k for k in s if k[0] == "hashwatch_ocean_api_up")
    user = (("address", ADDRESS),)
    rates = result_of("user_hashrate_HANDBUILT.json")
    assert s[("ocean_hashrate_hashes_per_second", user + (("window", "60s"),))] == 313291020697599
    assert s[("ocean_hashrate_hashes_per_second", user + (("window", "86400s"),))] == float(rates["hashrate_86400s"])
    assert s[("ocean_active_workers", user)] == 3
    assert s[("ocean_last_share_timestamp_seconds", user)] == 1763899999
    assert s[("ocean_unpaid_btc", user)] == 0.00035128
    assert s[("ocean_estimated_total_earnings_next_block_btc", user)] == 0.00035661
    assert s[("ocean_estimated_payout_next_block_btc", user)] == 0.00070789
    assert s[("ocean_shares_in_tides_window", user)] == 139671650570
    # Workers: names as miners write them after the dot of their pool user.
    full = result_of("user_hashrate_full_map_HANDBUILT.json")["workers"]
    worker = lambda name, window: s[("ocean_worker_hashrate_hashes_per_second", (("address", ADDRESS), ("window", window), ("worker", name)))]
    assert worker("s19-01", "60s") == float(full["s19-01"][0]["hashrate_60s"]) == 98733996690636
    assert worker("s19-02", "60s") == 0  # idle: Ocean says 0, and 0 it is
    assert worker("s19-02", "86400s") == 101100673596906
    assert s[("ocean_worker_last_share_timestamp_seconds", (("address", ADDRESS), ("worker", "s19-02")))] == 1763892794
    # Payout history: 250,000 sats paid in three payouts, the latest 35,039 sats.
    assert s[("ocean_paid_btc_total", user)] == 0.0025
    assert s[("ocean_earned_btc_total", user)] == 0.00176411
    assert s[("ocean_payouts_total", user)] == 3
    assert s[("ocean_last_payout_btc", user)] == 0.00035039
    assert s[("ocean_last_payout_timestamp_seconds", user)] == datetime(2025, 11, 20, 12, 42, 9, tzinfo=timezone.utc).timestamp()
    # The pool.
    assert s[("ocean_pool_hashrate_hashes_per_second", (("window", "60s"),))] == float(result_of("pool_hashrate_HANDBUILT.json")["pool_60s"])
    assert s[("ocean_pool_active_users", ())] == 1187 and s[("ocean_pool_active_workers", ())] == 5342
    assert s[("ocean_pool_network_difficulty", ())] == 152271405447597
    assert s[("ocean_pool_estimated_block_reward_btc", ())] == 3.14124519  # BTC, as Ocean sends it
    assert s[("ocean_pool_last_block_height", ())] == 923874
    assert s[("ocean_pool_last_block_timestamp_seconds", ())] == datetime(2025, 11, 22, 14, 3, 11, tzinfo=timezone.utc).timestamp()
    # The earnpay range is dated: from 2020-01-01 (earnings_since 0) to tomorrow, the form known to work.
    earnpay = [r.path for r in server.requests() if r.path.startswith("/v1/earnpay/")][-1]
    _, _, _, _, since, until = earnpay.split("/")
    today = datetime.now(timezone.utc).date()
    assert since == "2020-01-01" and until in {str(today + timedelta(days=1)), str(today)}  # `today` if midnight passed


def test_exposition_is_valid(ocean):
    _, url = ocean
    wait_for(url, all_up)
    assert check_metrics(requests.get(url, timeout=5).content) == ""


def test_when_ocean_fails_the_last_good_values_stay_with_their_age(ocean):
    server, url = ocean
    before = wait_for(url, all_up)
    user = (("address", ADDRESS),)
    key = ("hashwatch_ocean_api_last_success_timestamp_seconds", (("address", ADDRESS), ("endpoint", "user_hashrate")))
    failures = {
        f"/v1/user_hashrate/{ADDRESS}": Reply(status=502, body=(FIXTURES / "html_error_page_HANDBUILT.html").read_bytes()),
        f"/v1/userinfo_full/{ADDRESS}": fixture("error_http200_HANDBUILT.json"),
        f"/v1/user_hashrate_full/{ADDRESS}": fixture("malformed_truncated_HANDBUILT.json"),
        "/v1/pool_stat": fixture("unknown_shape_HANDBUILT.json"),
        "/v1/pool_hashrate": Reply.rate_limited(retry_after=1),
        "/v1/blocks/0/100/0": Reply(hang=True),
    }
    try:
        for path, reply in failures.items():
            server.route(path, reply)
        after = wait_for(
            url,
            lambda f: all(f.get(("hashwatch_ocean_api_up", (("address", a), ("endpoint", e)))) == 0 for e, a in (
                ("user_hashrate", ADDRESS), ("userinfo_full", ADDRESS), ("user_hashrate_full", ADDRESS),
                ("pool_stat", ""), ("pool_hashrate", ""), ("blocks", ""),
            )),
        )
        # Their age shows: the last success does not move while Ocean keeps failing.
        time.sleep(0.5)
        still = samples(requests.get(url, timeout=5).text)
    finally:
        healthy_routes(server)
    # Values are the last good ones, not zeros and not gone ...
    for name, labels in (
        ("ocean_hashrate_hashes_per_second", user + (("window", "60s"),)),
        ("ocean_unpaid_btc", user),
        ("ocean_pool_active_users", ()),
        ("ocean_pool_hashrate_hashes_per_second", (("window", "60s"),)),
        ("ocean_pool_last_block_height", ()),
        ("ocean_worker_hashrate_hashes_per_second", (("address", ADDRESS), ("window", "60s"), ("worker", "s19-01"))),
    ):
        assert after[(name, labels)] == before[(name, labels)], name
    # ... and their age shows: the last success stood still while failing.
    assert still[key] == after[key] <= time.time() - 0.5
    results = {labels: v for (name, labels), v in after.items() if name == "hashwatch_ocean_api_requests_total"}
    for endpoint, result in (
        ("user_hashrate", "server_error"), ("userinfo_full", "api_error"), ("user_hashrate_full", "malformed"),
        ("pool_stat", "unknown_shape"), ("pool_hashrate", "rate_limited"), ("blocks", "timeout"),
    ):
        assert results.get((("endpoint", endpoint), ("result", result)), 0) >= 1, (endpoint, result)
    assert after[("hashwatch_ocean_api_consecutive_failures", (("address", ADDRESS), ("endpoint", "user_hashrate")))] >= 1
    # Recovery: healthy routes again, every endpoint back up.
    assert all_up(wait_for(url, all_up))


def test_worker_label_joins_the_miners_pool_user():
    # The CGMiner exporter's miner_pool_up{worker} for a miner whose pool user is address.s19-01.
    status = MinerStatus(pools=[Pool("0", url="stratum+tcp://mine.ocean.xyz:3334", user=f"{ADDRESS}.s19-01", alive=True)])
    text = render([MinerSample((), ScrapeResult(status))], ()).decode()
    miner_side = {s.labels["worker"] for f in text_string_to_metric_families(text) for s in f.samples if s.name == "miner_pool_up"}
    pool_side = set(parse.parse_user_hashrate_full(result_of("user_hashrate_full_map_HANDBUILT.json")))
    assert miner_side == {"s19-01"} and miner_side <= pool_side


def test_both_worker_shapes_parse_the_same():
    as_map = parse.parse_user_hashrate_full(result_of("user_hashrate_full_map_HANDBUILT.json"))
    as_list = parse.parse_user_hashrate_full(result_of("user_hashrate_full_list_HANDBUILT.json"))
    assert as_map == as_list and set(as_map) == {"s19-01", "s19-02", "s21-01"}
    user = parse.parse_user_hashrate(result_of("user_hashrate_HANDBUILT.json"))
    # The hand-built user total is the exact sum of its workers, window by window.
    for window, total in user.hashrate.items():
        assert sum(w.hashrate[window] for w in as_map.values()) == total


def test_reconstructed_third_party_shapes():
    snap = parse.parse_statsnap(result_of("statsnap_RECONSTRUCTED.json"))
    assert (snap.hashrate, snap.unpaid, snap.estimated_payout_next_block) == ({"60s": 0.0, "300s": 2e12}, 0.001, 0.0002)
    assert snap.last_share_ts == 1700000000 and snap.shares_in_tides == 262144
    assert parse.parse_statsnap(result_of("statsnap_HANDBUILT.json")).unpaid == 0.00035128
    partial = parse.parse_user_hashrate(result_of("user_hashrate_PARTIAL_RECONSTRUCTED.json"))
    assert partial.hashrate == {"86400s": 1885800000000000.0, "10800s": 1850000000000000.0, "3600s": 1800000000000000.0}
    assert partial.active_workers is None  # not in that reply: absent, not 0
    stat = parse.parse_pool_stat(result_of("pool_stat_RECONSTRUCTED.json"))
    assert (stat.active_users, stat.active_workers, stat.network_difficulty) == (42, 100, 123)
    empty = parse.parse_earnpay(result_of("earnpay_empty_HANDBUILT.json"))
    assert (empty.paid_satoshis, empty.earned_satoshis, empty.last_payout()) == (0, 0, None)
    with pytest.raises(parse.ShapeError):
        parse.parse_user_hashrate(result_of("unknown_shape_HANDBUILT.json"))


@pytest.mark.parametrize(
    "body, kind",
    [("error_no_such_user.json", "api_error"), ("ping.txt", "malformed")],
)
def test_client_errors_from_recorded_bodies(body, kind):
    from exporters.ocean.client import OceanError

    with ReplayServer() as server:
        server.route("/v1/x", fixture(body))

        async def main():
            async with aiohttp.ClientSession() as session:
                await OceanClient(session, f"{server.url}/v1", 2).get("x")

        with pytest.raises(OceanError) as error:
            asyncio.run(main())
    assert error.value.kind == kind


class _FakePoller:
    def __init__(self, values):
        self.values = values

    def value(self, endpoint, address=""):
        return self.values.get(endpoint)


def test_paid_counter_never_goes_down_within_a_run(caplog):
    values = {"earnpay": EarnPay([], [Payment(1.7e9, 100_000), Payment(1.8e9, 50_000)])}
    collector = PayoutCollector(_FakePoller(values), [ADDRESS])
    paid = lambda: next(s.value for f in collector.collect() for s in f.samples if s.name == "ocean_paid_btc_total")
    assert paid() == 0.0015
    values["earnpay"] = EarnPay([], [Payment(1.8e9, 50_000)])  # Ocean returned a shorter history once
    assert paid() == 0.0015
    assert "went down" in caplog.text
    values["earnpay"] = EarnPay([], [Payment(1.7e9, 100_000), Payment(1.8e9, 50_000), Payment(1.9e9, 25_000)])
    assert paid() == 0.00175


def test_blocks_found_by_window():
    blocks = parse.parse_blocks(result_of("blocks_HANDBUILT.json"))
    newest = max(b.ts for b in blocks)
    collector = PoolCollector(_FakePoller({"blocks": blocks}), [ADDRESS], clock=lambda: newest + 3600)
    found = {s.labels["window"]: s.value for f in collector.collect() for s in f.samples if s.name == "ocean_pool_blocks_found"}
    # 2025-11-22 back to 2025-11-13: one within a day, all five within 30 days.
    assert found["1d"] == 1 and found["30d"] == 5 and 1 <= found["7d"] < 5
    reward = next(s.value for f in collector.collect() for s in f.samples if s.name == "ocean_pool_last_block_reward_btc")
    assert reward == int(result_of("blocks_HANDBUILT.json")["blocks"][0]["total_reward_sats"]) / 1e8


def test_every_ocean_metric_is_documented(ocean):
    from tests.project.test_docs import documented, family_names

    _, url = ocean
    wait_for(url, all_up)
    ours = ("ocean_", "hashwatch_ocean_")  # the pool's data, and what the exporter says about Ocean's API
    emitted = {name for name in family_names(requests.get(url, timeout=5).text) if name.startswith(ours)}
    assert len(emitted) >= 30
    assert emitted - set(documented()) == set()
    assert {name for name in documented() if name.startswith(ours)} - emitted == set()
