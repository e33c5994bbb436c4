"""The whole chain: simulated miners -> CGMiner exporter (fleet) and replayed market sources ->
market exporter -> a real Prometheus -> the profitability exporter reading it back."""

from __future__ import annotations

import time

import pytest

from exporters.market.config import MarketConfig
from exporters.market.server import MarketExporter
from profitability.catalog import load_catalog
from profitability.config import ProfitabilityConfig
from profitability.server import ProfitabilityExporter
from tests.support.prom_text import wait_for_samples
from tests.support.replay_server import ReplayServer
from tests.support.servers import AppThread
from tests.support.influx_servers import influxdb_v1  # noqa: F401 - session fixture
from tests.market.test_market_exporter import healthy
from tests.ocean.test_ocean_exporter import ADDRESS
from tests.ocean.test_ocean_exporter import healthy_routes as ocean_routes
from exporters.ocean.config import OceanConfig
from exporters.ocean.server import OceanExporter


@pytest.fixture(scope="module")
def stack(exporter, influxdb_v1, tmp_path_factory):  # noqa: F811
    from tests.support.prometheus_server import PrometheusServer

    with ReplayServer() as sources, ReplayServer() as ocean_api:
        healthy(sources)
        ocean_routes(ocean_api)
        ocean_config = OceanConfig(addresses=[ADDRESS], api_url=f"{ocean_api.url}/v1",
                                   intervals={"hashrate": 0.5, "workers": 0.5, "pool": 0.5, "earnings": 0.5, "blocks": 0.5})
        ocean = AppThread(lambda: OceanExporter(ocean_config).app()).start()
        market_config = MarketConfig(
            currencies=["USD"],
            price_sources=[{"name": "coingecko", "base_url": sources.url, "ttl_seconds": 0.5}],
            network_sources=[{"name": "mempool", "base_url": sources.url, "interval_seconds": 0.5}],
        )
        market = AppThread(lambda: MarketExporter(market_config).app()).start()
        prometheus = PrometheusServer(
            tmp_path_factory.mktemp("prometheus-profitability"),
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "fleet", "static_configs": [{"targets": [exporter.url.removeprefix("http://")]}]},
                    {"job_name": "market", "static_configs": [{"targets": [market.url.removeprefix("http://")]}]},
                    {"job_name": "ocean", "static_configs": [{"targets": [ocean.url.removeprefix("http://")]}]},
                ],
            },
        )
        config = ProfitabilityConfig(
            prometheus_url=prometheus.url, interval_seconds=0.5, currency="USD", pool_fee=0.02,
            tariff={"rate": 0.08, "pue": 1.1}, max_input_age_seconds=3600,
            ledger={"api": "v1", "url": influxdb_v1.url, "database": "hashwatch", "interval_seconds": 1,
                    "spool_dir": str(tmp_path_factory.mktemp("ledger-spool"))},
        )
        influxdb_v1.create_database("hashwatch")
        profitability = AppThread(lambda: ProfitabilityExporter(config, load_catalog()).app()).start()
        try:
            yield prometheus, f"{profitability.url}/metrics", market
        finally:
            profitability.stop()
            prometheus.stop()
            market.stop()
            ocean.stop()


