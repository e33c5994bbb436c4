"""Ocean as it really answers: public captures of real replies (2026) parse cleanly,
and every value the exporter exports from them is right.

The captures and what each shows are in simulator/captures/ocean/SOURCES.md
("Real replies"). userinfo_full has no public capture: where a test needs it,
the hand-built reply stands in, and says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from exporters.ocean import parse
from exporters.ocean.metrics import PoolCollector, TidesCollector, WorkerCollector
from exporters.ocean.parse import ImplausibleValue
from exporters.ocean.poller import earnpay_path
from tests.support.prom_text import wait_for_samples as wait_for
from tests.support.promtool import check_metrics
from tests.support.replay_server import ReplayServer
from tests.ocean.test_ocean_exporter import ADDRESS, all_up, fixture, result_of, serving_ocean

STATSNAP = "statsnap_CAPTURE_2026.json"
USER_HASHRATE = "user_hashrate_CAPTURE_2026.json"
WORKERS = "user_hashrate_full_TRIMMED_CAPTURE_2026.json"
EARNPAY = "earnpay_TRIMMED_CAPTURE_2026.json"
POOL_STAT = "pool_stat_PARTIAL_CAPTURE_2026.json"
STATSNAP_APRIL = "statsnap_PARTIAL_CAPTURE_2026.json"
WINDOWS = ("60s", "300s", "600s", "1800s", "3600s", "10800s", "43200s", "86400s")
UTC = timezone.utc


class _FakePoller:
    def __init__(self, values):
        self.values = values

    def value(self, endpoint, address=""):
        return self.values.get(endpoint)


def _samples(collector, name):
    return {tuple(sorted(s.labels.items())): s.value for f in collector.collect() for s in f.samples if s.name == name}


# --- the replies, parsed ----------------------------------------------------------------


def test_statsnap_capture_every_field():
    raw = result_of(STATSNAP)
    snap = parse.parse_statsnap(raw)
    assert snap.snap_ts == 1787271720  # 2026-08-21T00:22:00Z
    assert snap.hashrate == {"60s": float(raw["hashrate_60s"]), "300s": float(raw["hashrate_300s"])}
    assert snap.hashrate["60s"] == pytest.approx(932.77e15, rel=1e-4)  # ~933 PH/s: H/s, not TH/s
    assert snap.last_share_ts == 1787271723
    assert snap.shares_in_tides == 46502160367616
    assert (snap.estimated_earn_next_block, snap.estimated_bonus_earn_next_block) == (0.14294639, 0.0)
    assert snap.estimated_total_earn_next_block == snap.estimated_payout_next_block == 0.14294639
    assert snap.unpaid == 0.0  # "0.00000000": a real zero balance, exported as 0, not absent


def test_user_hashrate_capture_all_windows_and_workers():
    raw = result_of(USER_HASHRATE)
    rates = parse.parse_user_hashrate(raw)
    assert rates.hashrate == {w: float(raw[f"hashrate_{w}"]) for w in WINDOWS}
    assert rates.active_workers == 2866  # a JSON number in the real reply, not a string
    assert (rates.snap_ts, rates.last_share_ts) == (1787271780, 1787271783)


def test_user_hashrate_full_capture_has_no_worker_last_share():
    raw = result_of(WORKERS)
    # The real reply: snap_ts, db_ts and the user's totals beside the workers ...
    assert set(raw) == {"snap_ts", "db_ts", "workers", "user_hashrate"}
    # ... and per worker only the eight hashrate windows: no last-share time.
    assert all(set(entry[0]) == {f"hashrate_{w}" for w in WINDOWS} for entry in raw["workers"].values())
    workers = parse.parse_user_hashrate_full(raw)
    assert set(workers) == {"cc5719001b71", "cc550a000ca5", "cc5719000408"}  # the totals are not a worker
    assert workers["cc5719001b71"] == parse.WorkerHashrate({w: float(raw["workers"]["cc5719001b71"][0][f"hashrate_{w}"]) for w in WINDOWS})


def test_earnpay_capture_sums_and_latest_payout():
    raw = result_of(EARNPAY)
    history = parse.parse_earnpay(raw)
    # Three generation payouts, each the block's net earning; amounts are JSON numbers, times naive ISO (UTC).
    assert history.earned_satoshis == history.paid_satoshis == 14297234 + 14562604 + 14690711
    last = history.last_payout()
    assert last.satoshis == 14297234 and last.ts == datetime(2026, 8, 20, 23, 11, 17, tzinfo=UTC).timestamp()
    # The reply to a start alone (unix seconds): Ocean ended the range 30 days after it.
    assert int(raw["end_ts"]) - int(raw["start_ts"]) == 30 * 86400


def test_pool_stat_capture_block_reward_in_btc():
    stat = parse.parse_pool_stat(result_of(POOL_STAT))
    assert stat.estimated_block_reward == 3.1331216  # subsidy 3.125 + fees 0.0081216, in BTC
    assert stat.network_difficulty == 138966872071213.02  # Ocean sends a fraction
    assert stat.tides_shares == 1111734976569704
    assert (stat.active_users, stat.active_workers, stat.tides_max_shares) == (None, None, None)  # not in it: absent


def test_block_reward_is_btc_by_ocean_own_arithmetic():
    # Same client, same day (2026-04-16): the user's share of the TIDES window times
    # the estimated reward, less a 1% pool fee, is the user's estimated earning.
    stat = parse.parse_pool_stat(result_of(POOL_STAT))
    snap = parse.parse_statsnap(result_of(STATSNAP_APRIL))
    gross = snap.shares_in_tides / stat.tides_shares * stat.estimated_block_reward
    assert gross * 0.99 == pytest.approx(snap.estimated_earn_next_block, abs=1e-8)  # to the satoshi
    assert snap.unpaid == 0.0038509


def test_block_reward_in_satoshis_would_be_refused():
    # 313,312,160 "BTC" is more than will ever exist: a unit mix-up, refused, never exported.
    with pytest.raises(ImplausibleValue, match="current_estimated_block_reward"):
        parse.parse_pool_stat({"current_estimated_block_reward": "313312160"})


# --- where each value comes from ---------------------------------------------------------


def test_worker_last_share_comes_from_userinfo_full_only():
    info = parse.parse_userinfo_full(result_of("userinfo_full_HANDBUILT.json"))
    # A user_hashrate_full entry carrying a newer time (as the old hand-built fixture
    # invented) must not win: Ocean's reply has none, so it is not read.
    invented = {"s19-02": [{"hashrate_60s": "0", "lastest_share_ts": "1763899999"}]}
    full = {**parse.parse_user_hashrate_full(result_of(WORKERS)), **parse.parse_user_hashrate_full({"workers": invented})}
    collector = WorkerCollector(_FakePoller({"userinfo_full": info, "user_hashrate_full": full}), [ADDRESS])
    last = _samples(collector, "ocean_worker_last_share_timestamp_seconds")
    assert last == {
        (("address", ADDRESS), ("worker", "s19-01")): 1763899996,
        (("address", ADDRESS), ("worker", "s19-02")): 1763892794,  # userinfo_full's: idle since then
        (("address", ADDRESS), ("worker", "s21-01")): 1763899999,
    }
    # The captured workers have a hashrate but no last share: absent, never 0 or a guess.
    rates = _samples(collector, "ocean_worker_hashrate_hashes_per_second")
    assert rates[(("address", ADDRESS), ("window", "60s"), ("worker", "cc5719001b71"))] == 375299968947541


def test_pool_estimated_block_reward_is_exported():
    collector = PoolCollector(_FakePoller({"pool_stat": parse.parse_pool_stat(result_of(POOL_STAT))}), [ADDRESS])
    assert _samples(collector, "ocean_pool_estimated_block_reward_btc") == {(): 3.1331216}
    assert _samples(collector, "ocean_pool_active_users") == {}


def test_statsnap_capture_balances_are_exported():
    info = parse.UserInfo(parse.parse_statsnap(result_of(STATSNAP)), {})
    collector = TidesCollector(_FakePoller({"userinfo_full": info}), [ADDRESS])
    user = (("address", ADDRESS),)
    assert _samples(collector, "ocean_unpaid_btc") == {user: 0.0}
    assert _samples(collector, "ocean_estimated_payout_next_block_btc") == {user: 0.14294639}


# --- how earnpay is asked ---------------------------------------------------------------


def test_earnpay_is_asked_with_dates_the_way_known_to_work():
    now = datetime(2026, 8, 21, 0, 23, 8, tzinfo=UTC).timestamp()
    assert earnpay_path(ADDRESS, 0, now=now) == f"earnpay/{ADDRESS}/2020-01-01/2026-08-22"
    # Late in the UTC day the end is still tomorrow's date.
    assert earnpay_path(ADDRESS, 0, now=now + 23 * 3600).endswith("/2020-01-01/2026-08-22")
    # earnings_since asks from the day before (day boundaries need not be UTC's), never before 2020-01-01.
    since = int(datetime(2026, 8, 20, 9, 0, tzinfo=UTC).timestamp())
    assert earnpay_path(ADDRESS, since, now=now) == f"earnpay/{ADDRESS}/2026-08-19/2026-08-22"
    assert earnpay_path(ADDRESS, int(datetime(2020, 1, 1, 12, tzinfo=UTC).timestamp()), now=now).split("/")[2] == "2020-01-01"


def test_earnings_since_is_applied_to_the_second():
    history = parse.parse_earnpay(result_of(EARNPAY))
    since = datetime(2026, 8, 20, 9, 0, tzinfo=UTC).timestamp()  # after the 06:04 block, before the 09:39 one
    kept = history.since(since)
    assert kept.earned_satoshis == kept.paid_satoshis == 14297234 + 14562604
    assert history.since(0) is history


# --- end to end over the replay server ---------------------------------------------------


def capture_routes(server: ReplayServer) -> None:
    server.route(f"/v1/user_hashrate/{ADDRESS}", fixture(USER_HASHRATE))
    server.route(f"/v1/userinfo_full/{ADDRESS}", fixture("userinfo_full_HANDBUILT.json"))  # no capture exists
    server.route(f"/v1/user_hashrate_full/{ADDRESS}", fixture(WORKERS))
    server.route_prefix(f"/v1/earnpay/{ADDRESS}/", fixture(EARNPAY))
    server.route("/v1/pool_stat", fixture(POOL_STAT))
    server.route("/v1/pool_hashrate", fixture("pool_hashrate_HANDBUILT.json"))
    server.route("/v1/blocks/0/100/0", fixture("blocks_HANDBUILT.json"))


@pytest.fixture(scope="module")
def ocean_captures():
    with serving_ocean(capture_routes) as served:
        yield served


def test_real_replies_end_to_end(ocean_captures):
    server, url = ocean_captures
    s = wait_for(url, all_up)
    assert all_up(s), sorted(k for k in s if k[0] == "hashwatch_ocean_api_up")
    user = (("address", ADDRESS),)
    rates = result_of(USER_HASHRATE)
    for window in WINDOWS:
        assert s[("ocean_hashrate_hashes_per_second", user + (("window", window),))] == float(rates[f"hashrate_{window}"])
    assert s[("ocean_active_workers", user)] == 2866
    assert s[("ocean_last_share_timestamp_seconds", user)] == 1787271783
    # Workers: the captured ones have every window and no last share; the hand-built
    # userinfo_full's keep theirs.
    workers = result_of(WORKERS)["workers"]
    worker = lambda name, window: s[("ocean_worker_hashrate_hashes_per_second", user + (("window", window), ("worker", name)))]
    assert worker("cc550a000ca5", "86400s") == float(workers["cc550a000ca5"][0]["hashrate_86400s"]) == 319369848575220
    last_share = {dict(labels)["worker"] for (name, labels) in s if name == "ocean_worker_last_share_timestamp_seconds"}
    assert last_share == {"s19-01", "s19-02", "s21-01"}
    # Earnings and payouts, in BTC.
    assert s[("ocean_paid_btc_total", user)] == s[("ocean_earned_btc_total", user)] == 0.43550549
    assert s[("ocean_payouts_total", user)] == 3
    assert s[("ocean_last_payout_btc", user)] == 0.14297234
    assert s[("ocean_last_payout_timestamp_seconds", user)] == datetime(2026, 8, 20, 23, 11, 17, tzinfo=UTC).timestamp()
    # The pool: the reward in BTC; what the partial reply lacks is absent, not 0.
    assert s[("ocean_pool_estimated_block_reward_btc", ())] == 3.1331216
    assert s[("ocean_pool_network_difficulty", ())] == 138966872071213.02
    assert s[("ocean_pool_tides_window_shares", ())] == 1111734976569704
    assert ("ocean_pool_active_users", ()) not in s and ("ocean_pool_tides_window_max_shares", ()) not in s
    # earnpay was asked from 2020-01-01 to tomorrow, not from 0.
    path = [r.path for r in server.requests() if r.path.startswith("/v1/earnpay/")][-1]
    today = datetime.now(UTC).date()
    assert path in {f"/v1/earnpay/{ADDRESS}/2020-01-01/{day}" for day in (today + timedelta(days=1), today)}
    assert check_metrics(requests.get(url, timeout=5).content) == ""
