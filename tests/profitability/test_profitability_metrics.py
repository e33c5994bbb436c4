"""The profitability collector on hand-built inputs: values, currencies, staleness, reasons."""

import pytest

from hashwatch.polling import Poller, PollJob
from profitability.catalog import load_catalog
from profitability.config import ProfitabilityConfig
from profitability.evaluate import MinerInput
from profitability.inputs import Inputs
from profitability.metrics import INPUTS_JOB, ProfitabilityCollector
from tests.support.prom_text import samples
from prometheus_client import CollectorRegistry, generate_latest
from tests.support.paths import REPO

NOW = 1_763_900_000.0  # 2025-11-23T12:13:20Z, a Sunday
CATALOG = load_catalog()  # the packaged catalog: an S21 is 200 TH/s at 3,500 W


async def _never():
    raise AssertionError("not polled in these tests")


def collector_for(inputs: Inputs, **config) -> tuple[ProfitabilityCollector, dict]:
    settings = ProfitabilityConfig(**config)
    poller = Poller([PollJob(INPUTS_JOB, "", 60, _never)], 600, "profitability", clock=lambda: NOW)
    state = poller.state(INPUTS_JOB)
    state.value, state.up, state.last_success = inputs, True, NOW
    collector = ProfitabilityCollector(poller, settings, CATALOG, clock=lambda: NOW)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return collector, samples(generate_latest(registry).decode())


def inputs(**overrides) -> Inputs:
    values = dict(
        read_at=NOW - 10,
        miners=[
            MinerInput("10.0.0.1:4028", "north", 110e12, 3250.0, "Bitmain", "S19 Pro"),
            MinerInput("10.0.1.1:4028", "south", 200e12, None, "Bitmain", "S21"),
        ],
        difficulty=1.5e14, subsidy_btc=3.125, fees_btc=0.02, difficulty_change=0.05, network_fetched=NOW - 60,
        prices={"USD": 60_000.0, "EUR": 50_000.0}, price_fetched={"USD": NOW - 30, "EUR": NOW - 30},
    )
    values.update(overrides)
    return Inputs(**values)


CONFIG = dict(
    currency="USD", pool_fee=0.02, tariff={"rate": 0.08, "pue": 1.1},
    sites={"south": {"tariff": {"rate": 0.04, "currency": "EUR"}, "power_cap_watts": 3000}},
    hardware=[{"model": "S21", "price": 4000}],
)


def test_per_miner_site_and_fleet_series():
    _, s = collector_for(inputs(), **CONFIG)
    north = (("miner", "10.0.0.1:4028"), ("site", "north"))
    usd = (("currency", "USD"),)
    assert s[("profitability_miner_revenue_per_day", (("currency", "USD"), *north))] == pytest.approx(2.728056, rel=1e-6)
    assert s[("profitability_miner_power_cost_per_day", (("currency", "USD"), *north))] == pytest.approx(6.864)
    assert s[("profitability_miner_btc_per_day_next_retarget", north)] == pytest.approx(4.546760e-5 / 1.05, rel=1e-6)
    # South's tariff is 0.04 EUR/kWh: 0.04 * 60,000 / 50,000 = 0.048 USD/kWh; the S21's power is the catalog's.
    south = (("miner", "10.0.1.1:4028"), ("site", "south"))
    assert s[("profitability_electricity_price_per_kwh", (("currency", "USD"), ("site", "south")))] == pytest.approx(0.048)
    assert s[("profitability_miner_power_watts", (("estimated", "true"), *south))] == 3500
    assert s[("profitability_miner_power_cost_per_day", (("currency", "USD"), *south))] == pytest.approx(3500 * 24 / 1000 * 0.048)  # 4.032
    revenue_s21 = 2.728056 * 200 / 110
    profit_s21 = revenue_s21 - 4.032  # 4.960102 - 4.032 = 0.928 USD a day
    assert s[("profitability_miner_profit_per_day", (("currency", "USD"), *south))] == pytest.approx(profit_s21, rel=1e-6)
    assert s[("profitability_miner_payback_days", south)] == pytest.approx(4000 / profit_s21, rel=1e-6)
    assert s[("profitability_fleet_power_cost_per_day", usd)] == pytest.approx(6.864 + 4.032)
    assert s[("profitability_site_miners", (("site", "south"),))] == 1
    assert s[("profitability_fleet_hashrate_hashes_per_second", ())] == 310e12
    # Advice: the S19 Pro loses money; the S21 (3,500 W) is over south's 3,000 W cap.
    assert s[("profitability_curtail_advised", (("miner", "10.0.0.1:4028"), ("reason", "unprofitable"), ("site", "north")))] == 1
    assert s[("profitability_curtail_advised", (("miner", "10.0.1.1:4028"), ("reason", "power_cap"), ("site", "south")))] == 1
    assert s[("profitability_missing_input", (("input", "price"),))] == 0
    assert s[("profitability_miner_curtail_rank", north)] == 1 and s[("profitability_miner_curtail_rank", south)] == 1  # one per site


