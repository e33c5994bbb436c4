"""The miner simulator over real TCP on loopback: protocol, profiles, moving values, fleet."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator import PROFILES, FleetThread, SimulatedFleet, fleet_addresses
from simulator.cli import simulate
from tests.support.paths import TESTS

CAPTURES = TESTS.parent / "simulator" / "captures"


class ManualClock:
    """Wall time the test moves by hand: counters grow without sleeping."""

    def __init__(self, now: float = 1_750_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ask(host: str, port: int, payload: bytes, *, half_close: bool = False, timeout: float = 3.0) -> bytes:
    """One raw request, read until the server closes (bounded in time and size)."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        if payload:
            sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host}:{port} kept the connection open")
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            assert sum(map(len, chunks)) < 1 << 20
    return b"".join(chunks)


def decode(raw: bytes) -> dict:
    assert raw.endswith(b"\x00") and raw.count(b"\x00") == 1, raw[-40:]
    return json.loads(raw[:-1])  # strict JSON: no repair needed


def command(name: str, **extra: str) -> bytes:
    return json.dumps({"command": name, **extra}).encode()


def captured_reply(profile: str, name: str) -> dict:
    """The capture a profile serves for a command, parsed."""
    spec = PROFILES[profile]
    return spec.load(spec.replies[name])


def status(body: dict) -> dict:
    block = body["STATUS"]
    return block[0] if isinstance(block, list) else body


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def fleet(clock: ManualClock):
    """One miner per profile, in PROFILES order, on 127.77.0.1.. and a free port."""
    fleet = SimulatedFleet.build(len(PROFILES), first_address="127.77.0.1", port=0, seed=7, clock=clock)
    with FleetThread(fleet, idle_timeout=2.0):
        yield fleet


def host_of(fleet: SimulatedFleet, profile: str) -> str:
    return next(m.address for m in fleet.miners if m.profile.name == profile)


def request(fleet: SimulatedFleet, profile: str, payload: bytes) -> dict:
    return decode(ask(host_of(fleet, profile), fleet.port, payload))


# -- captures ------------------------------------------------------------------------------

# Replies derived from real captures (not verbatim), documented in simulator/captures/SOURCES.md;
# every real capture is under captures/cgminer/, stored once.
DERIVED = {
    "whatsminer-m31s/cmd_status.json",
    "avalon-1566/summary.json",
    "avalon-1566/invalid_command.json",
    "braiins-s9/invalid_command.json",
    "luxos-s19kpro/invalid_command.json",
}

# Real replies recorded from miners and services, each stored once: the simulator serves the CGMiner ones, the
# replayed upstreams (simulator/upstreams/) the Ocean and market ones; outside them live only derived replies.
RECORDED = ("cgminer", "ocean", "market")


def test_no_capture_is_stored_twice():
    first: dict[str, Path] = {}
    twice = []
    for root in (CAPTURES, TESTS / "fixtures"):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in first:
                twice.append((str(first[digest]), str(path)))
            else:
                first[digest] = path
    assert twice == []
    # Real CGMiner captures have one home, simulator/captures/cgminer (tests read them through cgminer_fixtures).
    assert [p for p in (TESTS / "fixtures" / "cgminer").rglob("*") if p.is_file()] == []


def test_every_profile_capture_exists_and_derived_ones_are_documented():
    served = set()
    for name, profile in PROFILES.items():
        for capture in [*profile.replies.values(), *profile.cmd_replies.values(), profile.invalid_command]:
            assert (CAPTURES / capture).is_file(), (name, capture)
            served.add(capture)
    outside = {p.relative_to(CAPTURES).as_posix() for p in CAPTURES.rglob("*.json")} - {
        p.relative_to(CAPTURES).as_posix() for top in RECORDED for p in (CAPTURES / top).rglob("*.json")
    }
    assert outside == DERIVED and DERIVED <= served
    sources = (CAPTURES / "SOURCES.md").read_text()
    assert all(f"`{capture}`" in sources for capture in DERIVED)


# -- protocol per profile ------------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_profile_answers_its_commands_like_the_capture(fleet, profile):
    spec = PROFILES[profile]
    for name, filename in spec.replies.items():
        body = request(fleet, profile, command(name))
        captured = spec.load(filename)
        assert list(body) == list(captured), name  # same sections, same order
        assert status(body)["STATUS"] == status(captured)["STATUS"]


