"""MicroBT Whatsminer (btminer) against recorded replies."""

from __future__ import annotations

import pytest

from exporters.cgminer.commands import CMD_KEY_COMMANDS, READ_ONLY_COMMANDS, encode_request
from exporters.cgminer.firmware import PARSERS
from exporters.cgminer.firmware.detect import identify
from exporters.cgminer.firmware.whatsminer import WhatsminerParser
from exporters.cgminer.model import MinerStatus
from exporters.cgminer.reply import parse_reply
from tests.support.cgminer_fixtures import load_multi, load_reply, load_replies
from tests.support.mangle import mangled_replies, survives_mangling

M31S_2020_12 = {
    "summary": "whatsminer/m31s_fw20201202_summary.json",
    "edevs": "whatsminer/m31s_fw20201202_edevs.json",
    "pools": "whatsminer/m31s_fw20201202_pools.json",
}
# The "sleeping" M31S: its status reply says btminer is off.
M31S_2020_05 = {
    "summary": "whatsminer/m31s_fw20200512_summary.json",
    "edevs": "whatsminer/m31s_fw20200512_edevs.json",
    "pools": "whatsminer/m31s_fw20200512_pools.json",
    "status": "whatsminer/m31s_btminer_status_mineroff.json",
}
# devs and edevs share one layout (api.c); these captures answered devs.
M30S_2021 = {
    "summary": "whatsminer/m30s_fw20210322_summary.json",
    "edevs": "whatsminer/m30s_fw20210322_devs.json",
    "pools": "whatsminer/m30s_fw20210322_pools.json",
    "status": "whatsminer/m30s_fw20210322_status.json",
}
M20S_2020 = {
    "summary": "quirks/whatsminer_m20s_summary_invalid_escape.txt",
    "edevs": "whatsminer/m20s_fw2020_devs.json",
}
MULTI = "whatsminer/m31s_fw20210109_multicommand_pools_summary_edevs.json"


def parse(files: dict[str, str]) -> MinerStatus:
    return WhatsminerParser().parse(load_replies(files))


def boards(status: MinerStatus) -> dict:
    return {board.index: board for board in status.boards}


def test_declaration():
    assert PARSERS["whatsminer"] is WhatsminerParser
    assert (WhatsminerParser.name, WhatsminerParser.make) == ("whatsminer", "MicroBT")
    assert WhatsminerParser.commands == ("summary", "edevs", "pools")
    assert WhatsminerParser.optional_commands == ("status",)
    assert WhatsminerParser.static_commands == ("devdetails", "get_version")
    assert WhatsminerParser.multi_command is True
    assert set(WhatsminerParser.commands + WhatsminerParser.optional_commands + WhatsminerParser.static_commands) <= READ_ONLY_COMMANDS
    # the v2 commands go alone under "cmd"; the rest join under "command"
    assert {"status", "get_version"} <= CMD_KEY_COMMANDS
    assert encode_request(("status",)) == b'{"cmd": "status"}'
    assert encode_request(WhatsminerParser.commands) == b'{"command": "summary+edevs+pools"}'


