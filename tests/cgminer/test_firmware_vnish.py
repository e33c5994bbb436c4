"""VNish firmware against recorded replies."""

from __future__ import annotations

import pytest

from exporters.cgminer.commands import READ_ONLY_COMMANDS
from exporters.cgminer.firmware import PARSERS
from exporters.cgminer.firmware.detect import identify
from exporters.cgminer.firmware.vnish import VnishParser
from exporters.cgminer.model import Fault, MinerStatus
from tests.support.cgminer_fixtures import load_reply, load_replies
from tests.support.mangle import mangled_replies, survives_mangling

S21PRO_127 = {
    "stats": "vnish/s21pro_vnish127_stats.json",
    "summary": "vnish/s21pro_vnish127_summary.json",
    "pools": "vnish/s21pro_vnish127_pools.json",
}
S19XP_120 = {
    "stats": "vnish/s19xp_vnish120rc1_stats.json",
    "summary": "vnish/s19xp_vnish120rc1_summary.json",
    "pools": "vnish/s19xp_vnish120rc1_pools.json",
}
S9_386 = {"stats": "quirks/antminer_s9_vnish386_stats_missing_comma.txt"}


def parse(files: dict[str, str]) -> MinerStatus:
    return VnishParser().parse(load_replies(files))


def test_parser_declaration():
    assert PARSERS["vnish"] is VnishParser
    assert (VnishParser.name, VnishParser.make) == ("vnish", "Bitmain")
    assert VnishParser.commands == ("stats", "summary", "pools")
    assert "version" not in VnishParser.commands  # VNish answers it with an error
    assert set(VnishParser.commands + VnishParser.optional_commands) <= READ_ONLY_COMMANDS
    assert VnishParser.multi_command is False


def test_s21pro_vnish127():
    status = parse(S21PRO_127)
    assert (status.make, status.model, status.firmware, status.firmware_version) == (
        "Bitmain", "S21 Pro", "vnish", "1.2.7")
    assert status.hashrate == pytest.approx(173870.94e9)
    assert status.hashrate_average == pytest.approx(174374.75e9)
    assert status.expected_hashrate == pytest.approx(196517.17e9)
    assert status.power_watts == 2583.0  # 3 x chain_consumption 861
    assert status.mining is True  # state "auto-tuning" still hashes
    assert status.faults == []  # chain_fault* are ""
    assert [(fan.index, fan.rpm, fan.speed_ratio) for fan in status.fans] == [
        ("0", 5850, 0.9), ("1", 5850, 0.9), ("2", 5940, 0.9), ("3", 5940, 0.9)]
    assert (status.accepted, status.rejected, status.stale, status.hardware_errors) == (1823, 10, 0, 57)
    assert status.best_share == 169988423
    assert status.uptime_seconds == 4423
    # DevFee pseudo pool dropped
    assert [(pool.index, pool.user, pool.active) for pool in status.pools] == [
        ("0", "proto_mining_sw_test_s21pro-12g", True), ("1", "proto_mining_sw_test_m60s-440", False)]
    assert status.pools[0].accepted == 1599


@pytest.mark.parametrize(
    "index, rate_ghs, chip, pcb, hw",
    [("0", 60797.19, 65, 50, 29), ("1", 57766.645, 64, 49, 20), ("2", 55307.1, 64, 49, 8)],
)
def test_s21pro_vnish127_boards(index, rate_ghs, chip, pcb, hw):
    boards = {board.index: board for board in parse(S21PRO_127).boards}
    assert list(boards) == ["0", "1", "2"]
    board = boards[index]
    assert board.hashrate == pytest.approx(rate_ghs * 1e9)  # numeric chain_rate on 1.2.7
    assert board.expected_hashrate == pytest.approx(65505.727e9)
    assert (board.chips, board.expected_chips) == (65, None)  # no chain_acs: nothing to compare with
    assert board.temperatures == {"chip": chip, "pcb": pcb}  # "65-55-65-65" style strings
    assert board.hardware_errors == hw
    assert board.frequency_hz == pytest.approx(495e6)
    assert board.voltage_volts == pytest.approx(13.0)  # chain_vol 13000 mV
    assert board.power_watts == 861
    assert board.status == "mining"


def test_s19xp_vnish120rc1():
    status = parse(S19XP_120)
    assert (status.model, status.firmware_version) == ("S19 XP", "1.2.0-rc1")
    assert status.hashrate == pytest.approx(140258.58e9)  # "GHS 5s" is a string
    assert status.hashrate_average == pytest.approx(142562.73e9)
    assert status.expected_hashrate == pytest.approx(144399.77e9)
    assert status.power_watts is None  # chain_consumption all 0: no PSU metering
    assert status.mining is True
    assert [fan.rpm for fan in status.fans] == [2790, 2850, 2940, 2910]
    assert {fan.speed_ratio for fan in status.fans} == {0.25}
    assert (status.accepted, status.rejected, status.stale, status.hardware_errors) == (226146, 94, 177, 8004)
    assert status.best_share == 11482220369
    # Msg says "6 Pool(s)", 4 entries, one of them DevFee
    assert [pool.url for pool in status.pools] == [
        "stratum+tcp://eu.ss.btc.com:1800", "stratum+tcp://eu.ss.btc.com:443", "stratum+tcp://eu.ss.btc.com:25"]
    assert [pool.alive for pool in status.pools] == [True, True, False]
    boards = status.boards
    assert [board.index for board in boards] == ["0", "1", "2"]
    assert [board.hashrate for board in boards] == pytest.approx([47016.68e9, 47262.92e9, 45978.98e9])
    assert [board.expected_hashrate for board in boards] == pytest.approx([48267.06e9, 47933.6e9, 48199.12e9])
    assert [(board.chips, board.expected_chips) for board in boards] == [(110, 110)] * 3  # acs groups of 10
    assert [board.hardware_errors for board in boards] == [0, 7994, 0]
    assert [board.frequency_hz for board in boards] == pytest.approx([490.82e6, 487.43e6, 490.13e6])
    assert [board.voltage_volts for board in boards] == pytest.approx([12.625] * 3)
    assert [board.power_watts for board in boards] == [None] * 3
    assert [board.temperatures for board in boards] == [
        {"chip": 75, "pcb": 60}, {"chip": 72, "pcb": 57}, {"chip": 74, "pcb": 59}]  # "min-max" pairs


