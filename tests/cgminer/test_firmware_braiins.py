"""Braiins OS / OS+ (BOSminer, then BOSer) against recorded replies and the BOSminer API docs examples."""

from __future__ import annotations

import pytest

from exporters.cgminer.commands import READ_ONLY_COMMANDS, CommandNotAllowed, encode_request
from exporters.cgminer.firmware import PARSERS
from exporters.cgminer.firmware.braiins import BraiinsParser
from exporters.cgminer.firmware.detect import identify
from exporters.cgminer.metrics import MinerSample, render
from exporters.cgminer.model import MinerStatus
from exporters.cgminer.scrape import ScrapeResult
from tests.support.cgminer_fixtures import load_reply, load_replies
from tests.support.mangle import mangled_replies, survives_mangling

BOS = {
    "version": "braiins/s9_bos_0.2.0_version.json",
    "summary": "braiins/s9_bos_0.2.0_summary.json",
    "devs": "braiins/s9_bos_0.2.0_devs.json",
    "pools": "braiins/s9_bos_0.2.0_pools.json",
    "fans": "braiins/s9_bos_0.2.0_fans.json",
    "temps": "braiins/s9_bos_0.2.0_temps.json",
}
BOS_PLUS = {
    "version": "braiins/s9_bosplus_0.2.0_version.json",
    "summary": "braiins/s9_bosplus_0.2.0_summary.json",
    "devs": "braiins/s9_bosplus_0.2.0_devs.json",
    "pools": "braiins/s9_bosplus_0.2.0_pools.json",
    "fans": "braiins/s9_bosplus_0.2.0_fans.json",
    "temps": "braiins/s9_bosplus_0.2.0_temps.json",
}
DOCS = {
    "devdetails": "braiins/bos_docs_devdetails.json",
    "fans": "braiins/bos_docs_fans.json",
    "temps": "braiins/bos_docs_temps.json",
    "tunerstatus": "braiins/bos_docs_tunerstatus.json",
}
# BOSer, the newer Braiins OS daemon: VERSION {"BOSer": "<build> 0.1.0-<release commit>"}.
BOSER_VERSIONS = {
    "braiins/boser_openwrt_22.08_version.json": "0.1.0-11012d53",  # 2022-09-13-0-11012d53-22.08-plus
    "braiins/boser_buildroot_0.1.0-0ce150e9_version.json": "0.1.0-0ce150e9",
    "braiins/boser_buildroot_24.09_version.json": "0.1.0-75912fc7",  # 2024-10-17-0-75912fc7-24.09-plus
    "braiins/boser_buildroot_25.05.1_version.json": "0.1.0-45f356ea",  # 2025-06-25-0-45f356ea-25.05.1-plus
    "braiins/bmm100_boser_openwrt_26.04_version.json": "0.1.0-912d084c",  # Braiins Mini Miner, 26.04
}
S9_BOSER_SUMMARY = "braiins/s9_boser_22.08.1_summary.json"
S9_BOSER_ERROR = "braiins/s9_boser_22.08.1_error_invalid_json.json"
S19J_BOSER_DEVDETAILS = "braiins/s19j88nopic_boser_0.1.0-9b223345_devdetails.json"
BOSER_FANS = "braiins/boser_buildroot_0.1.0-0ce150e9_fans.json"
BOSER = {  # replies of several BOSer miners, together for the fuzz test
    "version": "braiins/boser_buildroot_24.09_version.json",
    "summary": S9_BOSER_SUMMARY,
    "devdetails": S19J_BOSER_DEVDETAILS,
    "fans": BOSER_FANS,
}


def parse(files: dict[str, str]) -> MinerStatus:
    return BraiinsParser().parse(load_replies(files))


def test_declaration():
    assert PARSERS["braiins"] is BraiinsParser
    assert (BraiinsParser.name, BraiinsParser.make) == ("braiins", "")
    assert BraiinsParser.commands == ("summary", "devs", "pools", "fans", "temps")
    assert BraiinsParser.optional_commands == ("devdetails", "tunerstatus", "version")
    assert BraiinsParser.multi_command is True
    assert set(BraiinsParser.commands + BraiinsParser.optional_commands) <= READ_ONLY_COMMANDS