def test_firmware_detection_of_the_exporter_recognises_every_profile(fleet):
    from exporters.cgminer.firmware.detect import DETECTION_SEQUENCE, identify
    from exporters.cgminer.reply import parse_reply
    from exporters.cgminer.wire import decode_reply

    for name, profile in PROFILES.items():
        replies = {}
        for cmd in DETECTION_SEQUENCE:
            replies[cmd] = parse_reply(cmd, decode_reply(ask(host_of(fleet, name), fleet.port, command(cmd))))
            found = identify(replies)
            if found:
                break
        assert found == profile.firmware, name


def test_stock_antminer_rejects_multi_command_estats_and_devdetails(fleet):
    for payload in (command("summary+pools"), command("estats"), command("devdetails")):
        body = request(fleet, "antminer-s19pro", payload)
        error = {"STATUS": "E", "When": body["STATUS"][0]["When"], "Code": 14, "Msg": "Invalid command"}
        assert body == {"STATUS": [{**error, "Description": "cgminer 1.0.0"}], "id": 1}


def test_avalon_multi_command_is_one_element_lists(fleet):
    body = request(fleet, "avalon-1566", command("summary+pools+estats"))
    assert list(body) == ["summary", "pools", "estats", "id"] and body["id"] == 1
    for section, key in (("summary", "SUMMARY"), ("pools", "POOLS"), ("estats", "STATS")):
        assert isinstance(body[section], list) and len(body[section]) == 1
        assert status(body[section][0])["STATUS"] == "S" and key in body[section][0]


def test_multi_command_section_for_an_unknown_command_is_its_error(fleet):
    body = request(fleet, "luxos-s19kpro", command("summary+estats"))
    assert status(body["summary"][0])["STATUS"] == "S"
    assert status(body["estats"][0])["Code"] == 14


def test_whatsminer_version_status_and_multi(fleet):
    version = request(fleet, "whatsminer-m31s", command("version"))
    assert version["STATUS"] == "E" and version["Msg"] == "invalid cmd" and version["Code"] == 14
    state = request(fleet, "whatsminer-m31s", b'{"cmd":"status"}')
    assert state["STATUS"] == "S" and state["Msg"]["btmineroff"] == "false"
    multi = request(fleet, "whatsminer-m31s", command("summary+edevs+pools"))
    assert {"summary", "edevs", "pools"} <= set(multi)
    assert multi["edevs"][0]["DEVS"][0]["Name"] == "SM"


def test_cgminer_firmware_answers_cmd_key_with_missing_command(fleet):
    body = request(fleet, "avalon-1566", b'{"cmd":"status"}')
    assert status(body)["Code"] == 24 and status(body)["Msg"] == "Missing JSON 'command'"


def test_vnish_answers_version_with_its_error(fleet):
    for payload in (command("version"), command("summary+pools")):
        body = request(fleet, "vnish-s21pro", payload)
        assert status(body)["STATUS"] == "E" and status(body)["Code"] == 0 and "id" not in body


def test_privileged_commands_get_an_error_and_are_recorded(fleet):
    fleet.journal.clear()
    sent = {
        "antminer-s21": command("restart"),
        "braiins-s9": command("quit"),
        "avalon-1566": command("switchpool", parameter="1"),
        "whatsminer-m31s": b'{"cmd":"reboot"}',
    }
    for profile, payload in sent.items():
        body = request(fleet, profile, payload)
        assert status(body)["STATUS"] == "E", profile
    recorded = fleet.journal.snapshot()
    assert [(r.address, r.command) for r in recorded] == [
        (host_of(fleet, "antminer-s21"), "restart"),
        (host_of(fleet, "braiins-s9"), "quit"),
        (host_of(fleet, "avalon-1566"), "switchpool|1"),
        (host_of(fleet, "whatsminer-m31s"), "reboot"),
    ]
    assert fleet.journal.command_names() == {"restart", "quit", "switchpool", "reboot"}


def test_malformed_requests(fleet):
    host = host_of(fleet, "antminer-s19pro")
    truncated = decode(ask(host, fleet.port, b'{"command":', half_close=True))
    assert status(truncated)["Code"] == 23
    missing = decode(ask(host, fleet.port, b'{"parameter":"0"}'))
    assert status(missing)["Code"] == 24
    # Over 64 KiB without a complete object: closed, no reply.
    assert ask(host, fleet.port, b"{" + b" " * (70 * 1024)) == b""


def test_request_framing_with_and_without_half_close_and_split_packets(fleet):
    host = host_of(fleet, "braiins-s9")
    assert status(decode(ask(host, fleet.port, command("summary"), half_close=True)))["STATUS"] == "S"
    with socket.create_connection((host, fleet.port), timeout=3) as sock:
        sock.sendall(b'{"comma')
        time.sleep(0.05)
        sock.sendall(b'nd":"pools"}')
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert "POOLS" in decode(raw)