def test_power_the_firmware_estimates_is_exported_as_estimated():
    # Both report 3,250 W; the S21's is its firmware's own estimate (miner_power_watts{estimated="true"}).
    miners = [
        MinerInput("10.0.0.1:4028", "north", 110e12, 3250.0, "Bitmain", "S19 Pro"),
        MinerInput("10.0.2.1:4028", "north", 200e12, 3250.0, "Bitmain", "S21", power_estimated=True),
    ]
    _, s = collector_for(inputs(miners=miners), **CONFIG)
    power = {labels: value for (name, labels), value in s.items() if name == "profitability_miner_power_watts"}
    assert power == {
        (("estimated", "false"), ("miner", "10.0.0.1:4028"), ("site", "north")): 3250,
        (("estimated", "true"), ("miner", "10.0.2.1:4028"), ("site", "north")): 3250,
    }


def test_a_stale_price_removes_revenue_and_says_why():
    _, s = collector_for(inputs(price_fetched={"USD": NOW - 3600, "EUR": NOW - 3600}), **CONFIG)
    assert not any(name == "profitability_miner_revenue_per_day" for name, _ in s)
    assert not any(name == "profitability_fleet_profit_per_day" for name, _ in s)
    assert s[("profitability_missing_input", (("input", "price"),))] == 2
    # South's EUR tariff cannot be converted without fresh prices either.
    assert s[("profitability_missing_input", (("input", "exchange_rate"),))] == 1
    north = (("miner", "10.0.0.1:4028"), ("site", "north"))
    assert s[("profitability_miner_btc_per_day", north)] == pytest.approx(4.546760e-5, rel=1e-6)


def test_stale_network_data_removes_everything_mined():
    _, s = collector_for(inputs(network_fetched=NOW - 3600), **CONFIG)
    assert not any(name.startswith(("profitability_miner_btc_per_day", "profitability_miner_revenue")) for name, _ in s)
    assert s[("profitability_missing_input", (("input", "network"),))] == 2


def test_old_inputs_export_nothing_but_their_age():
    _, s = collector_for(inputs(read_at=NOW - 3600), **CONFIG)
    assert {name for name, _ in s} == {"hashwatch_profitability_inputs_up"}


def test_no_tariff_means_no_cost():
    _, s = collector_for(inputs(), currency="USD")
    assert not any(name == "profitability_miner_power_cost_per_day" for name, _ in s)
    assert s[("profitability_missing_input", (("input", "electricity_price"),))] == 2


def test_every_profitability_metric_is_documented():
    import re

    doc = (REPO / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"`((?:hashwatch_)?profitability_[a-z_]+)`", doc))
    _, s = collector_for(inputs(), **CONFIG)
    emitted = {name for name, _ in s}
    assert emitted - documented == set()


def test_the_calculator_prices_every_catalog_model_at_the_default_tariff():
    _, s = collector_for(inputs(), **CONFIG)
    calculator = {dict(labels)["model"]: v for (name, labels), v in s.items() if name == "profitability_model_profit_per_day"}
    assert len(calculator) == len(CATALOG.models) >= 20
    # An S21 at 0.08 USD/kWh and PUE 1.1: 4.960102 USD revenue, 3500 W * 1.1 * 24 h * 0.08 = 7.392 USD.
    assert calculator["S21"] == pytest.approx(2.728056 * 200 / 110 - 7.392, rel=1e-6)
    # More efficient models earn more per TH/s.
    assert calculator["S21 XP"] > calculator["S19"]


def test_site_and_fleet_money_in_every_priced_currency_and_the_retarget_scenario():
    _, s = collector_for(inputs(), **CONFIG)
    usd = s[("profitability_fleet_power_cost_per_day", (("currency", "USD"),))]
    # EUR through BTC: 1 USD = 50,000 / 60,000 EUR.
    assert s[("profitability_fleet_power_cost_per_day", (("currency", "EUR"),))] == pytest.approx(usd * 50_000 / 60_000)
    north = (("currency", "USD"), ("miner", "10.0.0.1:4028"), ("site", "north"))
    # +5 % difficulty: 4.546760e-5 / 1.05 BTC * 60,000 - 6.864 USD
    assert s[("profitability_miner_profit_per_day_next_retarget", north)] == pytest.approx(4.546760e-5 / 1.05 * 60_000 - 6.864, rel=1e-6)
    assert ("profitability_fleet_profit_per_day_next_retarget", (("currency", "EUR"),)) in s


def test_ocean_reality_check():
    # The fleet reports 310 TH/s; Ocean saw 294.5 TH/s over 24 h and credited 95 % of what 310 TH/s should earn.
    fleet_btc = 4.546760e-5 * 310 / 110
    _, s = collector_for(inputs(ocean_hashrate=294.5e12, ocean_earned_per_day=fleet_btc * 0.95), **CONFIG)
    assert s[("profitability_ocean_hashrate_ratio", ())] == pytest.approx(0.95)
    assert s[("profitability_ocean_earnings_ratio", ())] == pytest.approx(0.95, rel=1e-6)
    _, s = collector_for(inputs(), **CONFIG)  # no Ocean exporter in Prometheus: no ratio, not a 0
    assert ("profitability_ocean_hashrate_ratio", ()) not in s and ("profitability_ocean_earnings_ratio", ()) not in s
