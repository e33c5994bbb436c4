"""LuxOS (LUXminer) against recorded replies and Luxor's documentation examples."""

from __future__ import annotations

import pytest

from exporters.cgminer.commands import READ_ONLY_COMMANDS, CommandNotAllowed, encode_request
from exporters.cgminer.firmware import PARSERS
from exporters.cgminer.firmware.detect import identify
from exporters.cgminer.firmware.luxos import LuxosParser
from exporters.cgminer.model import MinerStatus
from tests.support.cgminer_fixtures import load_reply, load_replies
from tests.support.mangle import mangled_replies, survives_mangling

COMMANDS = ("version", "summary", "pools", "stats", "devs", "temps", "fans", "power", "config")
S19KPRO = {command: f"luxos/s19kpro_luxos2025_{command}.json" for command in COMMANDS}
# The same paths spelled out, so each fixture is greppable from here:
assert set(S19KPRO.values()) == {
    "luxos/s19kpro_luxos2025_version.json", "luxos/s19kpro_luxos2025_summary.json",
    "luxos/s19kpro_luxos2025_pools.json", "luxos/s19kpro_luxos2025_stats.json",
    "luxos/s19kpro_luxos2025_devs.json", "luxos/s19kpro_luxos2025_temps.json",
    "luxos/s19kpro_luxos2025_fans.json", "luxos/s19kpro_luxos2025_power.json",
    "luxos/s19kpro_luxos2025_config.json",
}


def parse(files: dict[str, str]) -> MinerStatus:
    return LuxosParser().parse(load_replies(files))


def test_parser_declaration():
    assert PARSERS["luxos"] is LuxosParser
    assert (LuxosParser.name, LuxosParser.make) == ("luxos", "Bitmain")
    assert LuxosParser.commands == ("version", "summary", "pools")
    assert LuxosParser.optional_commands == ("stats", "devs", "temps", "fans", "power", "config")
    assert set(LuxosParser.commands + LuxosParser.optional_commands) <= READ_ONLY_COMMANDS
    assert LuxosParser.multi_command is True
    encode_request(LuxosParser.commands + LuxosParser.optional_commands)  # one multi-command, allowed


def test_s19kpro_full_scrape():
    status = parse(S19KPRO)
    assert (status.make, status.model, status.firmware) == ("Bitmain", "S19k Pro", "luxos")
    assert status.firmware_version == "2025.4.8.220305-57b389c7"
    assert status.hashrate == pytest.approx(59756.06e9)
    assert status.hashrate_average == pytest.approx(56917.91e9)
    # 3 x devs "Nominal MHS" 20651400 (= stats total_rateideal 61954.2 GH/s)
    assert status.expected_hashrate == pytest.approx(61954.2e9)
    assert status.power_watts == 1051
    assert status.power_limit_watts is None
    assert status.mining is True  # CurtailMode "None", IsPowerSupplyOn true
    assert (status.accepted, status.rejected, status.stale, status.hardware_errors) == (1483, 1, 0, 0)
    assert status.best_share == 32768
    assert status.uptime_seconds == 3453
    assert [(fan.index, fan.rpm, fan.speed_ratio) for fan in status.fans] == [
        ("0", 1920, 0.2), ("1", 1920, 0.2), ("2", 2340, 0.2), ("3", 2340, 0.2)]
    assert [(pool.index, pool.user, pool.status, pool.active) for pool in status.pools] == [
        ("0", "asic-rs.user1", "Alive", True), ("1", "asic-rs.user1", "Dead", False),
        ("2", "asic-rs.user2", "Alive", True), ("3", "asic-rs.user2", "Dead", False)]