def test_m31s_fw20201202():
    status = parse(M31S_2020_12)
    assert (status.make, status.model, status.firmware) == ("MicroBT", "", "whatsminer")
    assert status.firmware_version == "20201202.22.REL"  # sent as "'20201202.22.REL'"
    assert status.hashrate == pytest.approx(92768288.94e6)  # MHS 5s
    assert status.hashrate_average == pytest.approx(76718604.38e6)
    assert status.expected_hashrate == pytest.approx(75697e9)  # Factory GHS
    assert (status.power_watts, status.power_limit_watts) == (3553, 3600)
    assert status.temperatures == {"inlet": 7.0}  # Env Temp
    assert [(fan.index, fan.rpm) for fan in status.fans] == [("in", 5700), ("out", 0)]
    assert (status.accepted, status.rejected, status.stale, status.hardware_errors) == (2296, 1, 0, 0)
    assert status.best_share == 1320888597
    assert status.uptime_seconds == 33102  # Elapsed, not btminer's system "Uptime"
    # Error Code 0..2 only; Factory Error Code 208/2310 are factory history
    assert [fault.code for fault in status.faults] == ["110", "111", "131"]
    assert status.mining is None  # no status reply
    assert len(status.boards) == 3
    board = boards(status)["0"]
    assert board.chips == 105
    assert board.temperatures == {"pcb": 57.5, "chip": 77.44}
    assert board.hashrate == pytest.approx(25012892.74e6)
    assert board.frequency_hz == 686e6
    assert (board.hardware_errors, board.status) == (0, "Alive")
    assert boards(status)["1"].temperatures == {"pcb": 72.0, "chip": 93.0}
    assert boards(status)["2"].frequency_hz == 718e6
    assert [pool.index for pool in status.pools] == ["1", "2", "3"]  # btminer numbers pools from 1
    assert [pool.active for pool in status.pools] == [True, False, False]
    assert (status.pools[0].accepted, status.pools[0].worker) == (2296, "12x22")


def test_m31s_fw20200512_sleeping():
    status = parse(M31S_2020_05)
    assert status.mining is False  # "btmineroff": "true"
    assert status.firmware_version == "20200512.13.REL"  # summary wins over status's 20210109
    assert status.hashrate == pytest.approx(85038430.01e6)
    assert status.expected_hashrate == pytest.approx(86472e9)
    assert (status.power_watts, status.power_limit_watts) == (3230, 3600)
    assert status.temperatures == {"inlet": 11.0}
    assert [fault.code for fault in status.faults] == ["205"]
    assert (status.accepted, status.rejected, status.hardware_errors, status.uptime_seconds) == (1739, 1, 800, 29600)
    assert [(fan.index, fan.rpm) for fan in status.fans] == [("in", 2370), ("out", 2430)]
    board = boards(status)["0"]
    assert (board.chips, board.frequency_hz, board.hardware_errors) == (156, 546e6, 396)
    assert board.temperatures == {"pcb": 80.0, "chip": 99.79}
    assert [pool.index for pool in status.pools] == ["0", "1", "2"]  # this build counts from 0


def test_m30s_fw20210322_with_status():
    status = parse(M30S_2021)
    assert status.mining is True  # "btmineroff": "false"
    # the status capture is from a later firmware; summary's own version is used
    assert status.firmware_version == "20210322.22.REL"
    assert status.hashrate == pytest.approx(70668114.52e6)
    assert status.expected_hashrate == pytest.approx(68796e9)
    assert (status.power_watts, status.power_limit_watts) == (3417, 3500)
    assert status.temperatures == {}  # no Env Temp in this build
    assert [(fan.index, fan.rpm) for fan in status.fans] == [("in", 6450), ("out", 6480)]
    assert status.faults == []  # Error Code Count 0
    assert [b.chips for b in status.boards] == [105, 105, 105]
    assert boards(status)["0"].temperatures == {"pcb": 70.0, "chip": 90.0}
    assert boards(status)["2"].hashrate == pytest.approx(24351292.28e6)
    assert [pool.index for pool in status.pools] == ["1", "2", "3"]
    assert status.pools[0].accepted == 2338


def test_m20s_invalid_escape_summary():
    status = parse(M20S_2020)
    assert status.firmware_version == "20200917.22.REL"  # '\'20200917.22.REL\'' after wire repair
    assert status.hashrate == pytest.approx(64143777.95e6)
    assert status.temperatures == {"inlet": 28.5}
    assert (status.power_watts, status.power_limit_watts) == (3491, 3500)
    assert status.expected_hashrate == pytest.approx(67051e9)
    assert status.faults == []
    board = boards(status)["1"]
    assert (board.chips, board.frequency_hz) == (111, 632e6)
    assert board.temperatures == {"pcb": 68.5, "chip": 84.5}