# -- moving values -------------------------------------------------------------------------


def test_hashrate_moves_within_two_percent_and_types_are_kept(fleet, clock):
    nominal = captured_reply("antminer-s19pro", "summary")["SUMMARY"][0]
    first = request(fleet, "antminer-s19pro", command("summary"))["SUMMARY"][0]
    second = request(fleet, "antminer-s19pro", command("summary"))["SUMMARY"][0]
    assert first["GHS 5s"] != second["GHS 5s"]
    for reply in (first, second):
        for key in ("GHS 5s", "GHS av", "GHS 30m"):
            assert isinstance(reply[key], float)
            assert abs(reply[key] / nominal[key] - 1) <= 0.02 + 1e-6
        assert isinstance(reply["Accepted"], int) and isinstance(reply["Elapsed"], int)
        assert reply["Best Share"] == nominal["Best Share"]  # not a moving field


def test_one_factor_per_request_across_totals_and_boards(fleet):
    captured = captured_reply("antminer-s19pro", "stats")["STATS"][1]
    stats = request(fleet, "antminer-s19pro", command("stats"))["STATS"][1]
    factor = stats["GHS 5s"] / captured["GHS 5s"]
    for chain in ("chain_rate1", "chain_rate2", "chain_rate3"):
        assert isinstance(stats[chain], str) and re.fullmatch(r"\d+\.\d{2}", stats[chain])
        assert float(stats[chain]) / float(captured[chain]) == pytest.approx(factor, rel=1e-5)
    assert stats["chain_rate4"] == "" and stats["total_rateideal"] == captured["total_rateideal"]
    assert stats["temp_chip1"] == captured["temp_chip1"]


def test_hashrate_scale_knob_stops_hashing_but_keeps_types(fleet):
    miner = fleet.miner(host_of(fleet, "vnish-s21pro"))
    miner.state.hashrate_scale = 0.0
    try:
        stats = request(fleet, "vnish-s21pro", command("stats"))["STATS"][1]
    finally:
        miner.state.hashrate_scale = 1.0
    assert stats["GHS 5s"] == "0.00" and stats["GHS av"] == 0.0 and stats["chain_rate2"] == 0.0
    assert stats["chain_rateideal1"] == 65505.727  # nominal, not a measured rate


def test_counters_and_clock_follow_wall_time(fleet, clock):
    before = request(fleet, "whatsminer-m31s", command("summary"))["SUMMARY"][0]
    clock.advance(3600)
    after_body = request(fleet, "whatsminer-m31s", command("summary"))
    after = after_body["SUMMARY"][0]
    assert after["Elapsed"] - before["Elapsed"] == 3600
    assert after["Uptime"] - before["Uptime"] == 3600
    assert after["Accepted"] > before["Accepted"] and isinstance(after["Accepted"], int)
    assert after["Total MH"] > before["Total MH"]
    assert after_body["STATUS"][0]["When"] == int(clock())
    assert after["Firmware Version"] == "'20201202.22.REL'"
    pools = request(fleet, "whatsminer-m31s", command("pools"))["POOLS"][0]
    assert pools["Last Share Time"] <= int(clock()) and int(clock()) - pools["Last Share Time"] < 60


def test_avalon_bracket_strings_move_too(fleet):
    mm = request(fleet, "avalon-1566", command("stats"))["STATS"][0]["MM ID0"]
    captured = captured_reply("avalon-1566", "stats")["STATS"][0]["MM ID0"]
    ghs = float(re.search(r"GHSmm\[([\d.]+)\]", mm).group(1))
    assert abs(ghs / 201920.42 - 1) <= 0.02 + 1e-6
    assert re.search(r"GHSavg\[\d+\.\d{2}\]", mm)
    assert re.sub(r"(GHSspd|GHSmm|GHSavg|MGHS|Elapsed)\[[^\]]*\]", "", mm) == re.sub(
        r"(GHSspd|GHSmm|GHSavg|MGHS|Elapsed)\[[^\]]*\]", "", captured
    )


def test_noise_is_deterministic_per_seed():
    clock = ManualClock()

    def sequence(seed: int, first: str) -> list[bytes]:
        fleet = SimulatedFleet.build(2, ["luxos-s19kpro"], first_address=first, port=0, seed=seed, clock=clock)
        with FleetThread(fleet):
            return [ask(m.address, fleet.port, command("summary+devs")) for m in fleet.miners for _ in range(3)]

    a = sequence(11, "127.77.10.1")
    assert a == sequence(11, "127.77.11.1")
    assert a != sequence(12, "127.77.12.1")
    assert a[0:3] != a[3:6]  # two miners of one fleet do not move in lockstep


