"""Canaan AvalonMiner against recorded replies."""

from __future__ import annotations

import copy
import re

import pytest

from exporters.cgminer.commands import READ_ONLY_COMMANDS
from exporters.cgminer.firmware import PARSERS
from exporters.cgminer.firmware.avalon import AvalonParser
from exporters.cgminer.firmware.detect import identify
from exporters.cgminer.model import Fault, MinerStatus
from tests.support.cgminer_fixtures import load_multi, load_reply, load_replies
from tests.support.mangle import mangled_replies, parse_and_render, survives_mangling

A1566 = {
    "version": "avalon/avalon1566_fw24102401_version.json",
    "pools": "avalon/avalon1566_fw24102401_pools.json",
    "stats": "avalon/avalon1566_fw24102401_stats.json",
}
AVALON_Q = {
    "version": "avalon/avalon_q_fw25052801_version.json",
    "summary": "avalon/avalon_q_fw25052801_summary.json",
    "pools": "avalon/avalon_q_fw25052801_pools.json",
    "stats": "avalon/avalon_q_fw25052801_stats.json",
}
# Controllers (Raspberry Pi + AUC) with several modules, cgminer 4.10.0: stats, summary, pools.
A741_CHAINS = {
    "summary": "avalon/avalon741_auc_2x5modules_summary.json",
    "stats": "avalon/avalon741_auc_2x5modules_stats.json",
    "pools": "avalon/avalon741_auc_2x5modules_pools.json",
}
A841_MIXED = {
    "summary": "avalon/avalon821_841_auc_3modules_summary.json",
    "stats": "avalon/avalon821_841_auc_3modules_stats.json",
    "pools": "avalon/avalon821_841_auc_3modules_pools.json",
}
A921_REPLUGGED = {
    "summary": "avalon/avalon921_auc_replugged_summary.json",
    "stats": "avalon/avalon921_auc_replugged_stats.json",
    "pools": "avalon/avalon921_auc_replugged_pools.json",
}
A1047_MULTI = "avalon/avalon1047_multicommand_pools_summary_stats.json"
A1047_NAN = "quirks/avalon1047_multicommand_nan.txt"
MULTI_COMMANDS = ("summary", "stats", "pools")


def parse(files: dict[str, str]) -> MinerStatus:
    return AvalonParser().parse(load_replies(files))


def test_declaration():
    assert PARSERS["avalon"] is AvalonParser
    assert (AvalonParser.name, AvalonParser.make) == ("avalon", "Canaan")
    assert AvalonParser.commands == ("version", "summary", "pools", "stats")
    assert AvalonParser.optional_commands == ()
    assert AvalonParser.multi_command is True
    assert set(AvalonParser.commands) <= READ_ONLY_COMMANDS


def test_a1566():
    status = parse(A1566)  # no summary in this capture
    assert (status.make, status.model, status.firmware) == ("Canaan", "AvalonMiner 15-194", "avalon")
    assert status.firmware_version == "24102401_25462b2_9ddf522"
    assert status.hashrate == pytest.approx(199241.07e9)  # GHSspd, as summary is missing
    assert status.hashrate_average is None
    assert status.expected_hashrate == pytest.approx(201920.42e9)  # GHSmm
    assert status.power_watts == 3731  # WALLPOWER
    assert status.temperatures == {"inlet": 31.0}  # Temp
    assert [(f.index, f.rpm, f.speed_ratio) for f in status.fans] == [("0", 4275, 0.49), ("1", 4282, 0.49)]
    assert status.mining is True  # "Work: In Work"
    assert status.faults == []  # ECHU[0 0 0] ECMM[0]
    assert status.uptime_seconds == 975  # the STATS entry's Elapsed
    assert status.accepted is None  # summary not given
    assert [b.index for b in status.boards] == ["0", "1", "2"]
    assert [b.hashrate for b in status.boards] == pytest.approx([59459.52e9, 61407.83e9, 63139.66e9])  # MGHS
    assert [b.temperatures for b in status.boards] == [{"chip": 77.0}, {"chip": 78.0}, {"chip": 77.0}]  # MTmax
    assert [b.hardware_errors for b in status.boards] == [0, 0, 0]  # MH
    assert [p.index for p in status.pools] == ["0", "1", "2"]
    assert status.pools[0].accepted == 148