def test_s19kpro_boards():
    boards = parse(S19KPRO).boards
    # devs lists ASC 2 first; boards come out by ID
    assert [board.index for board in boards] == ["0", "1", "2"]
    # devs "MHS 5s", not stats chain_rate (which is the since-start average)
    assert [board.hashrate for board in boards] == pytest.approx(
        [19773825.71692016e6, 19230588.7466751e6, 20751652.263361264e6])
    assert [board.expected_hashrate for board in boards] == pytest.approx([20651400e6] * 3)
    assert [(board.chips, board.expected_chips) for board in boards] == [(77, 77)] * 3
    assert [board.frequency_hz for board in boards] == pytest.approx([300e6] * 3)
    assert [board.hardware_errors for board in boards] == [0, 0, 0]
    assert [board.status for board in boards] == ["Alive"] * 3
    # temps: four board sensors (exhaust 47, intake 33/34) -> pcb; no chip reading on this model
    assert [board.temperatures for board in boards] == [{"pcb": 47.0}] * 3


def test_stats_only_keeps_no_fake_chip_temperature():
    status = parse({"stats": "luxos/s19kpro_luxos2025_stats.json"})
    boards = status.boards
    assert [board.index for board in boards] == ["0", "1", "2"]  # chain_rate4 "0" with chain_acn4 0: empty slot
    assert [board.hashrate for board in boards] == pytest.approx([18910.28e9, 18939.95e9, 19067.67e9])
    assert all("chip" not in board.temperatures for board in boards)
    assert [board.temperatures["pcb"] for board in boards] == [47.0] * 3
    assert status.expected_hashrate == pytest.approx(61954.2e9)  # total_rateideal
    assert [fan.rpm for fan in status.fans] == [1920, 1920, 2340, 2340]
    assert status.model == "S19k Pro"
    assert status.firmware_version == "2025.4.8.220305-57b389c7"  # from the STATUS description


def test_devs_only():
    status = parse({"devs": "luxos/s19kpro_luxos2025_devs.json"})
    assert status.expected_hashrate == pytest.approx(3 * 20651400e6)  # sum of "Nominal MHS"
    assert [board.index for board in status.boards] == ["0", "1", "2"]
    assert [board.chips for board in status.boards] == [None] * 3  # chip counts only come from stats
    assert [board.temperatures for board in status.boards] == [{}] * 3  # devs "Temperature" names no sensor


def test_hydro_temps_labels():
    status = parse({"temps": "luxos/luxos_docs_temps_hydro.json"})
    # docs list IDs 1, 2, 0; water sensors are inlet/outlet, board sensors pcb
    assert [(board.index, board.temperatures) for board in status.boards] == [
        ("0", {"pcb": 59, "inlet": 43, "outlet": 48}),
        ("1", {"pcb": 58, "inlet": 42, "outlet": 48}),
        ("2", {"pcb": 58, "inlet": 42, "outlet": 48}),
    ]


def test_s9_docs_version_and_temps():
    status = parse({"version": "luxos/luxos_docs_version_s9.json", "temps": "luxos/luxos_docs_temps_s9.json"})
    assert (status.model, status.firmware_version) == ("S9", "2024.2.19.131822-ef17c0c4")
    assert [(board.index, board.temperatures) for board in status.boards] == [
        ("0", {"pcb": 61, "chip": 76}), ("1", {"pcb": 58, "chip": 77}), ("2", {"pcb": 62, "chip": 82})]


def test_sanitised_version_shape():
    status = parse({"version": "luxos/luxos_tooling_version_sanitised.json"})
    assert (status.model, status.firmware_version) == ("A model", "2000.1.1.12345-aaabbbc")


def test_fans_docs_reply():
    # `fans` is a read command; its reply carries a FANCTRL section next to FANS.
    reply = load_reply("luxos/luxos_docs_fans_fanctrl.json", "fans")
    assert reply.first("FANCTRL") == {"MinFans": 1, "PowerOffSpeed": 20}
    assert encode_request(["fans"]) == b'{"command": "fans"}'
    status = LuxosParser().parse({"fans": reply})
    assert [(fan.index, fan.rpm, fan.speed_ratio) for fan in status.fans] == [
        ("0", 3900, 0.49), ("1", 3900, 0.49), ("2", 3840, 0.49), ("3", 3780, 0.49)]


