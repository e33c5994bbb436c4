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
from tests.cgminer_fixtures import load_multi, load_reply, load_replies
from tests.mangle import mangled_replies, parse_and_render

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


@pytest.mark.parametrize("path", [A1566["version"], AVALON_Q["version"]])
def test_detection_from_version(path):
    assert identify({"version": load_reply(path, "version")}) == "avalon"


@pytest.mark.parametrize("stats", [A1566["stats"], AVALON_Q["stats"]])
def test_detection_from_stats(stats):
    assert identify({"stats": load_reply(stats, "stats")}) == "avalon"


def test_detection_from_multicommand_stats():
    assert identify({"stats": load_multi(A1047_MULTI, MULTI_COMMANDS)["stats"]}) == "avalon"


def _mm_variants(replies):
    """Copies with one NAME[value] field of the MM string replaced by junk."""
    stats = replies["stats"]
    entry = stats.section("STATS")[0]
    key = next(k for k in entry if k.startswith("MM ID"))
    for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_ ]*?)\[([^\]]*)\]", entry[key]):
        for junk in ("", "x", "1 x", "-", "%", "nan", "-273 0"):
            text = entry[key][: match.start(2)] + junk + entry[key][match.end(2) :]
            broken = copy.deepcopy(replies)
            broken["stats"].sections["STATS"][0][key] = text
            yield broken


@pytest.mark.parametrize("files", [A1566, AVALON_Q], ids=["a1566", "avalon_q"])
def test_parse_never_raises_on_mangled_replies(files):
    replies = load_replies(files)
    count = 0
    for broken in (*mangled_replies(replies), *_mm_variants(replies)):
        parse_and_render(AvalonParser(), broken)
        count += 1
    assert count > 1000
