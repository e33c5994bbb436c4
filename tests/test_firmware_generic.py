"""The generic "cgminer" fallback parser against recorded replies.
"""

from __future__ import annotations


import pytest

from exporters.cgminer.commands import READ_ONLY_COMMANDS
from exporters.cgminer.firmware import PARSERS, parser_for
from exporters.cgminer.firmware.detect import identify
from exporters.cgminer.firmware.generic import GenericParser, ghs_unit
from exporters.cgminer.model import MinerStatus
from tests.cgminer_fixtures import load_reply, load_replies
from tests.mangle import mangled_replies, parse_and_render

CGMINER_490_SUMMARY = "other/cgminer490_summary_bestshare_uint64max.json"
CHEETAH_DEVDETAILS = "other/cheetah_c3012_devdetails.json"
ACCESS_DENIED = "errors/cgminer490_access_denied_code45.json"



def parse(files: dict[str, str]) -> MinerStatus:
    return GenericParser().parse(load_replies(files))


def test_declaration():
    assert PARSERS["cgminer"] is GenericParser
    assert parser_for("no-such-family").__class__ is GenericParser
    assert GenericParser.name == "cgminer"
    assert GenericParser.make == ""
    assert GenericParser.commands == ("version", "summary", "pools")
    assert GenericParser.optional_commands == ("devs", "devdetails")
    assert GenericParser.multi_command is True
    assert set(GenericParser.commands + GenericParser.optional_commands) <= READ_ONLY_COMMANDS


def test_cgminer_490_summary_ghs_keys_hold_megahashes():
    status = parse({"summary": CGMINER_490_SUMMARY})
    # "GHS av" 419793.09 equals Total MH / Elapsed (173723454750 / 413831), so this
    # build's "GHS" keys are MH/s; "GHS 5s" is even a string.
    assert status.hashrate == pytest.approx(411543.88e6)
    assert status.hashrate_average == pytest.approx(419793.09e6)
    assert status.best_share == 18446744073709551615  # UINT64_MAX, exact
    assert (status.accepted, status.rejected, status.stale, status.hardware_errors) == (45517, 98, 0, 0)
    assert status.uptime_seconds == 413831
    assert status.firmware_version == "4.9.0"  # from Description "cgminer 4.9.0"
    assert (status.make, status.model, status.firmware) == ("", "", "cgminer")
    assert status.boards == [] and status.pools == [] and status.expected_hashrate is None


def test_true_gigahash_summary_is_left_in_gigahashes():
    summary = load_reply("antminer/s19pro_stock_2022_summary.json", "summary")
    assert ghs_unit(summary.first("SUMMARY")) == "GH"
    status = GenericParser().parse({"summary": summary})
    assert status.hashrate == pytest.approx(110566.89e9)


def test_cheetah_devdetails_gives_device_count_not_model():
    status = parse({"summary": CGMINER_490_SUMMARY, "devdetails": CHEETAH_DEVDETAILS})
    # Model is "0", "1", "2" (a per-device number), so no model is claimed.
    assert status.model == ""
    assert [board.index for board in status.boards] == ["0", "1", "2"]
    assert all(board.hashrate is None and board.temperatures == {} for board in status.boards)


def test_devdetails_description_gives_version_when_nothing_else_does():
    status = parse({"devdetails": CHEETAH_DEVDETAILS})
    assert status.firmware_version == "4.10.0"
    assert status.hashrate is None and status.accepted is None


def test_avalon_devs_through_generic_drop_sentinel_temperature():
    status = parse(
        {
            "version": "avalon/avalon1566_fw24102401_version.json",
            "devs": "avalon/avalon1566_fw24102401_devs.json",
            "pools": "avalon/avalon1566_fw24102401_pools.json",
        }
    )
    assert status.firmware_version == "4.11.1"  # VERSION CGMiner
    assert status.model == ""  # no "Type" in an Avalon VERSION
    (board,) = status.boards
    assert board.index == "0"
    assert board.hashrate == pytest.approx(197497926.49e6)  # "MHS 30s"
    assert board.temperatures == {}  # "Temperature": -273.0 is the driver's "unread"
    assert (board.hardware_errors, board.status) == (0, "Alive")
    assert [pool.index for pool in status.pools] == ["0", "1", "2"]
    assert status.pools[0].user == "pool_username.real_worker" and status.pools[0].active is True


def test_avalon_q_devs_zero_temperature_is_no_reading():
    status = parse(
        {
            "devs": "avalon/avalon_q_fw25052801_devs.json",
            "devdetails": "avalon/avalon_q_fw25052801_devdetails.json",
        }
    )
    (board,) = status.boards
    assert board.temperatures == {}  # 0.0: api.c's default for a driver without a sensor
    assert board.hashrate == 0.0  # the Q is idle: "MHS 5s": 0.0 is a real reading
    assert status.model == ""  # DEVDETAILS Model is ""


def test_access_denied_reply_is_an_error_the_parser_never_sees():
    denied = load_reply(ACCESS_DENIED, "config")
    assert (denied.ok, denied.status, denied.code) == (False, "E", 45)
    assert denied.msg == "Access denied to 'config' command"
    status = GenericParser().parse({"summary": load_reply(CGMINER_490_SUMMARY, "summary")})
    assert status.firmware_version == "4.9.0"


def test_detection_falls_back_to_cgminer():
    denied = load_reply(ACCESS_DENIED, "version")
    replies = {"version": denied, "stats": denied, "summary": load_reply(CGMINER_490_SUMMARY, "summary")}
    assert identify({"version": denied}) is None  # not conclusive yet: ask the next command
    assert identify(replies) == "cgminer"


def test_parse_never_raises_on_mangled_replies():
    replies = load_replies(
        {
            "version": "avalon/avalon1566_fw24102401_version.json",
            "summary": CGMINER_490_SUMMARY,
            "pools": "avalon/avalon1566_fw24102401_pools.json",
            "devs": "avalon/avalon1566_fw24102401_devs.json",
            "devdetails": CHEETAH_DEVDETAILS,
        }
    )
    count = 0
    for broken in mangled_replies(replies):
        parse_and_render(GenericParser(), broken)
        count += 1
    assert count > 1000