def test_a1566_estats_reads_like_stats():
    files = {key: path for key, path in A1566.items() if key != "stats"}
    files["estats"] = "avalon/avalon1566_fw24102401_estats.json"
    assert parse(files) == parse(A1566)


def test_a1047_multicommand():
    replies = load_multi(A1047_MULTI, MULTI_COMMANDS)
    assert all(reply.ok for reply in replies.values())
    status = AvalonParser().parse(replies)
    assert status.model == "1047"  # no version reply: the Ver[1047-...] prefix
    assert status.firmware_version == "20051101_85dc6f0_0332654"
    assert status.hashrate == pytest.approx(32247416.81e6)  # "MHS 30s": this build has no 5s window
    assert status.hashrate_average == pytest.approx(25536751.74e6)
    assert status.expected_hashrate == pytest.approx(37470.98e9)
    assert status.power_watts is None  # PS[0 0 0 0 0 0], POW_I2C[FAILED], no WALLPOWER
    assert status.temperatures == {"inlet": 18.0}
    assert [(f.rpm, f.speed_ratio) for f in status.fans] == [(2896, 0.31), (2927, 0.31)]
    assert [b.hashrate for b in status.boards] == pytest.approx([12362.61e9, 12812.16e9])
    assert [b.temperatures["chip"] for b in status.boards] == [61, 64]
    assert status.faults == [Fault("ECHU:512", "hashboard 0"), Fault("ECHU:512", "hashboard 1")]
    assert status.mining is True
    assert (status.accepted, status.rejected, status.best_share, status.uptime_seconds) == (6, 0, 222408, 155)
    assert [p.url for p in status.pools][:2] == [
        "stratum+tcp://sha256.mining-dutch.nl:9996",
        "stratum+tcp://sha256.antpool.com:3333",
    ]


def test_a1047_nan_average_becomes_none():
    status = AvalonParser().parse(load_multi(A1047_NAN, MULTI_COMMANDS))
    assert status.hashrate_average is None  # "MHS av":nan
    assert status.hashrate == 0.0  # this variant's "MHS 30s" is 0
    assert status.expected_hashrate == pytest.approx(37470.98e9)
    assert len(status.boards) == 2


def test_avalon_q_soft_off():
    status = parse(AVALON_Q)
    assert (status.model, status.firmware_version) == ("Avalon Q", "25052801_14a19a2")  # PROD, LVERSION
    assert status.mining is False  # "Work: In Idle"
    assert status.hashrate == 0.0  # MHS 5s
    assert status.hashrate_average == pytest.approx(44539601.86e6)
    assert status.expected_hashrate == pytest.approx(55032.79e9)
    assert status.temperatures == {"inlet": 26.0}  # ITemp
    assert [(f.index, f.rpm, f.speed_ratio) for f in status.fans] == [(str(i), 0, 0.0) for i in range(4)]
    assert status.power_watts is None  # no WALLPOWER; PS is not trusted (see avalon.py)
    assert status.faults == []
    (board,) = status.boards
    assert board.hashrate == pytest.approx(44499.41e9)  # MGHS: average since start
    # HBITemp/HBOTemp; TMax[0] while idle is no reading, so no chip temperature
    assert board.temperatures == {"inlet": 27.0, "outlet": 27.0}
    assert (status.accepted, status.rejected, status.best_share, status.uptime_seconds) == (890, 2, 354914572, 37714)
    (pool,) = status.pools
    assert (pool.url, pool.user) == ("stratum+tcp://pool.example.com:4444", "worker1")


def test_avalon_q_litestats_carries_the_same_string():
    files = dict(AVALON_Q, litestats="avalon/avalon_q_fw25052801_litestats.json")
    del files["stats"]
    status = parse(files)
    assert status.boards[0].hashrate == pytest.approx(44350.83e9)  # captured a little earlier
    assert (status.mining, status.expected_hashrate) == (False, pytest.approx(55032.79e9))