def test_s9_bos():
    status = parse(BOS)
    assert (status.firmware, status.firmware_version) == ("braiins", "0.2.0-d360818")
    # make from the devs build target "bosminer-plus-am1-s9"; no devdetails, so no model
    assert (status.make, status.model) == ("Bitmain", "")
    assert status.hashrate == pytest.approx(14274425.317759488e6)  # MHS 5s
    assert status.hashrate_average == pytest.approx(16698158.653278796e6)
    assert status.expected_hashrate == pytest.approx(3 * 4668300e6)  # devs Nominal MHS summed
    assert [b.index for b in status.boards] == ["0", "1", "2"]  # chains 6, 7, 8
    # Chip 0.0 beside Board 53/46/52 is an unread sensor
    assert [b.temperatures for b in status.boards] == [{"pcb": 53.0}, {"pcb": 46.0}, {"pcb": 52.0}]
    assert [b.hashrate for b in status.boards] == pytest.approx(
        [4683070.74742169e6, 4687913.424447901e6, 4213098.705765925e6]
    )
    assert [b.hardware_errors for b in status.boards] == [0, 0, 1]
    assert all(b.expected_hashrate == pytest.approx(4668300e6) for b in status.boards)
    assert [(f.index, f.rpm, f.speed_ratio) for f in status.fans] == [
        ("0", 1560, 0.01),
        ("1", 1560, 0.01),
        ("2", 0, 0.01),
        ("3", 0, 0.01),
    ]
    assert (status.accepted, status.rejected, status.best_share, status.uptime_seconds) == (68, 2, 65536, 92)
    assert [(p.status, p.alive) for p in status.pools] == [("Alive", True), ("Dead", False)]
    assert status.pools[1].user == "!non-existent-user!"
    assert (status.power_watts, status.power_limit_watts, status.mining) == (None, None, None)
    assert status.power_estimated is False  # nothing reported, nothing estimated


def test_s9_bos_plus():
    status = parse(BOS_PLUS)
    assert status.firmware_version == "0.2.0-36c56a9363"  # VERSION key "BOSminer+"
    assert status.hashrate == pytest.approx(15740915.842676325e6)
    assert (status.hardware_errors, status.accepted, status.uptime_seconds) == (186, 153, 3680)
    assert [b.temperatures for b in status.boards] == [{"pcb": 75.0}, {"pcb": 63.0}, {"pcb": 70.0}]
    assert [(f.rpm, f.speed_ratio) for f in status.fans[:2]] == [(2820, 0.4), (3780, 0.4)]
    assert [p.url for p in status.pools] == [
        "stratum+tcp://stratum.antpool.com:3333",
        "stratum+tcp://stratum.antpool.com:443",
        "stratum+tcp://stratum.antpool.com:25",
    ]


def test_version_from_description_without_version_reply():
    files = {key: path for key, path in BOS_PLUS.items() if key != "version"}
    assert parse(files).firmware_version == "0.2.0-36c56a9363"  # "BOSminer+ 0.2.0-36c56a9363"


def test_docs_devdetails_temps_tuner():
    status = parse(DOCS)
    assert (status.make, status.model) == ("Bitmain", "S9")  # "Bitmain Antminer S9"
    assert [b.index for b in status.boards] == ["0", "1", "2"]
    board = status.boards[0]
    assert board.chips == 63
    assert board.frequency_hz == 799682118  # already Hz
    assert board.voltage_volts == pytest.approx(8.416799545288086)
    assert board.temperatures == {"pcb": 81.875, "chip": 104.625}
    assert [b.power_watts for b in status.boards] == [448, 448, 448]  # joined on HashchainIndex 6..8
    assert all(b.power_estimated for b in status.boards)  # "ApproximatePowerConsumptionWatt"
    assert status.boards[2].temperatures == {"pcb": 84.4375, "chip": 105.4375}
    assert (status.power_watts, status.power_limit_watts) == (1419, 1420)  # tuner estimate, PowerLimit
    assert status.power_estimated is True  # "ApproximateMinerPowerConsumption": no meter behind it
    assert [(f.rpm, f.speed_ratio) for f in status.fans] == [(5340, 1.0), (4620, 1.0), (0, 1.0), (0, 1.0)]


def test_tempctrl_is_read_only_but_not_used():
    tempctrl = load_reply("braiins/bos_docs_tempctrl.json", "tempctrl")
    assert tempctrl.ok and tempctrl.first("TEMPCTRL")["Target"] == 89
    assert "tempctrl" in READ_ONLY_COMMANDS
    assert "tempctrl" not in BraiinsParser.commands + BraiinsParser.optional_commands
    assert BraiinsParser().parse({**load_replies(DOCS), "tempctrl": tempctrl}) == parse(DOCS)