# -- server and fleet ----------------------------------------------------------------------


def test_address_that_is_not_a_miner_gets_no_reply(fleet):
    assert ask("127.77.250.1", fleet.port, command("summary")) == b""


def test_three_hundred_miners_on_one_listener():
    fleet = SimulatedFleet.build(300, first_address="127.78.0.250", port=0)
    assert fleet.miners[5].address == "127.78.1.1"  # .255 and .0 skipped
    deadline = time.monotonic() + 15
    with FleetThread(fleet):
        for miner in fleet.miners:
            assert time.monotonic() < deadline
            body = decode(ask(miner.address, fleet.port, command("summary"), timeout=2))
            assert status(body)["STATUS"] == "S"
    assert len(fleet.journal) == 300
    assert {r.address for r in fleet.journal.snapshot()} == set(fleet.by_address)


def test_per_address_listeners():
    fleet = SimulatedFleet.build(3, ["braiins-s9"], first_address="127.77.20.1", port=0)
    with FleetThread(fleet, per_address=True):
        for miner in fleet.miners:
            assert status(decode(ask(miner.address, fleet.port, command("version"))))["STATUS"] == "S"
        with pytest.raises(ConnectionRefusedError):
            ask("127.77.20.9", fleet.port, command("version"))


def test_latency_knob_delays_only_that_miner(fleet):
    slow, fast = fleet.miners[0], fleet.miners[1]
    slow.state.latency = 0.4
    try:
        started = time.monotonic()
        decode(ask(slow.address, fleet.port, command("version")))
        assert time.monotonic() - started >= 0.4
        started = time.monotonic()
        decode(ask(fast.address, fleet.port, command("version")))
        assert time.monotonic() - started < 0.3
    finally:
        slow.state.latency = 0.0


def test_idle_connection_is_closed():
    fleet = SimulatedFleet.build(1, first_address="127.77.30.1", port=0)
    with FleetThread(fleet, idle_timeout=0.3):
        started = time.monotonic()
        assert ask("127.77.30.1", fleet.port, b"", timeout=3) == b""
        assert time.monotonic() - started < 2
    assert len(fleet.journal) == 0


def test_fleet_addresses_stay_on_loopback_and_skip_0_and_255():
    assert list(fleet_addresses("127.0.0.254", 3)) == ["127.0.0.254", "127.0.1.1", "127.0.1.2"]
    with pytest.raises(ValueError):
        list(fleet_addresses("127.255.255.254", 3))
    with pytest.raises(ValueError):
        list(fleet_addresses("10.0.0.1", 1))


def test_file_sd_groups_per_profile(tmp_path):
    fleet = SimulatedFleet.build(9, first_address="127.77.40.1", port=4099)
    path = fleet.write_file_sd(tmp_path / "sd" / "miners.json", labels={"site": "lab"})
    groups = json.loads(path.read_text())
    assert [g["labels"]["profile"] for g in groups] == list(PROFILES)
    assert sum(len(g["targets"]) for g in groups) == 9
    assert sorted(t for g in groups for t in g["targets"]) == sorted(fleet.targets())
    for group in groups:
        profile = PROFILES[group["labels"]["profile"]]
        assert group["labels"] == {**profile.labels(), "site": "lab"}
        assert all(re.fullmatch(r"127\.77\.40\.\d+:4099", t) for t in group["targets"])
        assert all(isinstance(v, str) for v in group["labels"].values())


def test_cli_lists_profiles_and_rejects_unknown_ones():
    runner = CliRunner()
    listed = runner.invoke(simulate, ["--list-profiles"])
    assert listed.exit_code == 0 and all(name in listed.output for name in PROFILES)
    bad = runner.invoke(simulate, ["--profiles", "antminer-s19pro,nope"])
    assert bad.exit_code != 0 and "nope" in bad.output


# -- faults: what they do to replies (manual clock: hours pass instantly) ------------------


@pytest.fixture
def faultless(fleet):
    fleet.clear_faults()
    yield fleet
    fleet.clear_faults()


def summary_of(fleet, profile):
    return request(fleet, profile, command("summary"))["SUMMARY"][0]


def test_hashrate_zero_stops_counters_but_not_the_clock(faultless, clock):
    fleet = faultless
    fleet.set_fault({"fault": "hashrate_zero"}, [host_of(fleet, "antminer-s19pro")])
    before = summary_of(fleet, "antminer-s19pro")
    clock.advance(3600)
    after = summary_of(fleet, "antminer-s19pro")
    assert after["GHS 5s"] == 0.0 and after["GHS av"] == 0.0
    assert after["Elapsed"] - before["Elapsed"] == 3600
    assert after["Accepted"] == before["Accepted"] and after["Total MH"] == before["Total MH"]
    fleet.clear_faults()
    clock.advance(3600)
    assert summary_of(fleet, "antminer-s19pro")["Accepted"] > after["Accepted"]  # hashing again


