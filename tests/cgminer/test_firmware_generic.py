"""The generic "cgminer" fallback parser against recorded replies.
"""

from __future__ import annotations

import json

import pytest

from exporters.cgminer.commands import READ_ONLY_COMMANDS
from exporters.cgminer.firmware import PARSERS, parser_for
from exporters.cgminer.firmware.common import program_version
from exporters.cgminer.firmware.detect import identify
from exporters.cgminer.firmware.generic import GenericParser, ghs_unit
from exporters.cgminer.model import MinerStatus
from exporters.cgminer.wire import decode_reply
from tests.support.cgminer_fixtures import load_reply, load_replies, raw
from tests.support.mangle import mangled_replies, survives_mangling
from tests.cgminer.test_scrape import serve_and_scrape

CGMINER_490_SUMMARY = "other/cgminer490_summary_bestshare_uint64max.json"
CHEETAH_DEVDETAILS = "other/cheetah_c3012_devdetails.json"
ACCESS_DENIED = "errors/cgminer490_access_denied_code45.json"
INVALID_COMMAND = "errors/antminer_s21_invalid_command.json"

# Other makes' devices, as they answer each command.
HAMMER_D10 = {
    "version": "other/hammer_d10_fw20230528_version.json",
    "summary": "other/hammer_d10_fw20230528_summary.json",
    "stats": "other/hammer_d10_fw20230528_stats.json",
}
BLACKMINER_F1_ULTRA = {
    "version": "other/blackminer_f1ultra_fw20200405_version.json",
    "summary": "other/blackminer_f1ultra_fw20200405_summary.json",
    "stats": "other/blackminer_f1ultra_fw20200405_stats.json",
    "pools": "other/blackminer_f1ultra_fw20200405_pools.json",
}
SEALMINER_A2 = {
    "version": "other/sealminer_a2_bdminer4111_version.json",
    "summary": "other/sealminer_a2_bdminer4111_summary.json",
    "stats": "other/sealminer_a2_bdminer4111_stats.json",
    "pools": "other/sealminer_a2_bdminer4111_pools.json",
}
AURADINE = {
    "version": "other/auradine_gcminer_version.json",
    "summary": "other/auradine_gcminer_summary.json",
    "devs": "other/auradine_gcminer_devs.json",
    "pools": "other/auradine_gcminer_pools.json",
}
INNOSILICON_A9 = {
    "summary": "other/innosilicon_a9_innominer110_summary.json",
    "stats": "other/innosilicon_a9_innominer110_stats.json",
    "pools": "other/innosilicon_a9_innominer110_pools.json",
}
OTHER_MAKES = {
    "hammer_d10": HAMMER_D10,
    "blackminer_f1_ultra": BLACKMINER_F1_ULTRA,
    "sealminer_a2": SEALMINER_A2,
    "auradine": AURADINE,
    "innosilicon_a9": INNOSILICON_A9,
}



def parse(files: dict[str, str]) -> MinerStatus:
    return GenericParser().parse(load_replies(files))


def test_declaration():
    assert PARSERS["cgminer"] is GenericParser
    assert parser_for("no-such-family").__class__ is GenericParser
    assert GenericParser.name == "cgminer"
    assert GenericParser.make == ""
    assert GenericParser.commands == ("version", "summary", "pools")
    assert GenericParser.optional_commands == ("devs", "devdetails", "stats")
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
    assert survives_mangling(GenericParser(), mangled_replies(replies)) > 1000


# --- other makes: stats in Bitmain's layout, bdminer's layout, version keys ---


def test_hammer_d10_bitmain_layout_stats_in_megahashes():
    status = parse(HAMMER_D10)
    assert (status.make, status.model, status.firmware_version) == ("", "Hammer D10", "2.3.3")
    assert status.hashrate == pytest.approx(4885.0813e6)  # SUMMARY "MHS 5s"
    # Its stats entry writes "MHS 5s" and no rate_unit: chain_rateN are MH/s too
    # (1578.27 + 1594.36 + 1513.85 = 4686.49 = stats "MHS 5s").
    assert [b.index for b in status.boards] == ["0", "1", "2"]  # chain 4: 0 chips, rate "" -> no board
    assert [b.hashrate for b in status.boards] == pytest.approx([1578.2742e6, 1594.3646e6, 1513.8498e6])
    assert [(b.chips, b.expected_chips) for b in status.boards] == [(108, 108)] * 3
    assert [b.hardware_errors for b in status.boards] == [2133, 2942, 2903]
    # temp1..temp3 are each written four times; the decoder keeps the last value.
    assert [b.temperatures for b in status.boards] == [{"pcb": 45.0}, {"pcb": 42.0}, {"pcb": 40.0}]
    assert [(f.index, f.rpm) for f in status.fans] == [("0", 4650), ("1", 4500), ("2", 3870), ("3", 3930)]
    assert status.power_watts is None and status.expected_hashrate is None


