"""Consensus schedules and expected reward (hashwatch/consensus.py) against hand-computed values."""

import pytest

from hashwatch import consensus as e


@pytest.mark.parametrize(
    "height, sats",
    [
        (0, 5_000_000_000),
        (209_999, 5_000_000_000),
        (210_000, 2_500_000_000),
        (420_000, 1_250_000_000),
        (630_000, 625_000_000),
        (839_999, 625_000_000),
        (840_000, 312_500_000),  # April 2024: 3.125 BTC
        (1_050_000, 156_250_000),  # 2028: 1.5625 BTC
        (32 * 210_000, 1),  # 5e9 >> 32 = 1 sat
        (33 * 210_000, 0),  # 5e9 / 2^33 < 1
        (64 * 210_000, 0),
        (100 * 210_000, 0),
    ],
)
def test_block_subsidy_follows_the_halving_schedule(height, sats):
    assert e.block_subsidy_sats(height) == sats


def test_negative_height_is_an_error():
    with pytest.raises(ValueError):
        e.block_subsidy_sats(-1)


def test_retarget_and_halving_heights():
    assert e.next_retarget_height(838_655) == 838_656  # mempool fixture: nextRetargetHeight 838656
    assert e.next_retarget_height(838_656) == 840_672
    assert e.epoch_start_height(838_655) == 836_640
    assert e.next_halving_height(839_999) == 840_000 and e.next_halving_height(840_000) == 1_050_000


def test_expected_btc_per_day_by_hand():
    # 110 TH/s at difficulty 1.5e14 with 3.125 BTC subsidy + 0.02 BTC fees:
    # blocks/day = 110e12 * 86400 / (1.5e14 * 4294967296) = 9.504e18 / 6.442450944e23 = 1.475215e-5
    # BTC/day = 1.475215e-5 * 3.145 = 4.639551e-5
    btc = e.expected_btc_per_day(110e12, 1.5e14, 314_500_000)
    assert btc == pytest.approx(4.639551e-5, rel=1e-6)


def test_hashprice_by_hand():
    # 1 PH/s: 1e15 * 86400 / (1.5e14 * 2^32) = 8.64e19 / 6.442450944e23 = 1.341104e-4 blocks/day
    # x 3.145 BTC = 4.217772e-4 BTC per PH/s per day
    assert e.hashprice_btc(1.5e14, 312_500_000, 2_000_000) == pytest.approx(4.217772e-4, rel=1e-6)
    with pytest.raises(ValueError):
        e.hashprice_btc(0, 312_500_000, 0)


def test_retarget_estimate_from_the_epochs_pace():
    start = 1_700_000_000.0
    # 1,008 blocks into the epoch in 1,008 x 540 s: 10% fast.
    change, eta = e.estimate_retarget(836_640 + 1008, start, start + 1008 * 540)
    assert change == pytest.approx(600 / 540 - 1)  # +11.1 %
    assert eta == pytest.approx(start + 2016 * 540)
    # Far too slow: the consensus limit of a quarter.
    change, _ = e.estimate_retarget(836_640 + 10, start, start + 10 * 6000)
    assert change == pytest.approx(-0.75)
    assert e.estimate_retarget(836_640, start, start + 100) is None  # nothing mined yet in this epoch