def test_fleet_economics_from_prometheus(stack):
    prometheus, url, _ = stack
    prometheus.wait_for("market_hashprice_btc_per_petahash_day", lambda r: len(r) == 1)
    prometheus.wait_for('count(miner_hashrate_hashes_per_second{job="fleet"})', lambda r: r and float(r[0]["value"][1]) >= 10)
    s = wait_for_samples(
        url,
        lambda f: f.get(("profitability_fleet_miners", ()), 0) >= 10 and ("profitability_fleet_btc_per_day", ()) in f,
        seconds=20,
    )
    miners = s[("profitability_fleet_miners", ())]
    hashing = float(prometheus.query("count(miner_hashrate_hashes_per_second > 0)")[0]["value"][1])
    assert miners == hashing
    # The same formula from the same series, queried independently: hashrate x 86400 x reward / (difficulty x 2^32).
    hashrate = float(prometheus.query("sum(miner_hashrate_hashes_per_second)")[0]["value"][1])
    difficulty = float(prometheus.query("market_network_difficulty")[0]["value"][1])
    reward = sum(float(prometheus.query(q)[0]["value"][1]) for q in (
        "market_network_block_subsidy_btc", "market_network_fees_per_block_average_btc"))
    expected = hashrate * 86400 * reward / (difficulty * 2**32) * 0.98
    assert s[("profitability_fleet_btc_per_day", ())] == pytest.approx(expected, rel=0.05)  # hashrates move ±2 % a scrape
    price = float(prometheus.query('market_btc_price{currency="USD"}')[0]["value"][1])
    assert s[("profitability_fleet_revenue_per_day", (("currency", "USD"),))] == pytest.approx(expected * price, rel=0.05)
    assert s[("hashwatch_profitability_inputs_up", ())] == 1
    # Every simulated miner is in site "lab" (the file_sd label), with its cost from its power.
    assert s[("profitability_site_miners", (("site", "lab"),))] == miners
    assert s[("profitability_electricity_price_per_kwh", (("currency", "USD"), ("site", "lab")))] == 0.08
    # Ocean's view of the same operator (the hand-built account: 411.04 TH/s over 24 h) against the fleet's.
    s = wait_for_samples(url, lambda f: ("profitability_ocean_hashrate_ratio", ()) in f, seconds=20)
    fleet_hashrate = s[("profitability_fleet_hashrate_hashes_per_second", ())]
    assert s[("profitability_ocean_hashrate_ratio", ())] == pytest.approx(411044673604909 / fleet_hashrate)


def test_the_ledger_keeps_fleet_and_site_economics_in_influxdb(stack, influxdb_v1):  # noqa: F811
    prometheus, url, _ = stack
    deadline = time.monotonic() + 30
    fleet = []
    while time.monotonic() < deadline and not any(row.get("revenue_per_day") for row in fleet):
        time.sleep(0.5)
        fleet = influxdb_v1.rows("fleet_economics", "hashwatch")
    fleet = [row for row in fleet if row.get("revenue_per_day")]
    assert fleet and fleet[-1]["currency"] == "USD" and fleet[-1]["miners"] >= 10
    assert all(row["miners"] > 0 for row in influxdb_v1.rows("fleet_economics", "hashwatch"))  # never a row of zeros
    assert fleet[-1]["btc_per_day"] > 0 and fleet[-1]["revenue_per_day"] > 0
    sites = influxdb_v1.rows("site_economics", "hashwatch")
    assert {row["site"] for row in sites} == {"lab"}
    market = influxdb_v1.rows("market_inputs", "hashwatch")
    assert market[-1]["btc_price"] == 67187.3358936566


def test_when_the_market_exporter_stops_revenue_goes_and_the_reason_shows(stack):
    prometheus, url, market = stack  # the last test of the module: it stops the market exporter
    wait_for_samples(url, lambda f: ("profitability_fleet_revenue_per_day", (("currency", "USD"),)) in f, seconds=20)
    market.stop()
    # A failed scrape marks the target's series stale: they vanish from queries at once.
    prometheus.wait_for("market_btc_price", lambda r: r == [])
    s = wait_for_samples(url, lambda f: f.get(("profitability_missing_input", (("input", "price"),)), 0) > 0, seconds=20)
    miners = s[("profitability_fleet_miners", ())]
    assert s[("profitability_missing_input", (("input", "price"),))] == miners
    assert s[("profitability_missing_input", (("input", "network"),))] == miners
    assert not any(name in ("profitability_fleet_revenue_per_day", "profitability_fleet_btc_per_day") for name, _ in s)
    # Cost needs no market: it stays.
    assert ("profitability_fleet_power_cost_per_day", (("currency", "USD"),)) in s or s[("profitability_missing_input", (("input", "power"),))] > 0
