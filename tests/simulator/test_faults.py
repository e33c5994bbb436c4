"""Each simulated fault as the exporter exports it: /probe over the session fleet, and a real Prometheus.

The fleet is shared with other modules: every test starts and ends with no fault set.
"""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from exporters.cgminer.commands import READ_ONLY_COMMANDS
from simulator import FAULT_NAMES, PROFILES

DEAD_BOARD = 1
# A board that stays up next to the dead one, per profile with per-board chip counts.
BOARD_CHIP_PROFILES = ["antminer-s19pro", "whatsminer-m31s", "braiins-s9", "vnish-s21pro", "luxos-s19kpro"]


@pytest.fixture(autouse=True)
def no_faults(sim_fleet):
    sim_fleet.clear_faults()
    yield
    sim_fleet.clear_faults()


def miner(fleet, profile, nth=1):
    """The nth miner of a profile (the fleet has two of each); nth=1 leaves the first to other modules."""
    return [m for m in fleet.miners if m.profile.name == profile][nth]


def probe(exporter, fleet, target, timeout_header=None):
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": str(timeout_header)} if timeout_header else None
    response = requests.get(
        f"{exporter.url}/probe", params={"target": f"{target.address}:{fleet.port}"}, headers=headers, timeout=15
    )
    assert response.status_code == 200
    samples = []
    for family in text_string_to_metric_families(response.text):
        samples += [(s.name, s.labels, s.value) for s in family.samples]
    return samples


def values(samples, name, **labels):
    """{the labels that `labels` leaves open: value} of one metric."""
    out = {}
    for sample_name, sample_labels, value in samples:
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
            out[tuple(sorted((k, v) for k, v in sample_labels.items() if k not in labels))] = value
    return out


def one(samples, name, **labels):
    found = values(samples, name, **labels)
    assert len(found) == 1, (name, labels, found)
    return next(iter(found.values()))


def up(samples):
    return one(samples, "miner_up")


def reason(samples):
    return {dict(k)["reason"] for k in values(samples, "miner_scrape_error")}


# -- hashing -------------------------------------------------------------------------------


def test_hashrate_zero_keeps_the_miner_up_with_every_rate_at_zero(exporter, sim_fleet):
    target = miner(sim_fleet, "antminer-s19pro")
    before = probe(exporter, sim_fleet, target)
    assert one(before, "miner_hashrate_hashes_per_second") > 1e14
    sim_fleet.set_fault({"fault": "hashrate_zero"}, [target.address])
    after = probe(exporter, sim_fleet, target)
    assert up(after) == 1
    assert one(after, "miner_hashrate_hashes_per_second") == 0
    assert set(values(after, "miner_board_hashrate_hashes_per_second").values()) == {0.0}
    sim_fleet.clear_faults([target.address])
    assert one(probe(exporter, sim_fleet, target), "miner_hashrate_hashes_per_second") > 1e14


@pytest.mark.parametrize("profile", BOARD_CHIP_PROFILES)
def test_board_dead_zeroes_that_board_and_its_chips(exporter, sim_fleet, profile):
    target = miner(sim_fleet, profile)
    before = probe(exporter, sim_fleet, target)
    sim_fleet.set_fault({"fault": "board_dead", "board": DEAD_BOARD}, [target.address])
    after = probe(exporter, sim_fleet, target)
    assert up(after) == 1
    board = str(DEAD_BOARD)
    assert one(after, "miner_board_hashrate_hashes_per_second", board=board) == 0
    assert one(before, "miner_board_chips", board=board) > 0
    assert one(after, "miner_board_chips", board=board) == 0
    for other in ("0", "2"):  # the other boards hash and keep their chips
        assert one(after, "miner_board_hashrate_hashes_per_second", board=other) > 0
        assert one(after, "miner_board_chips", board=other) == one(before, "miner_board_chips", board=other)
    # The total drops by about the board's third (each reading has +-2% noise).
    ratio = one(after, "miner_hashrate_hashes_per_second") / one(before, "miner_hashrate_hashes_per_second")
    assert 0.6 < ratio < 0.72


def test_board_dead_on_a_board_the_profile_lacks_is_refused(sim_fleet):
    from simulator import FaultError

    with pytest.raises(FaultError, match="board"):
        sim_fleet.set_fault({"fault": "board_dead", "board": 7}, [miner(sim_fleet, "braiins-s9").address])
    assert sim_fleet.faults() == {}


# -- environment ---------------------------------------------------------------------------


def board_temperatures(samples):
    return {k: v for k, v in values(samples, "miner_temperature_celsius").items() if dict(k)["board"]}


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "antminer-s21"])  # its capture has no temperatures
def test_overheating_raises_every_board_sensor(exporter, sim_fleet, profile):
    target = miner(sim_fleet, profile)
    before = board_temperatures(probe(exporter, sim_fleet, target))
    sim_fleet.set_fault({"fault": "overheating"}, [target.address])
    after = board_temperatures(probe(exporter, sim_fleet, target))
    assert before and after.keys() == before.keys()
    for key, celsius in before.items():
        assert after[key] == pytest.approx(celsius + 25), key
    chips = {k for k in before if dict(k)["sensor"] == "chip"}
    assert chips or profile in ("braiins-s9", "luxos-s19kpro")  # these two report no chip sensor