def test_board_dead_slows_counters_by_the_board_share(faultless, clock):
    fleet = faultless
    before = summary_of(fleet, "whatsminer-m31s")
    clock.advance(3600)
    healthy = summary_of(fleet, "whatsminer-m31s")["Total MH"] - before["Total MH"]
    fleet.set_fault({"fault": "board_dead", "board": 0}, [host_of(fleet, "whatsminer-m31s")])
    start = summary_of(fleet, "whatsminer-m31s")
    clock.advance(3600)
    degraded = summary_of(fleet, "whatsminer-m31s")["Total MH"] - start["Total MH"]
    assert degraded == pytest.approx(healthy * 2 / 3, rel=1e-6)
    edevs = request(fleet, "whatsminer-m31s", command("edevs"))["DEVS"]
    assert edevs[0]["MHS 5s"] == 0.0 and edevs[0]["Effective Chips"] == 0 and edevs[1]["Effective Chips"] == 105


def test_board_dead_keeps_json_types_in_bitmain_stats(faultless):
    fleet = faultless
    fleet.set_fault({"fault": "board_dead", "board": 2}, [host_of(fleet, "antminer-s19pro")])
    stats = request(fleet, "antminer-s19pro", command("stats"))["STATS"][1]
    assert stats["chain_rate3"] == "0.00" and set(stats["chain_acs3"].split()) == {"xxx"}
    assert stats["chain_acn3"] == 114  # detected chips: bmminer keeps counting them
    assert re.fullmatch(r"\d+\.\d{2}", stats["chain_rate1"]) and float(stats["chain_rate1"]) > 30000
    assert isinstance(stats["GHS 5s"], float) and stats["GHS 5s"] < 110566.89 * 0.7


def test_avalon_board_dead_edits_the_mm_string(faultless):
    fleet = faultless
    fleet.set_fault({"fault": "board_dead", "board": 1}, [host_of(fleet, "avalon-1566")])
    mm = request(fleet, "avalon-1566", command("stats"))["STATS"][0]["MM ID0"]
    rates = [float(v) for v in re.search(r"MGHS\[([^\]]*)\]", mm).group(1).split()]
    assert rates[1] == 0 and rates[0] > 50000 and rates[2] > 50000
    assert float(re.search(r"GHSspd\[([\d.]+)\]", mm).group(1)) < 199241.07 * 0.7


def test_reboot_restarts_uptime_and_counters_then_they_grow(faultless, clock):
    fleet = faultless
    address = host_of(fleet, "braiins-s9")
    old = summary_of(fleet, "braiins-s9")
    fleet.set_fault({"fault": "reboot"}, [address])
    fresh = summary_of(fleet, "braiins-s9")
    assert fresh["Elapsed"] == 0 and fresh["Accepted"] == 0 and fresh["Total MH"] == 0
    assert fresh["Best Share"] == old["Best Share"]  # not a counter the simulator moves
    clock.advance(3600)
    later = summary_of(fleet, "braiins-s9")
    assert later["Elapsed"] == 3600 and 0 < later["Accepted"] < old["Accepted"] + 1000
    assert fleet.faults() == {}


def test_pool_dead_hands_the_share_counters_to_the_backup(faultless, clock):
    fleet = faultless
    fleet.set_fault({"fault": "pool_dead"}, [host_of(fleet, "antminer-s19pro")])
    first = request(fleet, "antminer-s19pro", command("pools"))["POOLS"]
    clock.advance(7200)
    later = request(fleet, "antminer-s19pro", command("pools"))["POOLS"]
    assert [p["Status"] for p in later] == ["Dead", "Alive", "Alive"]
    assert [p["Stratum Active"] for p in later] == [False, True, False]
    assert later[0]["Accepted"] == first[0]["Accepted"]  # frozen
    assert later[1]["Accepted"] > first[1]["Accepted"] and isinstance(later[1]["Accepted"], int)
    # the summary goes on counting every share, whichever pool took it
    grown = later[1]["Accepted"] - first[1]["Accepted"]
    assert grown == pytest.approx(4057 / 50474 * 7200, abs=2)


