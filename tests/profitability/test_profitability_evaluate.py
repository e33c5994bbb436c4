"""One evaluation per miner, site and fleet: no profit from a zero, reasons for what is missing."""

import pytest

from profitability.evaluate import (
    Market, MinerInput, SiteSettings, curtail_for_cap, curtail_unprofitable, curtailment_order, evaluate_miner, totals,
)

MARKET = Market(difficulty=1.5e14, subsidy_sats=312_500_000, average_fees_sats=2_000_000, price=60_000, currency="USD",
                estimated_difficulty_change=0.05)
SITE = SiteSettings(rate_per_kwh=0.08, pue=1.1)
NOMINAL = {("Bitmain", "S19 Pro"): 3250.0, ("Bitmain", "S21"): 3500.0}
PRICES = {("Bitmain", "S21"): 4000.0}


def evaluate(miner, market=MARKET, site=SITE):
    return evaluate_miner(miner, market, site, 0.02, lambda make, model: NOMINAL.get((make, model)),
                          lambda make, model: PRICES.get((make, model)))


S19 = MinerInput("10.0.0.1:4028", "north", 110e12, 3250.0, "Bitmain", "S19 Pro")


def test_an_s19_pro_by_hand():
    r = evaluate(S19)
    assert r.btc_per_day == pytest.approx(4.546760e-5, rel=1e-6)
    assert r.revenue_per_day == pytest.approx(2.728056, rel=1e-6)
    assert r.power_cost_per_day == pytest.approx(6.864)
    assert r.profit_per_day == pytest.approx(2.728056 - 6.864, rel=1e-6)
    assert r.break_even_btc_price == pytest.approx(150_964.6, rel=1e-6)
    assert r.break_even_electricity_price == pytest.approx(0.0317955, rel=1e-5)
    assert r.break_even_hashprice == pytest.approx(63.673469, rel=1e-6)
    assert r.efficiency_j_per_th == pytest.approx(29.545454, rel=1e-6)
    # After a +5 % retarget the same hashrate mines 1/1.05 as much.
    assert r.btc_per_day_next_retarget == pytest.approx(4.546760e-5 / 1.05, rel=1e-6)
    assert r.payback_days is None and r.missing == [] and not r.power_estimated


def test_no_price_means_no_revenue_but_still_btc_and_cost():
    r = evaluate(S19, market=Market(1.5e14, 312_500_000, 2_000_000, None, "USD"))
    assert r.revenue_per_day is None and r.profit_per_day is None and r.break_even_btc_price is not None
    assert r.btc_per_day == pytest.approx(4.546760e-5, rel=1e-6)
    assert r.power_cost_per_day == pytest.approx(6.864)
    assert r.missing == ["price"]


def test_no_difficulty_means_no_revenue_and_no_zeroes():
    r = evaluate(S19, market=Market(None, 312_500_000, 2_000_000, 60_000, "USD"))
    assert (r.btc_per_day, r.revenue_per_day, r.profit_per_day, r.break_even_btc_price) == (None, None, None, None)
    assert r.power_cost_per_day == pytest.approx(6.864) and r.missing == ["network"]


def test_power_from_the_catalog_is_marked_estimated_and_unknown_models_get_no_cost():
    estimated = evaluate(MinerInput("m2", "north", 200e12, None, "Bitmain", "S21"))
    assert estimated.power_watts == 3500.0 and estimated.power_estimated
    assert estimated.power_cost_per_day == pytest.approx(3500 * 1.1 * 24 / 1000 * 0.08)
    unknown = evaluate(MinerInput("m3", "north", 100e12, None, "Acme", "X1"))
    assert unknown.power_watts is None and unknown.power_cost_per_day is None and unknown.profit_per_day is None
    assert "power" in unknown.missing and unknown.btc_per_day is not None