def test_overheating_one_board_to_a_given_temperature_with_a_stopped_fan(exporter, sim_fleet):
    target = miner(sim_fleet, "antminer-s19pro")
    before = probe(exporter, sim_fleet, target)
    sim_fleet.set_fault({"fault": "overheating", "board": 0, "celsius": 97}, [target.address])
    sim_fleet.set_fault({"fault": "fan_stopped", "fan": 2}, [target.address])
    after = probe(exporter, sim_fleet, target)
    assert one(after, "miner_temperature_celsius", board="0", sensor="chip") == 97
    assert one(after, "miner_temperature_celsius", board="1", sensor="chip") == one(
        before, "miner_temperature_celsius", board="1", sensor="chip"
    )
    assert one(after, "miner_fan_speed_rpm", fan="2") == 0
    assert one(after, "miner_fan_speed_rpm", fan="1") == one(before, "miner_fan_speed_rpm", fan="1") > 0


@pytest.mark.parametrize(
    "profile, fan",
    [("antminer-s19pro", "1"), ("antminer-s21", "0"), ("whatsminer-m31s", "in"), ("avalon-1566", "1"),
     ("braiins-s9", "0"), ("vnish-s21pro", "3"), ("luxos-s19kpro", "2")],
)  # fmt: skip
def test_fan_stopped_reads_zero_rpm_on_that_fan_only(exporter, sim_fleet, profile, fan):
    target = miner(sim_fleet, profile)
    before = values(probe(exporter, sim_fleet, target), "miner_fan_speed_rpm")
    sim_fleet.set_fault({"fault": "fan_stopped", "fan": fan}, [target.address])
    after = values(probe(exporter, sim_fleet, target), "miner_fan_speed_rpm")
    assert before[(("fan", fan),)] > 0 and after[(("fan", fan),)] == 0
    assert {k: v for k, v in after.items() if k != (("fan", fan),)} == {
        k: v for k, v in before.items() if k != (("fan", fan),)
    }


# -- pools and shares ----------------------------------------------------------------------


@pytest.mark.parametrize("profile, dead, backup", [("antminer-s19pro", "0", "1"), ("whatsminer-m31s", "1", "2")])
def test_pool_dead_fails_over_to_the_backup(exporter, sim_fleet, profile, dead, backup):
    target = miner(sim_fleet, profile)
    before = probe(exporter, sim_fleet, target)
    assert one(before, "miner_pool_up", pool=dead) == 1 and one(before, "miner_pool_active", pool=backup) == 0
    sim_fleet.set_fault({"fault": "pool_dead"}, [target.address])
    after = probe(exporter, sim_fleet, target)
    assert one(after, "miner_pool_up", pool=dead) == 0
    assert one(after, "miner_pool_active", pool=dead) == 0
    assert one(after, "miner_pool_active", pool=backup) == 1
    assert one(after, "miner_pool_up", pool=backup) == 1
    # The dead pool's shares stop where they were.
    accepted = {"pool": dead, "result": "accepted"}
    assert one(after, "miner_pool_shares_total", **accepted) == one(before, "miner_pool_shares_total", **accepted)


def test_reject_spike_makes_rejected_shares_grow_fast(exporter, sim_fleet):
    target = miner(sim_fleet, "vnish-s21pro")
    calm = [probe(exporter, sim_fleet, target) for _ in range(2)]
    sim_fleet.set_fault({"fault": "reject_spike", "per_second": 20}, [target.address])
    first = probe(exporter, sim_fleet, target)
    time.sleep(0.6)
    second = probe(exporter, sim_fleet, target)
    rejected = {"result": "rejected"}
    assert one(calm[1], "miner_shares_total", **rejected) - one(calm[0], "miner_shares_total", **rejected) <= 1
    assert one(second, "miner_shares_total", **rejected) - one(first, "miner_shares_total", **rejected) >= 10
    grew = one(second, "miner_pool_shares_total", pool="0", **rejected) - one(
        first, "miner_pool_shares_total", pool="0", **rejected
    )
    assert grew >= 10  # on the pool receiving the shares


def test_reboot_resets_uptime_and_counters_and_prometheus_rate_stays_positive(exporter, sim_fleet, prometheus):
    target = miner(sim_fleet, "whatsminer-m31s")  # rebooted by no other test
    instance = f'instance="{target.address}:{sim_fleet.port}"'
    accepted = f'miner_shares_total{{{instance},result="accepted"}}'
    prometheus.wait_for(accepted, lambda r: len(r) == 1 and float(r[0]["value"][1]) > 1000)
    before = probe(exporter, sim_fleet, target)
    sim_fleet.set_fault({"fault": "reboot"}, [target.address])
    after = probe(exporter, sim_fleet, target)
    assert one(after, "miner_uptime_seconds") < 5 < one(before, "miner_uptime_seconds")
    accepted_now, accepted_before = (one(s, "miner_shares_total", result="accepted") for s in (after, before))
    assert accepted_now < 5 < accepted_before
    assert sim_fleet.faults() == {}  # a one-shot event, not a state
    prometheus.wait_for(f"resets({accepted}[1m])", lambda r: len(r) == 1 and float(r[0]["value"][1]) >= 1)
    rate = prometheus.query(f"rate({accepted}[1m])")
    assert len(rate) == 1 and float(rate[0]["value"][1]) >= 0