def test_reject_spike_rejects_a_ratio_of_the_new_shares(faultless, clock):
    fleet = faultless
    fleet.set_fault({"fault": "reject_spike", "ratio": 0.5}, [host_of(fleet, "whatsminer-m31s")])
    before = summary_of(fleet, "whatsminer-m31s")
    clock.advance(36000)
    after = summary_of(fleet, "whatsminer-m31s")
    accepted, rejected = after["Accepted"] - before["Accepted"], after["Rejected"] - before["Rejected"]
    assert accepted > 1000 and rejected == pytest.approx(accepted, rel=0.01)  # half the shares rejected
    assert after["Difficulty Rejected"] > before["Difficulty Rejected"]


def test_overheating_fan_stopped_and_their_combination(faultless):
    fleet = faultless
    address = host_of(fleet, "whatsminer-m31s")
    fleet.set_fault({"fault": "overheating", "delta": 10}, [address])
    fleet.set_fault({"fault": "fan_stopped", "fan": "in"}, [address])
    summary = summary_of(fleet, "whatsminer-m31s")
    assert summary["Chip Temp Max"] == 103.0 and summary["Temperature"] == 82.0 and summary["Env Temp"] == 7.0
    assert summary["Fan Speed In"] == 0
    assert {f["fault"] for f in fleet.faults()[address]} == {"overheating", "fan_stopped"}
    fleet.clear_faults([address], ["fan_stopped"])
    assert summary_of(fleet, "whatsminer-m31s")["Fan Speed In"] == 5700


def test_fault_specs_are_validated_and_errors_name_the_key(faultless):
    from simulator import FaultError, parse_fault

    assert parse_fault({"fault": "board_dead", "board": 2}).key == "board_dead:2"
    for bad, key in [
        ({"fault": "board_dead"}, "board"),
        ({"fault": "board_dead", "board": 1, "borad": 1}, "borad: unknown key"),
        ({"fault": "slow_reply", "seconds": -1}, "seconds"),
        ({"fault": "nope"}, "fault: unknown fault 'nope'"),
    ]:
        with pytest.raises(FaultError, match=key):
            parse_fault(bad)
    with pytest.raises(FaultError, match="fan: .* has fans in, out"):
        faultless.set_fault({"fault": "fan_stopped", "fan": 5}, [host_of(faultless, "whatsminer-m31s")])
    with pytest.raises(FaultError, match="board: antminer-s21 .* 0..2"):
        faultless.set_fault({"fault": "board_dead", "board": 3}, [host_of(faultless, "antminer-s21")])


def test_transport_faults_on_the_wire(faultless):
    fleet = faultless
    host = host_of(fleet, "vnish-s21pro")
    fleet.set_fault({"fault": "malformed_json"}, [host])
    raw = ask(host, fleet.port, command("summary"))
    assert raw.endswith(b"\x00")
    with pytest.raises(ValueError):
        json.loads(raw[:-1])
    fleet.set_fault({"fault": "oversized", "bytes": 200_000}, [host])  # replaces nothing: combines
    raw = ask(host, fleet.port, command("summary"))
    assert len(raw) > 200_000 and decode(raw)["padding"] == "0" * 200_000  # oversized wins, valid JSON
    fleet.clear_faults([host])
    fleet.set_fault({"fault": "offline"}, [host])
    with pytest.raises(ConnectionResetError), socket.create_connection((host, fleet.port), timeout=2) as sock:
        sock.sendall(command("summary"))  # shared listener: reset, not refused
        sock.recv(10)


def test_slow_reply_overrides_the_latency_knob(faultless):
    fleet = faultless
    target = fleet.miner(host_of(fleet, "luxos-s19kpro"))
    target.state.latency = 0.05
    try:
        fleet.set_fault({"fault": "slow_reply", "seconds": 0.4}, [target.address])
        assert target.latency == 0.4
        started = time.monotonic()
        decode(ask(target.address, fleet.port, command("version")))
        assert time.monotonic() - started >= 0.4
        fleet.clear_faults()
        assert target.latency == 0.05
    finally:
        target.state.latency = 0.0


def test_hung_miner_holds_the_connection_until_the_idle_timeout():
    fleet = SimulatedFleet.build(1, first_address="127.77.31.1", port=0)
    fleet.set_fault({"fault": "hung"}, ["127.77.31.1"])
    with FleetThread(fleet, idle_timeout=0.4):
        started = time.monotonic()
        assert ask("127.77.31.1", fleet.port, command("summary"), timeout=3) == b""
        assert 0.35 < time.monotonic() - started < 2
    assert [r.command for r in fleet.journal.snapshot()] == ["summary"]  # received, never answered


