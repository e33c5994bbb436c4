"""Ocean result parsers: strings as numbers, both worker shapes, unknown shapes refused."""

from datetime import datetime, timezone

import pytest

from exporters.ocean import parse
from exporters.ocean.parse import ShapeError


@pytest.mark.parametrize(
    "value, expected",
    [("123", 123.0), (5, 5.0), (" 2000000000000 ", 2e12), ("1.2E+13", 1.2e13), ("18446744073709551615", 1.8446744073709552e19)],
)
def test_numbers_from_numbers_and_strings(value, expected):
    assert parse.number(value) == expected


@pytest.mark.parametrize("value", [None, "", "  ", "abc", True, "nan", "inf", [], {}])
def test_not_a_number_is_none_never_zero(value):
    assert parse.number(value) is None


def test_satoshis_exact_and_whole_only():
    assert parse.satoshis("312500000") == 312500000
    assert parse.satoshis("2100000000000001") == 2100000000000001  # beyond float precision, still exact
    assert parse.satoshis(7.0) == 7
    assert parse.satoshis("1.5") is None and parse.satoshis(None) is None


def test_timestamps_unix_iso_and_milliseconds():
    assert parse.timestamp("1700000000") == 1700000000.0
    assert parse.timestamp("2025-11-22T14:03:11") == datetime(2025, 11, 22, 14, 3, 11, tzinfo=timezone.utc).timestamp()
    assert parse.timestamp("2025-11-22T14:03:11Z") == parse.timestamp("2025-11-22T14:03:11")
    assert parse.timestamp(1700000000123) == pytest.approx(1700000000.123)
    assert parse.timestamp("0") is None and parse.timestamp("soon") is None


def test_user_hashrate_windows_and_active_workers():
    parsed = parse.parse_user_hashrate(
        {"snap_ts": "1700000000", "hashrate_60s": "0", "hashrate_86400s": "1885800000000000", "hashrate_x": "9",
         "active_worker_count": 3, "lastest_share_ts": "1699999990"}
    )
    assert parsed.hashrate == {"60s": 0.0, "86400s": 1885800000000000.0}  # 0 reported is 0; hashrate_x ignored
    assert parsed.active_workers == 3 and parsed.last_share_ts == 1699999990


@pytest.mark.parametrize("result", ["maintenance", [1, 2, 3], {"status": "ok"}, None])
def test_unknown_shapes_are_refused_not_zeroed(result):
    with pytest.raises(ShapeError):
        parse.parse_user_hashrate(result)


WORKER = {"hashrate_60s": "110000000000000", "hashrate_3600s": "109000000000000", "lastest_share_ts": "1700000000"}


@pytest.mark.parametrize(
    "workers",
    [
        {"s19-01": [WORKER], "s19-02": [WORKER]},  # map of one-element lists
        {"s19-01": WORKER, "s19-02": WORKER},  # map of objects
        [{"s19-01": WORKER}, {"s19-02": WORKER}],  # list of one-key objects
    ],
    ids=["map-of-lists", "map-of-objects", "list-of-one-key-objects"],
)
def test_worker_shapes(workers):
    parsed = parse.parse_user_hashrate_full({"workers": workers})
    assert set(parsed) == {"s19-01", "s19-02"}
    assert parsed["s19-01"].hashrate == {"60s": 110e12, "3600s": 109e12}
    # A per-worker last share is not user_hashrate_full's (a real reply has none): not read from it.
    assert parsed["s19-02"] == parse.WorkerHashrate({"60s": 110e12, "3600s": 109e12})


@pytest.mark.parametrize("workers", [[{"a": WORKER, "b": WORKER}], "s19-01", {"s19-01": []}, {"s19-01": "x"}])
def test_odd_worker_shapes_are_refused(workers):
    with pytest.raises(ShapeError):
        parse.parse_user_hashrate_full({"workers": workers})


def test_earnpay_mixed_numbers_and_strings():
    history = parse.parse_earnpay(
        {
            "earnings": [{"ts": "2025-11-20T10:00:00", "satoshis_net_earned": 1500}, {"ts": "2025-11-21T10:00:00", "satoshis_net_earned": "2500"}],
            "payouts": [
                {"ts": "2025-11-10T00:00:00", "total_satoshis_net_paid": "100000"},
                {"ts": "2025-11-21T00:00:00", "total_satoshis_net_paid": 250000},
                {"ts": "2025-11-15T00:00:00", "total_satoshis_net_paid": "not a number"},
            ],
        }
    )
    assert history.earned_satoshis == 4000
    assert history.paid_satoshis == 350000  # the unreadable payout is not counted as anything
    last = history.last_payout()
    assert last.satoshis == 250000 and last.ts == parse.timestamp("2025-11-21T00:00:00")
    assert parse.parse_earnpay({"earnings": [], "payouts": []}).last_payout() is None


def test_statsnap_keeps_missing_fields_missing():
    snap = parse.parse_statsnap({"snap_ts": "1700000000", "unpaid": "0.001", "lastest_share_ts": "1700000000"})
    assert snap.unpaid == 0.001 and snap.estimated_earn_next_block is None and snap.hashrate == {}


def test_pool_parsers():
    assert parse.parse_pool_hashrate({"pool_60s": "1.1e18", "pool_300s": "1000000000000000000"}) == {"60s": 1.1e18, "300s": 1e18}
    stat = parse.parse_pool_stat({"snap_ts": "1", "active_users": "42", "active_workers": "100", "network_difficulty": "123"})
    assert (stat.active_users, stat.active_workers, stat.network_difficulty, stat.tides_shares) == (42, 100, 123, None)
    with pytest.raises(ShapeError):
        parse.parse_pool_stat({"something": "else"})
    blocks = parse.parse_blocks({"blocks": [{"ts": "2025-11-22T14:03:11", "height": 924000, "total_reward_sats": "315000000"}]})
    assert blocks[0].height == 924000 and blocks[0].reward_satoshis == 315000000
