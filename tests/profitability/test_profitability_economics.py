"""Profitability math and electricity tariffs against hand-computed values."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from profitability import economics as e
from profitability.tariffs import Tariff

# An S19 Pro (110 TH/s, 3,250 W) at difficulty 1.5e14, 3.125 BTC subsidy + 0.02 BTC fees,
# a 2 % pool fee, BTC at 60,000 USD, 0.08 USD/kWh and a PUE of 1.1.
HASHRATE, WATTS, DIFFICULTY, SUBSIDY, FEES, POOL_FEE = 110e12, 3250, 1.5e14, 312_500_000, 2_000_000, 0.02


def test_the_s19_pro_by_hand():
    # gross: 110e12 * 86400 * 3.145 / (1.5e14 * 2^32) = 4.639551e-5 BTC; net of 2 %: 4.546760e-5
    btc = e.mined_btc_per_day(HASHRATE, DIFFICULTY, SUBSIDY, FEES, POOL_FEE)
    assert btc == pytest.approx(4.546760e-5, rel=1e-6)
    revenue = btc * 60_000  # 2.728056 USD
    assert revenue == pytest.approx(2.728056, rel=1e-6)
    cost = e.power_cost_per_day(WATTS, 0.08, pue=1.1)  # 3250 W * 1.1 * 24 h = 85.8 kWh * 0.08 = 6.864 USD
    assert cost == pytest.approx(6.864)
    assert e.energy_kwh_per_day(WATTS, 1.1) == pytest.approx(85.8)
    assert e.margin(revenue, cost) == pytest.approx((2.728056 - 6.864) / 2.728056, rel=1e-6)  # -151.6 %
    assert e.efficiency_j_per_th(WATTS, HASHRATE) == pytest.approx(29.545454, rel=1e-6)
    assert e.break_even_btc_price(cost, btc) == pytest.approx(150_964.6, rel=1e-6)  # 6.864 / 4.546760e-5
    assert e.break_even_electricity_price(revenue, WATTS, 1.1) == pytest.approx(0.0317955, rel=1e-5)  # 2.728056 / 85.8
    assert e.break_even_hashprice(cost, HASHRATE, POOL_FEE) == pytest.approx(63.673469, rel=1e-6)  # 6.864 / (0.11 * 0.98)
    assert e.payback_days(1500, revenue - cost) is None  # losing money: no payback
    assert e.payback_days(1500, 5.0) == 300


def test_answers_that_do_not_exist_are_none_not_numbers():
    assert e.margin(0, 5) is None
    assert e.efficiency_j_per_th(3250, 0) is None
    assert e.break_even_btc_price(5, 0) is None
    assert e.break_even_hashprice(5, 0) is None
    with pytest.raises(ValueError):
        e.mined_btc_per_day(HASHRATE, DIFFICULTY, SUBSIDY, FEES, pool_fee=1.5)
    with pytest.raises(ValueError):
        e.energy_kwh_per_day(WATTS, pue=0.9)


def at(text: str, zone: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def test_time_of_use_with_a_night_rate_across_midnight_and_weekend_peaks():
    tariff = Tariff(
        currency="eur", rate=0.20, timezone="Europe/Berlin", pue=1.05,
        periods=[
            {"hours": "22:00-06:00", "rate": 0.09},  # every night
            {"hours": "17:00-20:00", "weekdays": ["Mon", "tue", "wed", "thu", "fri"], "rate": 0.35},
        ],
    )
    assert tariff.currency == "EUR"
    assert tariff.rate_at(at("2026-11-23T23:30:00", "Europe/Berlin")) == 0.09  # Monday night
    assert tariff.rate_at(at("2026-11-24T05:59:00", "Europe/Berlin")) == 0.09  # Tuesday early morning
    assert tariff.rate_at(at("2026-11-24T06:00:00", "Europe/Berlin")) == 0.20  # the flat rate again
    assert tariff.rate_at(at("2026-11-24T18:00:00", "Europe/Berlin")) == 0.35  # weekday peak
    assert tariff.rate_at(at("2026-11-28T18:00:00", "Europe/Berlin")) == 0.20  # Saturday: no peak
    # The site's clock, not UTC: 16:30 UTC is 17:30 in Berlin in November.
    assert tariff.rate_at(datetime(2026, 11, 24, 16, 30, tzinfo=timezone.utc)) == 0.35


def test_a_schedule_without_flat_rate_has_gaps_and_says_so():
    tariff = Tariff(periods=[{"hours": "00:00-12:00", "rate": 0.1}])
    assert tariff.rate_at(at("2026-11-23T11:59:00")) == 0.1
    assert tariff.rate_at(at("2026-11-23T12:00:00")) is None  # no price: no cost computed from a zero
    assert Tariff(periods=[{"hours": "00:00-24:00", "rate": 0.1}]).rate_at(at("2026-11-23T23:59:59")) == 0.1


@pytest.mark.parametrize(
    "bad, message",
    [
        ({}, "give a flat `rate`"),
        ({"rate": 0.1, "currency": "EURO"}, "ISO 4217"),
        ({"rate": 0.1, "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"rate": 0.1, "pue": 0.8}, "greater than or equal to 1"),
        ({"periods": [{"hours": "25:00-06:00", "rate": 0.1}]}, "not a time of day"),
        ({"periods": [{"hours": "06:00-06:00", "rate": 0.1}]}, "empty"),
        ({"periods": [{"hours": "06:00-08:00", "weekdays": ["funday"], "rate": 0.1}]}, "weekdays"),
        ({"rate": -0.1}, "greater than or equal to 0"),
    ],
)
def test_bad_tariffs_say_why(bad, message):
    with pytest.raises(ValidationError, match=message):
        Tariff(**bad)