def test_s9_vnish386():
    status = parse(S9_386)
    assert (status.model, status.firmware, status.firmware_version) == ("S9", "vnish", "3.8.6")
    assert status.hashrate == pytest.approx(12795.48e9)
    assert status.expected_hashrate == pytest.approx(12927.6e9)
    assert status.power_watts == 1485.0
    assert status.mining is None  # 3.x has no `state`
    assert {fan.index: fan.rpm for fan in status.fans} == {"4": 5400, "5": 5880}
    assert {fan.speed_ratio for fan in status.fans} == {None}
    boards = status.boards
    assert [board.index for board in boards] == ["0", "1", "2"]  # chains 6-8
    assert [board.hashrate for board in boards] == pytest.approx([4264.48e9, 4298.32e9, 4232.67e9])
    assert [board.voltage_volts for board in boards] == [9.2] * 3  # chain_vol 920 in 10 mV steps
    assert [board.power_watts for board in boards] == [495] * 3
    assert [board.hardware_errors for board in boards] == [1, 3, 293]
    assert [board.temperatures for board in boards] == [
        {"chip": 80, "pcb": 65}, {"chip": 71, "pcb": 56}, {"chip": 78, "pcb": 63}]


@pytest.mark.parametrize(
    "state, mining", [("mining", True), ("auto-tuning", True), ("stopped", False), ("initializing", None), (7, None)]
)
def test_state_to_mining(state, mining):
    replies = load_replies(S21PRO_127)
    replies["stats"].sections["STATS"][1]["state"] = state
    assert VnishParser().parse(replies).mining is mining


def test_chain_fault_becomes_a_fault():
    replies = load_replies(S21PRO_127)
    replies["stats"].sections["STATS"][1]["chain_fault2"] = "temperature sensor lost"
    status = VnishParser().parse(replies)
    assert status.faults == [Fault(code="chain_fault:1", message="temperature sensor lost")]


def test_partial_power_metering_is_not_summed():
    replies = load_replies(S21PRO_127)
    replies["stats"].sections["STATS"][1]["chain_consumption3"] = 0
    status = VnishParser().parse(replies)
    assert status.boards[2].power_watts is None
    assert status.power_watts is None  # 1722 W would under-report


def test_version_error_and_detection():
    error = load_reply("vnish/s21pro_vnish127_version_error.json", "version")
    assert not error.ok
    assert error.code == 0 and error.msg == "Invalid command"  # Code 0, not 14
    assert identify({"version": error}) is None  # inconclusive: ask `stats`
    stats = load_reply("vnish/s21pro_vnish127_stats.json", "stats")
    assert identify({"version": error, "stats": stats}) == "vnish"


@pytest.mark.parametrize(
    "path", ["vnish/s21pro_vnish127_stats.json", "vnish/s19xp_vnish120rc1_stats.json",
             "quirks/antminer_s9_vnish386_stats_missing_comma.txt"]
)
def test_identify_stats(path):
    assert identify({"stats": load_reply(path, "stats")}) == "vnish"


def test_devdetails_is_not_needed():
    devdetails = load_reply("vnish/s21pro_vnish127_devdetails.json", "devdetails")
    assert devdetails.ok and devdetails.first("DEVDETAILS")["Driver"] == "bitmain_s21pro_drv"
    assert "devdetails" not in VnishParser.commands + VnishParser.optional_commands
    assert VnishParser().parse({**load_replies(S21PRO_127), "devdetails": devdetails}) == parse(S21PRO_127)


@pytest.mark.parametrize("missing", ["stats", "summary", "pools"])
def test_missing_reply(missing):
    status = parse({k: v for k, v in S21PRO_127.items() if k != missing})
    assert status.firmware == "vnish"
    assert (status.model == "") is (missing == "stats")
    assert (status.boards == []) is (missing == "stats")
    assert (status.pools == []) is (missing == "pools")
    assert (status.accepted is None) is (missing == "summary")
    # the 5 s rate is in both stats and summary
    assert status.hashrate == pytest.approx(173870.94e9)


@pytest.mark.parametrize("files", [S21PRO_127, S19XP_120, S9_386])
def test_malformed_fields_never_raise(files):
    assert survives_mangling(VnishParser(), mangled_replies(load_replies(files))) > 100