def test_controller_reads_every_module_as_a_board():
    # Two AUCs (STATS AV70, AV71), five AvalonMiner 741 modules each ("MM ID1".."MM ID5").
    status = parse(A741_CHAINS)
    assert (status.model, status.firmware_version) == ("741", "3162860")  # Ver[7411706-3162860]: 741, 2017-06
    labels = [f"AV7{d}-{m}" for d in (0, 1) for m in range(1, 6)]
    assert [b.index for b in status.boards] == labels
    ghsmm = [6836.48, 6801.85, 6844.33, 6844.12, 6822.16, 6839.72, 6824.96, 6798.86, 6805.02, 6826.01]
    assert [b.expected_hashrate for b in status.boards] == pytest.approx([g * 1e9 for g in ghsmm])
    # The miner's nominal rate covers all ten modules, as its actual rate does (old code: module 1 only).
    assert status.expected_hashrate == pytest.approx(sum(ghsmm) * 1e9)
    assert status.hashrate == pytest.approx(52126282.15e6)  # summary "MHS 5s", every module
    # A module's rate: WU (diff1 shares a minute since the module was found) x 2^32 / 60.
    assert status.boards[0].hashrate == pytest.approx(75407.22 * 2**32 / 60)
    assert sum(b.hashrate for b in status.boards) == pytest.approx(status.hashrate_average, rel=0.01)
    assert [b.temperatures["chip"] for b in status.boards] == [89, 80, 92, 87, 88, 84, 89, 87, 90, 78]  # TMax
    assert [b.temperatures["inlet"] for b in status.boards] == [38, 38, 43, 40, 37, 38, 38, 40, 42, 37]  # Temp
    assert status.temperatures == {}  # no miner-wide intake: each module has its own
    assert [b.hardware_errors for b in status.boards] == [0, 88, 1, 0, 0, 0, 1, 0, 1, 0]  # HW
    assert status.boards[0].frequency_hz == pytest.approx(606.93e6)  # Freq
    # One fan per module, "Fan[2550] FanR[36%]"; labels stay unique across modules.
    fans = [(f.index, f.rpm, f.speed_ratio) for f in status.fans]
    assert fans[:2] == [("AV70-1-0", 2550, 0.36), ("AV70-2-0", 1440, 0.16)]
    assert [f.index for f in status.fans] == [f"{label}-0" for label in labels]
    assert status.fans[-1].rpm == 3810
    assert Fault("ECHU:512", "module AV71-3 hashboard 1") in status.faults
    assert status.power_watts is None  # these modules report no power
    assert status.mining is None  # no SYSTEMSTATU before the A10
    assert (status.accepted, status.hardware_errors, status.uptime_seconds) == (19, 3, 118)
    assert [p.url for p in status.pools] == [
        "stratum+tcp://stratum.antpool.com:3333", "stratum+tcp://stratum.antpool.com:443"
    ]


def test_controller_with_821_and_841_modules():
    status = parse(A841_MIXED)
    assert status.model == "821/841"  # Ver[8411803-...] and Ver[8211803-...] on one AUC
    assert [b.index for b in status.boards] == ["AV80-1", "AV80-2", "AV80-3"]
    assert status.expected_hashrate == pytest.approx((13646.20 + 11609.65 + 11513.45) * 1e9)
    assert [(f.index, f.rpm, f.speed_ratio) for f in status.fans] == [
        ("AV80-1-0", 5730, 1.0), ("AV80-2-0", 5850, 1.0), ("AV80-3-0", 5610, 1.0)  # Fan[5730] FanR[100%]
    ]
    assert [b.temperatures for b in status.boards] == [
        {"chip": 84, "inlet": 36}, {"chip": 85, "inlet": 36}, {"chip": 83, "inlet": 37}
    ]
    assert status.faults == []


def test_controller_reads_each_module_once_after_auc_replugs():
    # Ten AUC devices AV90..AV99 hold 50 module strings but only 20 modules (DNA):
    # cgminer keeps an unplugged AUC with frozen values and adds the re-plugged one
    # as a new device. The copy with the smallest module Elapsed is the live one:
    # the summary's average rate matches the 20 live modules, not the 50 strings.
    status = parse(A921_REPLUGGED)
    assert status.model == "921"
    assert [b.index for b in status.boards] == [f"AV9{d}-{m}" for d in (0, 3, 8, 9) for m in range(1, 6)]
    assert len({b.index for b in status.boards}) == 20
    assert sum(b.hashrate for b in status.boards) == pytest.approx(420699742.36e6, rel=0.01)  # "MHS av"
    assert status.expected_hashrate == pytest.approx(sum(b.expected_hashrate for b in status.boards))
    assert status.expected_hashrate == pytest.approx(439.48e12, rel=0.001)  # not 1101.56 TH/s over 50 strings
    assert status.boards[-1].expected_hashrate == pytest.approx(22074.55e9)  # AV99 MM ID5, not AV92's copy
    assert len(status.fans) == 20
    assert {f.code for f in status.faults} == {"ECMM:2"}