def test_offline_in_per_address_mode_refuses_then_comes_back():
    fleet = SimulatedFleet.build(2, ["braiins-s9"], first_address="127.77.21.1", port=0)
    with FleetThread(fleet, per_address=True):
        fleet.set_fault({"fault": "offline"}, ["127.77.21.1"])
        with pytest.raises(ConnectionRefusedError):
            ask("127.77.21.1", fleet.port, command("version"))
        assert status(decode(ask("127.77.21.2", fleet.port, command("version"))))["STATUS"] == "S"
        fleet.clear_faults(["127.77.21.1"])
        assert status(decode(ask("127.77.21.1", fleet.port, command("version"))))["STATUS"] == "S"


# -- control API ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def control(fleet):
    from simulator.control import control_app
    from tests.support.servers import AppThread

    server = AppThread(lambda: control_app(fleet)).start()
    yield server.url
    server.stop()


def test_control_api_sets_lists_and_clears_faults(faultless, control):
    import requests

    fleet = faultless
    address = host_of(fleet, "antminer-s19pro")
    index = requests.get(f"{control}/", timeout=5).json()
    assert index["miners"] == len(fleet) and "board_dead" in index["faults"]
    put = requests.put(f"{control}/miners/{address}/faults", json={"fault": "board_dead", "board": 1}, timeout=5)
    assert put.status_code == 200
    assert put.json()["faults"][0]["fault"] == "board_dead" and put.json()["faults"][0]["board"] == 1
    slow = {"fault": "slow_reply", "seconds": 0.2}
    post = requests.post(f"{control}/miners/{address}/faults", json=slow, timeout=5)
    assert [f["fault"] for f in post.json()["faults"]] == ["board_dead", "slow_reply"]
    assert fleet.miner(address).latency == 0.2
    listed = requests.get(f"{control}/faults", timeout=5).json()["miners"]
    assert list(listed) == [address] and len(listed[address]) == 2
    assert requests.get(f"{control}/miners/{address}", timeout=5).json()["profile"] == "antminer-s19pro"
    one = requests.delete(f"{control}/miners/{address}/faults/slow_reply", timeout=5)
    assert [f["fault"] for f in one.json()["faults"]] == ["board_dead"]
    assert requests.delete(f"{control}/miners/{address}/faults/hung", timeout=5).status_code == 404
    assert requests.delete(f"{control}/miners/{address}/faults", timeout=5).json()["faults"] == []
    assert fleet.faults() == {}


def test_control_api_selects_miners_by_profile_and_count(faultless, control):
    import requests

    fleet = faultless
    body = {"profile": "braiins-s9", "count": 1, "fault": "overheating"}
    done = requests.post(f"{control}/faults", json=body, timeout=5)
    assert done.status_code == 200 and done.json()["miners"] == [host_of(fleet, "braiins-s9")]
    everyone = requests.post(f"{control}/faults", json={"all": True, "fault": "pool_dead"}, timeout=5)
    assert len(everyone.json()["miners"]) == len(fleet)
    cleared = requests.delete(f"{control}/faults", params={"fault": "pool_dead"}, timeout=5).json()["cleared"]
    assert len(cleared) == len(fleet)
    assert list(fleet.faults()) == [host_of(fleet, "braiins-s9")]
    assert requests.delete(f"{control}/faults", timeout=5).json()["cleared"] == [host_of(fleet, "braiins-s9")]


@pytest.mark.parametrize(
    "path, body, status_code, message",
    [
        ("/miners/127.77.0.1/faults", {"fault": "board_dead", "boards": 1}, 400, "boards: unknown key"),
        ("/miners/127.77.0.1/faults", {"fault": "melted"}, 400, "fault: unknown fault 'melted'"),
        ("/miners/127.77.0.1/faults", {"fault": "board_dead", "board": 9}, 400, "board: antminer-s19pro"),
        ("/miners/127.1.1.1/faults", {"fault": "offline"}, 404, "not a simulated miner"),
        ("/faults", {"fault": "offline"}, 400, "miners: select miners"),
        ("/faults", {"profile": "x", "fault": "offline"}, 400, "profile: unknown profile 'x'"),
        ("/faults", {"miners": ["127.1.1.1"], "fault": "offline"}, 400, "miners: 127.1.1.1"),
        ("/faults", {"profile": "avalon-1566", "count": 5, "fault": "offline"}, 400, "count: 5 asked"),
        ("/faults", [1, 2], 400, "body: expected a JSON object"),
    ],
)
def test_control_api_errors_name_the_key(faultless, control, path, body, status_code, message):
    import requests

    response = requests.post(f"{control}{path}", json=body, timeout=5)
    assert response.status_code == status_code
    assert message in response.json()["error"]
    assert faultless.faults() == {}