def test_blackminer_f1_ultra_bitmain_layout_stats_in_gigahashes():
    stats = load_reply(BLACKMINER_F1_ULTRA["stats"], "stats")
    assert b'}{ "STATS": 0' in raw(BLACKMINER_F1_ULTRA["stats"])  # missing comma, repaired by the decoder
    assert len(stats.section("STATS")) == 2
    status = parse(BLACKMINER_F1_ULTRA)
    assert (status.model, status.firmware_version) == ("Blackminer F1-ULTRA", "2.3.3")
    assert status.hashrate == pytest.approx(4.2088e9)  # "GHS 5s": "4.2088", GH/s by Total MH / Elapsed
    assert [b.hashrate for b in status.boards] == pytest.approx([1.8897e9, 2.3191e9])  # sum = "GHS 5s"
    assert [(b.index, b.chips, b.expected_chips) for b in status.boards] == [("0", 6, 6), ("1", 6, 6)]
    assert [b.temperatures for b in status.boards] == [{"pcb": 52.0}, {"pcb": 52.0}]
    assert [(f.index, f.rpm) for f in status.fans] == [("0", 2820), ("1", 2850)]
    assert [p.url for p in status.pools] == [  # pool 2 has no URL: an empty slot
        "stratum+tcp://hns.pool.blackminer.com:9052",
        "stratum+tcp://stratum-us.hnspool.com:3001",
    ]


def test_bitmain_layout_gives_the_model_when_version_is_refused():
    replies = load_replies({"summary": HAMMER_D10["summary"], "stats": HAMMER_D10["stats"]})
    status = GenericParser().parse(replies)
    assert status.model == "Hammer D10"  # STATS[0] Type
    assert status.firmware_version == "2.3.3"  # Description "ccminer 2.3.3"


def test_sealminer_a2_bdminer_version_key_and_stats():
    status = parse(SEALMINER_A2)
    assert (status.make, status.model, status.firmware) == ("Bitdeer", "A2", "cgminer")
    assert status.firmware_version == "4.11.1"  # VERSION "BDMiner"
    assert status.hashrate == pytest.approx(368479432.78e6)
    assert status.expected_hashrate == pytest.approx(221663472e6)  # MHS(Ideal), the boards' sum
    assert (status.power_watts, status.power_estimated, status.power_limit_watts) == (3504, False, 3500)
    assert [b.index for b in status.boards] == ["0", "1", "2"]
    assert [b.hashrate for b in status.boards] == pytest.approx(
        [73905832.003432e6, 73626639.194207e6, 72846394.903347e6]
    )
    assert [b.expected_hashrate for b in status.boards] == pytest.approx([74342544e6, 73927728e6, 73393200e6])
    assert [(b.chips, b.expected_chips) for b in status.boards] == [(153, 153)] * 3  # no bad chips
    assert [b.frequency_hz for b in status.boards] == [349e6, 347e6, 344e6]
    assert [b.temperatures for b in status.boards] == [{"pcb": 70.0}] * 3  # hottest of "N Temp 0..3"
    assert [(f.index, f.rpm) for f in status.fans] == [("0", 3723), ("1", 3723), ("2", 3753), ("3", 3723)]
    assert status.pools[0].worker == "SealMinerA2"


def test_sealminer_version_from_description_when_version_is_refused():
    status = parse({"summary": SEALMINER_A2["summary"]})
    assert (status.make, status.firmware_version) == ("Bitdeer", "4.11.1")  # "bdminer 4.11.1"


def test_auradine_gcminer_version_key_and_dev_numbering():
    status = parse(AURADINE)
    assert (status.make, status.firmware_version) == ("Auradine", "0.5")  # VERSION "GCMiner"
    assert [b.index for b in status.boards] == ["1", "2", "3"]  # devs "DEV": 1, 2, 3
    assert [b.hashrate for b in status.boards] == pytest.approx([6.8e12, 6.9e12, 7.0e12])
    assert [b.temperatures for b in status.boards] == [{"pcb": 28.25}, {"pcb": 29.06}, {"pcb": 30.12}]
    assert status.hashrate == pytest.approx(20599767.1774699e6)
    assert status.fans == [] and status.power_watts is None  # GCMiner has them under fan/psu, not asked