@pytest.mark.parametrize("path", ["braiins/bos_docs_pause.json", "braiins/bos_docs_resume.json"])
def test_pause_and_resume_are_never_sent(path):
    # The docs show what these privileged commands answer; hashwatch must not send them.
    command = str(load_reply(path, "x").msg).lower()
    assert command in ("pause", "resume")
    assert command not in READ_ONLY_COMMANDS
    with pytest.raises(CommandNotAllowed):
        encode_request((command,))
    with pytest.raises(CommandNotAllowed):
        encode_request(("summary", command))


@pytest.mark.parametrize("path", [BOS["version"], BOS_PLUS["version"]])
def test_detection_from_version(path):
    assert identify({"version": load_reply(path, "version")}) == "braiins"


def test_detection_from_summary():
    assert identify({"summary": load_reply(BOS_PLUS["summary"], "summary")}) == "braiins"


def test_tuner_power_is_exported_as_an_estimate():
    text = render([MinerSample((), ScrapeResult(parse(DOCS)))], ()).decode()
    assert 'miner_power_watts{estimated="true"} 1419' in text.splitlines()


@pytest.mark.parametrize(("path", "expected"), BOSER_VERSIONS.items())
def test_boser_version_reply_is_braiins_with_its_version(path, expected):
    # Was: no Braiins check matched, so the miner ended as generic cgminer with
    # an empty firmware version.
    version = load_reply(path, "version")
    assert identify({"version": version}) == "braiins"
    status = BraiinsParser().parse({"version": version})
    assert (status.firmware, status.firmware_version) == ("braiins", expected)
    # "boser-openwrt" runs on S9s and on the Braiins Mini Miner alike: no make from it.
    assert (status.make, status.model) == ("", "")


def test_s9_boser_summary():
    summary = load_reply(S9_BOSER_SUMMARY, "summary")
    assert identify({"summary": summary}) == "braiins"  # Description "BOSer boser-openwrt 0.1.0-26ba61b9"
    status = parse({"summary": S9_BOSER_SUMMARY})
    assert status.firmware_version == "0.1.0-26ba61b9"  # 22.08.1 on an S9
    assert status.hashrate == pytest.approx(4143268.055883251e6)  # MHS 5s
    assert status.hashrate_average == pytest.approx(3853538.4688909017e6)
    assert (status.accepted, status.rejected, status.stale) == (870, 3, 0)
    assert (status.hardware_errors, status.best_share, status.uptime_seconds) == (442, 262144, 260281)


def test_boser_error_envelope_still_names_the_firmware():
    error = load_reply(S9_BOSER_ERROR, "version")
    assert not error.ok
    assert identify({"version": error}) == "braiins"


def test_s19j_boser_devdetails():
    status = parse({"devdetails": S19J_BOSER_DEVDETAILS})
    # BOSer's Model has no "Bitmain " in front: "Antminer S19J88NoPic"
    assert (status.make, status.model) == ("Bitmain", "S19J88NoPic")
    assert status.firmware_version == "0.1.0-9b223345"  # from the Description
    assert [b.index for b in status.boards] == ["0", "1", "2"]  # chain IDs 1, 2, 3
    assert [b.chips for b in status.boards] == [88, 88, 88]
    # BOSer writes MHz where BOSminer wrote Hz (799682118 in the docs example)
    assert [b.frequency_hz for b in status.boards] == [573e6, 592e6, 577e6]
    assert [b.voltage_volts for b in status.boards] == pytest.approx([14.8192878] * 3)


def test_boser_fans():
    status = parse({"version": "braiins/boser_buildroot_0.1.0-0ce150e9_version.json", "fans": BOSER_FANS})
    assert status.firmware_version == "0.1.0-0ce150e9"
    assert [(f.index, f.rpm, f.speed_ratio) for f in status.fans] == [
        ("0", 3226, 0.32),
        ("1", 3315, 0.32),
        ("2", 3226, 0.32),
        ("3", 3255, 0.32),
    ]


@pytest.mark.parametrize("files", [BOS, DOCS, BOSER], ids=["s9_bos", "docs", "boser"])
def test_parse_never_raises_on_mangled_replies(files):
    replies = load_replies(files)
    assert survives_mangling(BraiinsParser(), mangled_replies(replies)) > 1000