# -- transport -----------------------------------------------------------------------------


def test_offline_miner_is_down_with_a_connection_reason(exporter, sim_fleet):
    target = miner(sim_fleet, "braiins-s9")
    sim_fleet.set_fault({"fault": "offline"}, [target.address])
    samples = probe(exporter, sim_fleet, target)
    assert up(samples) == 0
    # The shared listener cannot refuse what the kernel accepted: it resets (per-address mode refuses).
    assert reason(samples) <= {"connection_refused", "connection_error"} and reason(samples)
    sim_fleet.clear_faults([target.address])
    assert up(probe(exporter, sim_fleet, target)) == 1


def test_slow_reply_times_out_only_under_a_shorter_scrape_timeout(exporter, sim_fleet):
    target = miner(sim_fleet, "luxos-s19kpro")  # multi-command: two requests per scrape
    sim_fleet.set_fault({"fault": "slow_reply", "seconds": 0.4}, [target.address])
    short = probe(exporter, sim_fleet, target, timeout_header=0.8)  # 0.3 s budget after the 0.5 s offset
    assert up(short) == 0 and reason(short) == {"read_timeout"}
    started = time.monotonic()
    long = probe(exporter, sim_fleet, target, timeout_header=3)
    assert up(long) == 1 and time.monotonic() - started >= 0.4


def test_hung_miner_is_a_read_timeout(exporter, sim_fleet):
    target = miner(sim_fleet, "avalon-1566")
    sim_fleet.set_fault({"fault": "hung"}, [target.address])
    started = time.monotonic()
    samples = probe(exporter, sim_fleet, target, timeout_header=1)
    assert up(samples) == 0 and reason(samples) == {"read_timeout"}
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("mode", ["truncated", "garbled"])
def test_malformed_json_is_a_malformed_reply(exporter, sim_fleet, mode):
    target = miner(sim_fleet, "antminer-s21")
    sim_fleet.set_fault({"fault": "malformed_json", "mode": mode}, [target.address])
    samples = probe(exporter, sim_fleet, target)
    assert up(samples) == 0 and reason(samples) == {"malformed_reply"}


def test_oversized_reply_is_too_large(exporter, sim_fleet):
    target = miner(sim_fleet, "antminer-s21")
    sim_fleet.set_fault({"fault": "oversized"}, [target.address])  # 5 MiB against the 4 MiB cap
    samples = probe(exporter, sim_fleet, target)
    assert up(samples) == 0 and reason(samples) == {"reply_too_large"}


# -- every fault at once -------------------------------------------------------------------


def test_with_every_fault_active_only_read_only_commands_reach_the_miners(exporter, sim_fleet):
    # State faults combine on one miner of each profile; each transport fault gets its own miner.
    combined = [
        {"fault": "hashrate_zero"}, {"fault": "overheating"}, {"fault": "pool_dead"},
        {"fault": "reject_spike", "per_second": 5},
    ]  # fmt: skip
    # A reboot is for good: only on a miner whose counters no other test compares.
    sim_fleet.set_fault({"fault": "reboot"}, [miner(sim_fleet, "avalon-1566").address])
    for profile in {m.profile.name for m in sim_fleet.miners}:
        address = miner(sim_fleet, profile).address
        layout = miner(sim_fleet, profile).profile.layout
        for fault in combined + ([{"fault": "board_dead", "board": 0}] if layout.boards else []):
            sim_fleet.set_fault(fault, [address])
        sim_fleet.set_fault({"fault": "fan_stopped", "fan": 0}, [address])
    transport = ["offline", "hung", "slow_reply", "malformed_json", "oversized"]
    firsts = [m for m in sim_fleet.miners if m is miner(sim_fleet, m.profile.name, 0)]
    for fault, target in zip(transport, firsts):
        sim_fleet.set_fault({"fault": fault, **({"seconds": 0.3} if fault == "slow_reply" else {})}, [target.address])
    active = {f["fault"] for faults in sim_fleet.faults().values() for f in faults}
    assert active | {"reboot"} == set(FAULT_NAMES)

    # The whole fleet through fleet mode, and each miner through /probe.
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"}
    fleet_metrics = requests.get(f"{exporter.url}/metrics", headers=headers, timeout=15)
    assert fleet_metrics.status_code == 200 and "miner_up{" in fleet_metrics.text
    for target in sim_fleet.miners:
        probe(exporter, sim_fleet, target, timeout_header=1.5)

    reached = {entry.address for entry in sim_fleet.journal.snapshot()}
    assert {m.address for m in sim_fleet.miners if not m.offline} <= reached
    sent = sim_fleet.journal.command_names()
    assert sent and sent <= READ_ONLY_COMMANDS, sent - READ_ONLY_COMMANDS