def test_controller_copies_are_told_apart_by_elapsed_not_by_position():
    replies = load_replies(A921_REPLUGGED)
    reversed_replies = copy.deepcopy(replies)
    reversed_replies["stats"].sections["STATS"].reverse()
    live = {b.index for b in AvalonParser().parse(replies).boards}
    assert len(live) == 20
    assert {b.index for b in AvalonParser().parse(reversed_replies).boards} == live


@pytest.mark.parametrize("path", [A1566["version"], AVALON_Q["version"]])
def test_detection_from_version(path):
    assert identify({"version": load_reply(path, "version")}) == "avalon"


@pytest.mark.parametrize(
    "stats", [A1566["stats"], AVALON_Q["stats"], A741_CHAINS["stats"], A841_MIXED["stats"], A921_REPLUGGED["stats"]]
)
def test_detection_from_stats(stats):
    assert identify({"stats": load_reply(stats, "stats")}) == "avalon"


def test_detection_from_multicommand_stats():
    assert identify({"stats": load_multi(A1047_MULTI, MULTI_COMMANDS)["stats"]}) == "avalon"


def _mm_variants(replies, every_module=False):
    """Copies with one NAME[value] field of an MM string (the first, or every one) replaced by junk."""
    for i, entry in enumerate(replies["stats"].section("STATS")):
        keys = [k for k in entry if k.startswith("MM ID")]
        for key in keys if every_module else keys[:1]:
            for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_ ]*?)\[([^\]]*)\]", entry[key]):
                for junk in ("", "x", "1 x", "-", "%", "nan", "-273 0"):
                    text = entry[key][: match.start(2)] + junk + entry[key][match.end(2) :]
                    broken = copy.deepcopy(replies)
                    broken["stats"].sections["STATS"][i][key] = text
                    yield broken
        if keys and not every_module:
            return


@pytest.mark.parametrize(
    "files, every_module",
    [(A1566, False), (AVALON_Q, False), (A841_MIXED, True), (A741_CHAINS, False)],
    ids=["a1566", "avalon_q", "a821_a841_controller", "a741_controller"],
)
def test_parse_never_raises_on_mangled_replies(files, every_module):
    replies = load_replies(files)
    assert survives_mangling(AvalonParser(), (*mangled_replies(replies), *_mm_variants(replies, every_module))) > 1000


def test_controller_copies_with_junk_dna_or_elapsed_never_raise():
    # The 921 capture's 50 strings (30 of them stale copies) with the fields that
    # tell copies apart broken one at a time. Every field of every module is
    # covered on the smaller controller captures above.
    replies = load_replies(A921_REPLUGGED)
    count = 0
    for i, entry in enumerate(replies["stats"].section("STATS")):
        for key in (k for k in entry if k.startswith("MM ID")):
            for match in re.finditer(r"(DNA|Elapsed)\[([^\]]*)\]", entry[key]):
                for junk in ("", "x", "0000000000000000", "-1", "nan", "1e999"):
                    broken = copy.deepcopy(replies)
                    text = entry[key][: match.start(2)] + junk + entry[key][match.end(2) :]
                    broken["stats"].sections["STATS"][i][key] = text
                    status = parse_and_render(AvalonParser(), broken)
                    assert len({b.index for b in status.boards}) == len(status.boards) in (20, 21)
                    count += 1
    assert count == 50 * 2 * 6


def test_controller_labels_stay_unique_when_device_ids_repeat():
    replies = load_replies(A741_CHAINS)
    for entry in replies["stats"].sections["STATS"]:
        entry["ID"] = "AV7"  # odd data: both AUCs under one name
    status = AvalonParser().parse(replies)
    assert [b.index for b in status.boards][:6] == ["0-1", "0-2", "0-3", "0-4", "0-5", "1-1"]
    assert len({f.index for f in status.fans}) == len(status.fans) == 10