def test_a_firmware_estimate_is_used_as_reported_and_stays_estimated():
    # An S21 whose firmware estimates its draw at 3,250 W (miner_power_watts{estimated="true"},
    # stock S21 "chain_power": "3250 W"): that figure is the cost, not the catalog's 3,500 W,
    # and it is still an estimate.
    firmware = evaluate(MinerInput("m2", "north", 200e12, 3250.0, "Bitmain", "S21", power_estimated=True))
    assert firmware.power_watts == 3250.0 and firmware.power_estimated
    assert firmware.power_cost_per_day == pytest.approx(3250 * 1.1 * 24 / 1000 * 0.08)
    measured = evaluate(MinerInput("m2", "north", 200e12, 3250.0, "Bitmain", "S21"))
    assert measured.power_watts == 3250.0 and not measured.power_estimated


def test_no_electricity_price_at_this_hour():
    r = evaluate(S19, site=SiteSettings(rate_per_kwh=None))
    assert r.power_cost_per_day is None and r.profit_per_day is None and r.missing == ["electricity_price"]


def test_idle_miners_are_left_out():
    assert evaluate(MinerInput("m4", "north", 0.0, 3250.0, "Bitmain", "S19 Pro")) is None
    assert evaluate(MinerInput("m4", "north", None, 3250.0, "Bitmain", "S19 Pro")) is None


def test_payback_for_a_profitable_miner():
    cheap = evaluate(MinerInput("m5", "south", 200e12, 3500.0, "Bitmain", "S21"), site=SiteSettings(rate_per_kwh=0.02))
    # revenue: 200/110 of the S19's 2.728056 = 4.960102; cost: 3500 W * 24 h = 84 kWh * 0.02 = 1.68 USD
    assert cheap.profit_per_day == pytest.approx(4.960102 - 1.68, rel=1e-6)
    assert cheap.payback_days == pytest.approx(4000 / (4.960102 - 1.68), rel=1e-6)


def test_site_and_fleet_totals_do_not_hide_a_missing_value():
    a = evaluate(S19)
    b = evaluate(MinerInput("m6", "south", 200e12, 3500.0, "Bitmain", "S21"))
    c = evaluate(MinerInput("m7", "south", 100e12, None, "Acme", "X1"))  # no power: no cost
    sites, fleet = totals([a, b, c])
    assert fleet.miners == 3 and fleet.hashrate == 410e12
    assert fleet.btc_per_day == pytest.approx(a.btc_per_day + b.btc_per_day + c.btc_per_day)
    assert fleet.power_cost_per_day is None and fleet.profit_per_day is None and fleet.margin is None
    assert sites["north"].power_cost_per_day == pytest.approx(6.864)
    assert sites["north"].margin == pytest.approx(a.margin)
    assert sites["south"].power_watts is None


def test_curtailment_least_efficient_first():
    s19 = evaluate(S19)  # 29.5 J/TH, losing money
    # 17.5 J/TH; at 0.08/kWh and PUE 1.1 it loses money too (4.96 vs 7.39 USD a day), at 0.02 it earns.
    s21 = evaluate(MinerInput("m8", "north", 200e12, 3500.0, "Bitmain", "S21"), site=SiteSettings(rate_per_kwh=0.02))
    old = evaluate(MinerInput("m9", "north", 14e12, 1400.0, "Bitmain", "S9"))  # 100 J/TH
    assert [m.miner for m in curtailment_order([s19, s21, old])] == ["m9", "10.0.0.1:4028", "m8"]
    # 8,150 W in all; a 5,000 W cap: the S9 (1,400 W) is not enough, the S19 Pro too (3,250 W): 3,500 W left.
    assert [m.miner for m in curtail_for_cap([s19, s21, old], 5000)] == ["m9", "10.0.0.1:4028"]
    assert curtail_for_cap([s19, s21, old], 10_000) == []
    assert [m.miner for m in curtail_unprofitable([s19, s21, old])] == ["m9", "10.0.0.1:4028"]