@pytest.mark.parametrize(
    "path, command, section",
    [
        ("luxos/luxos_docs_logon.json", "logon", "SESSION"),  # opens a write session
        ("luxos/luxos_docs_tempctrlset.json", "tempctrlset", "TEMPCTRL"),  # changes temperature targets
    ],
)
def test_session_and_write_commands_are_never_sent(path, command, section):
    reply = load_reply(path, command)
    assert reply.ok and reply.first(section)  # what LuxOS would answer, were it asked
    assert command not in READ_ONLY_COMMANDS
    assert command not in LuxosParser.commands + LuxosParser.optional_commands
    with pytest.raises(CommandNotAllowed):
        encode_request([command])
    with pytest.raises(CommandNotAllowed):
        encode_request(["summary", command])


def test_asc_needs_a_parameter_so_devs_is_used():
    asc = load_reply("luxos/luxos_docs_asc0_s9.json", "asc").first("ASC")
    devs = load_reply("luxos/s19kpro_luxos2025_devs.json", "devs").first("DEVS")
    with pytest.raises(CommandNotAllowed):
        encode_request(["asc|0"])  # parameters are never sent
    # devs carries every per-board field the parser reads from asc
    assert {"ID", "MHS 5s", "Nominal MHS", "Hardware Errors", "Status"} <= set(asc) & set(devs)


@pytest.mark.parametrize(
    "path, command",
    [
        ("luxos/s19kpro_luxos2025_events.json", "events"),
        ("luxos/luxos_tooling_atm.json", "atm"),
        ("luxos/s19kpro_luxos2025_profiles.json", "profiles"),
    ],
)
def test_unrequested_luxos_replies_are_ignored(path, command):
    reply = load_reply(path, command)
    assert reply.ok
    assert command not in LuxosParser.commands + LuxosParser.optional_commands
    assert LuxosParser().parse({**load_replies(S19KPRO), command: reply}) == parse(S19KPRO)


def test_curtailed_miner_is_not_mining():
    replies = load_replies(S19KPRO)
    replies["config"].sections["CONFIG"][0]["CurtailMode"] = "Sleep"
    assert LuxosParser().parse(replies).mining is False
    replies["config"].sections["CONFIG"][0]["CurtailMode"] = "None"
    replies["config"].sections["CONFIG"][0]["IsPowerSupplyOn"] = False
    assert LuxosParser().parse(replies).mining is False
    del replies["config"]
    assert LuxosParser().parse(replies).mining is None


@pytest.mark.parametrize(
    "replies",
    [
        {"version": "luxos/s19kpro_luxos2025_version.json"},
        {"version": "luxos/luxos_docs_version_s9.json"},
        {"version": "luxos/luxos_tooling_version_sanitised.json"},
        {"summary": "luxos/s19kpro_luxos2025_summary.json"},
        {"version": "luxos/s19kpro_luxos2025_version.json", "stats": "luxos/s19kpro_luxos2025_stats.json"},
    ],
)
def test_identify(replies):
    assert identify(load_replies(replies)) == "luxos"


def test_invalid_command_error_and_missing_optional_replies():
    error = load_reply("errors/luxos_invalid_command.json", "power")
    assert not error.ok
    assert error.code == 14
    assert error.description.startswith("LUXminer ")
    core = {command: S19KPRO[command] for command in LuxosParser.commands}
    status = parse(core)
    assert status.power_watts is None and status.mining is None
    assert status.boards == [] and status.fans == []
    assert status.hashrate == pytest.approx(59756.06e9)
    assert len(status.pools) == 4


@pytest.mark.parametrize("files", [S19KPRO, {"temps": "luxos/luxos_docs_temps_hydro.json"}])
def test_malformed_fields_never_raise(files):
    assert survives_mangling(LuxosParser(), mangled_replies(load_replies(files))) > 50