def test_auradine_version_from_description_without_version():
    status = parse({"summary": AURADINE["summary"]})
    assert status.firmware_version == "2023-05.24-0ce5e7cc93a3815240fa189d0beb44b8c834936c"


def test_innosilicon_a9_innominer_description_and_other_stats_layout():
    status = parse(INNOSILICON_A9)
    assert (status.make, status.firmware_version) == ("Innosilicon", "a9-1.1.0")  # "innominer a9-1.1.0"
    assert status.hashrate == pytest.approx(51451.63e6)
    # Its stats has per-chain entries ("Chain ID", "Num active chips", "Fan duty")
    # whose "MHS av" does not add up to SUMMARY's: no layout read here, nothing guessed.
    assert status.boards == [] and status.fans == [] and status.power_watts is None
    assert status.model == ""


def test_program_version_reads_any_miner_program_key():
    cases = {
        "antminer/s19pro_stock_2022_version.json": ("bmminer", "1.0.0"),
        "antminer/s19-88_mskminer_2.6.0.39_version.json": ("bmminer", "4.11.1 rwglr"),
        "avalon/avalon1566_fw24102401_version.json": ("cgminer", "4.11.1"),
        SEALMINER_A2["version"]: ("bdminer", "4.11.1"),
        AURADINE["version"]: ("gcminer", "0.5"),
        HAMMER_D10["version"]: ("cgminer", "2.3.3"),
    }
    for path, expected in cases.items():
        assert program_version(load_reply(path, "version").first("VERSION")) == expected, path


def test_program_version_skips_miner_api_compiletime_type():
    reply = load_reply("antminer/s19pro_stock_2022_version.json", "version")
    version = {k: v for k, v in reply.first("VERSION").items() if k != "BMMiner"}
    assert set(version) == {"API", "Miner", "CompileTime", "Type"}
    assert program_version(version) == ("", "")  # "Miner": "49.0.1.3" is Bitmain's build, not a program
    assert program_version(version, reply) == ("cgminer", "1.0.0")  # Description


@pytest.mark.parametrize("device", sorted(OTHER_MAKES))
def test_other_makes_survive_mangled_replies(device):
    replies = load_replies(OTHER_MAKES[device])
    assert survives_mangling(GenericParser(), mangled_replies(replies)) > 500


# --- scrape: the generic parser asks for stats, and a device refusing it loses nothing else ---


def _device(files: dict[str, str], multi: bool):
    """A loopback device answering `files`, Code 14 for anything else.

    With `multi`, "a+b" gets one section per command as cgminer's api.c writes
    it (an error section for a command it does not know); without, the whole
    request is refused, as stock Antminer does.
    """
    invalid = raw(INVALID_COMMAND)

    def answer(request: dict) -> bytes:
        commands = request["command"].split("+")
        if len(commands) == 1:
            return raw(files[commands[0]]) if commands[0] in files else invalid
        if not multi:
            return invalid
        body = {c: [decode_reply(raw(files[c]) if c in files else invalid)] for c in commands}
        return json.dumps({**body, "id": 1}).encode()

    return answer


def test_generic_scrape_asks_for_stats_and_reads_it():
    (first, second), memory = serve_and_scrape(_device(SEALMINER_A2, multi=True), rounds=2)
    assert memory.firmware == "cgminer" and memory.multi_command is True
    # Detection asked version, stats and summary; the first scrape reuses them.
    assert first.commands_sent == ["version", "stats", "summary", "pools+devs+devdetails"]
    assert second.commands_sent == ["version+summary+pools+devs+devdetails+stats"]
    for result in (first, second):
        assert result.up and result.status.model == "A2" and result.status.power_watts == 3504
        assert len(result.status.boards) == 3 and len(result.status.fans) == 4


@pytest.mark.parametrize("multi", [True, False], ids=["error-section", "multi-refused"])
def test_generic_scrape_survives_a_device_refusing_stats(multi):
    (first, second), memory = serve_and_scrape(_device(AURADINE, multi=multi), rounds=2)
    assert memory.firmware == "cgminer" and memory.multi_command is multi
    for result in (first, second):
        # stats is asked every scrape: its refusal is tolerated, not remembered.
        assert "stats" in "+".join(result.commands_sent).split("+")
        assert result.up, result.error_message
        status = result.status
        assert (status.make, status.firmware_version) == ("Auradine", "0.5")
        assert status.hashrate == pytest.approx(20599767.1774699e6)
        assert [b.index for b in status.boards] == ["1", "2", "3"] and len(status.pools) == 3