# -- scenario files ------------------------------------------------------------------------

SCENARIO = """
steps:
  - at: 0s
    miners: [127.77.0.1]
    fault: board_dead
    board: 1
  - at: 1m30s
    profile: braiins-s9
    fault: hung
  - at: 250ms
    count: 2
    fault: slow_reply
    seconds: 0.5
  - at: 2m
    miners: [127.77.0.1]
    clear: board_dead
  - at: 2m
    clear: all
"""


def test_scenario_steps_apply_at_their_times(faultless, tmp_path):
    from simulator.scenario import ScenarioRunner, load_scenario

    fleet = faultless
    path = tmp_path / "scenario.yml"
    path.write_text(SCENARIO)
    lines = []
    runner = ScenarioRunner(load_scenario(path, fleet), fleet, report=lines.append)
    assert [step.at for step in runner.steps] == [0, 0.25, 90, 120, 120]
    assert runner.advance(0) == 1 and list(fleet.faults()) == ["127.77.0.1"]
    assert runner.advance(0.2) == 0
    assert runner.advance(0.25) == 1
    assert {a: [f["fault"] for f in fs] for a, fs in fleet.faults().items()} == {
        "127.77.0.1": ["board_dead", "slow_reply"], "127.77.0.2": ["slow_reply"],
    }  # fmt: skip
    runner.advance(100)
    assert fleet.miner(host_of(fleet, "braiins-s9")).hung
    runner.advance(120)
    assert runner.finished and fleet.faults() == {}
    assert lines[0] == "t=0s board_dead board=1 on 127.77.0.1" and lines[-1] == "t=120s clear all on every miner"


@pytest.mark.parametrize(
    "text, message",
    [
        ("steps:\n  - at: 1s\n    miners: [127.77.0.1]\n    fault: board_dead\n    borad: 1\n",
         "steps.0.board_dead.borad: unknown key"),
        ("steps:\n  - at: soon\n    all: true\n    fault: offline\n", "steps.0.offline.at: expected a duration"),
        ("steps:\n  - at: 1s\n    all: true\n    fault: sleepy\n", "steps.0: fault: unknown fault 'sleepy'"),
        ("steps:\n  - at: 1s\n    all: true\n", "steps.0: a step needs a fault: or a clear: key"),
        ("steps:\n  - at: 1s\n    clear: [hung, stuck]\n", "steps.0.clear.clear: unknown fault 'stuck'"),
        ("step:\n  - at: 1s\n", "step: unknown key"),
        ("steps:\n  - at: 1s\n    fault: offline\n", "steps.0.miners: select miners"),
        ("steps:\n  - at: 1s\n    miners: [127.77.9.9]\n    fault: offline\n", "steps.0.miners: 127.77.9.9"),
        ("steps:\n  - at: 1s\n    profile: antminer-s21\n    fault: board_dead\n    board: 4\n", "steps.0.board:"),
    ],
)  # fmt: skip
def test_scenario_errors_name_the_file_step_and_key(fleet, tmp_path, text, message):
    from hashwatch.config import ConfigError
    from simulator.scenario import load_scenario

    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_scenario(path, fleet)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_simulate_command_control_api_scenario_and_clean_sigterm(tmp_path):
    import queue
    import signal
    import subprocess
    import sys
    import threading

    import requests

    scenario = tmp_path / "scenario.yml"
    scenario.write_text(
        "steps:\n  - at: 0s\n    miners: [127.77.60.2]\n    fault: fan_stopped\n    fan: 1\n"
        "  - at: 300ms\n    clear: all\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--miners", "3", "--first-address", "127.77.60.1", "--port", "0",
         "--control.listen-address", "127.0.0.1:0", "--scenario", str(scenario), "--loop", "asyncio"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()

    def until(prefix: str) -> list[str]:
        seen = []
        deadline = time.monotonic() + 20
        while not (seen and seen[-1].startswith(prefix)):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())).rstrip("\n"))
        return seen

    try:
        before_ready = until("listening: 3 miners on 127.77.60.1 .. 127.77.60.3 port ")
        assert "(one wildcard listener, asyncio loop)" in before_ready[-1]
        url = next(line for line in before_ready if line.startswith("control API on ")).split()[-1]
        assert "scenario: t=0s fan_stopped fan=1 on 127.77.60.2" in before_ready  # in force once listening
        assert list(requests.get(f"{url}faults", timeout=5).json()["miners"]) == ["127.77.60.2"]
        until("scenario: t=0.3s clear all")
        assert requests.get(f"{url}faults", timeout=5).json()["miners"] == {}
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert until("stopped")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