def test_multicommand_reply_splits_and_parses():
    replies = load_multi(MULTI, ("pools", "summary", "edevs"))
    assert all(reply.ok for reply in replies.values())
    status = WhatsminerParser().parse(replies)
    assert status.firmware_version == "20210109.22.REL"
    assert status.hashrate == pytest.approx(116472006.19e6)
    assert status.expected_hashrate == pytest.approx(100999e9)
    assert (status.power_watts, status.power_limit_watts) == (3496, 3600)
    assert [fault.code for fault in status.faults] == ["206", "2320"]
    assert [b.chips for b in status.boards] == [215, 215, 215]
    assert boards(status)["0"].temperatures == {"pcb": 79.5, "chip": 94.95}
    assert (status.accepted, status.stale, status.best_share) == (457459, 95, 54727919944)
    (pool,) = status.pools
    assert (pool.index, pool.url, pool.accepted, pool.rejected) == ("1", "stratum+tcp://btc.luxor.tech:700", 457459, 518)


@pytest.mark.parametrize(
    "path, mining, version",
    [
        ("whatsminer/m31s_btminer_status_mineroff.json", False, "20210109.22.REL"),
        ("whatsminer/m30s_fw20210322_status.json", True, "20220919.15.REL"),
        # newer firmware: "mineroff" and "FirmwareVersion", unquoted
        ("whatsminer/whatsminer_apiv3fw_status_mineroff_false.json", True, "20250214.16.1"),
    ],
)
def test_status_reply_alone(path, mining, version):
    reply = load_reply(path, "status")
    assert reply.ok and reply.code == 131 and isinstance(reply.msg, dict)
    status = WhatsminerParser().parse({"status": reply})
    assert (status.mining, status.firmware_version) == (mining, version)
    assert status.hashrate is None and status.boards == [] and status.power_limit_watts is None


def test_get_version_gives_firmware_when_summary_is_missing():
    status = parse({"get_version": "whatsminer/m30s_fw20210322_get_version.json"})
    assert status.firmware_version == "20210322.22.REL"
    assert status.model == ""  # this API (v1.4.0) has no miner_type


def test_get_psu_is_ignored():
    psu = load_reply("whatsminer/m30s_fw20210322_get_psu.json", "get_psu")
    assert psu.ok and psu.msg["model"] == "P21-12-3600-E"  # the PSU's model, not the miner's
    with_psu = WhatsminerParser().parse({**load_replies(M30S_2021), "get_psu": psu})
    assert with_psu == parse(M30S_2021)


def test_model_is_taken_verbatim_from_devdetails_or_miner_type():
    # Constructed replies: no capture of a btminer devdetails or miner_type exists here.
    devdetails = parse_reply(
        "devdetails",
        {"STATUS": [{"STATUS": "S", "Code": 69}], "DEVDETAILS": [{"DEVDETAILS": 0, "Name": "SM", "Model": "M31S"}]},
    )
    assert WhatsminerParser().parse({"devdetails": devdetails}).model == "M31S"
    version = parse_reply("get_version", {"STATUS": "S", "Code": 131, "Msg": {"miner_type": "M30S"}})
    assert WhatsminerParser().parse({"get_version": version}).model == "M30S"


def test_error_replies():
    invalid = load_reply("errors/whatsminer_invalid_cmd_v1.json", "version")
    assert (invalid.ok, invalid.status, invalid.code, invalid.msg) == (False, "E", 14, "invalid cmd")
    assert identify({"version": invalid}) == "whatsminer"  # Description "whatsminer v1.1"
    missing = load_reply("whatsminer/m31s_error_missing_command.json", "summary")
    assert (missing.ok, missing.code, missing.msg) == (False, 24, "Missing JSON 'command'")


def test_detection_from_summary():
    # Description "btminer"; older builds say "cgminer 4.9.2" and are not recognised from summary
    assert identify({"summary": load_reply(M31S_2020_12["summary"], "summary")}) == "whatsminer"
    assert identify({"summary": load_multi(MULTI, ("pools", "summary", "edevs"))["summary"]}) == "whatsminer"


def test_parse_never_raises_on_mangled_replies():
    replies = load_replies(M31S_2020_05)
    assert survives_mangling(WhatsminerParser(), mangled_replies(replies)) > 3000
