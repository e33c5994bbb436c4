"""Stock Antminer firmware (plus Hiveon and Blissz builds) against recorded replies."""

from __future__ import annotations


import pytest

from exporters.cgminer.commands import READ_ONLY_COMMANDS
from exporters.cgminer.firmware import PARSERS
from exporters.cgminer.firmware.antminer import AntminerParser, liquid_cooled, split_type
from exporters.cgminer.firmware.detect import identify
from exporters.cgminer.metrics import MinerSample, render
from exporters.cgminer.model import MinerStatus
from exporters.cgminer.scrape import ScrapeResult
from tests.support.cgminer_fixtures import load_reply, load_replies
from tests.support.mangle import mangled_replies, survives_mangling
from tests.support.prom_text import samples

S19PRO_2022 = {
    "version": "antminer/s19pro_stock_2022_version.json",
    "summary": "antminer/s19pro_stock_2022_summary.json",
    "pools": "antminer/s19pro_stock_2022_pools.json",
    "stats": "antminer/s19pro_stock_2022_stats.json",
}
# MSKminer 2.6.0.39 on an S19 with 88-chip boards (pyasic's mskminer test capture).
MSK_S19_88 = {
    "version": "antminer/s19-88_mskminer_2.6.0.39_version.json",
    "stats": "antminer/s19-88_mskminer_2.6.0.39_stats.json",
}
S21_2024 = {
    "version": "antminer/s21_stock_2024_version.json",
    "summary": "antminer/s21_stock_2024_summary.json",
    "pools": "antminer/s21_stock_2024_pools.json",
    "stats": "antminer/s21_stock_2024_stats_ABBREVIATED.json",
}


def parse(files: dict[str, str]) -> MinerStatus:
    return AntminerParser().parse(load_replies(files))


def parse_stats(path: str) -> MinerStatus:
    return AntminerParser().parse({"stats": load_reply(path, "stats")})


def board_map(status: MinerStatus) -> dict:
    return {board.index: board for board in status.boards}


# --- declaration -----------------------------------------------------------


def test_parser_declaration():
    assert PARSERS["antminer"] is AntminerParser
    assert AntminerParser.name == "antminer"
    assert AntminerParser.make == "Bitmain"
    assert AntminerParser.commands == ("summary", "pools", "stats")
    assert AntminerParser.static_commands == ("version",)
    assert set(AntminerParser.commands + AntminerParser.optional_commands + AntminerParser.static_commands) <= READ_ONLY_COMMANDS
    # stock firmware answers these with Code 14 (errors/antminer_s19pro_invalid_command_code14.json)
    assert not {"estats", "devdetails"} & set(AntminerParser.commands + AntminerParser.optional_commands)
    assert AntminerParser.multi_command is False


# --- full scrapes ----------------------------------------------------------


def test_s19pro_2022_full_scrape():
    status = parse(S19PRO_2022)
    assert (status.make, status.model, status.firmware) == ("Bitmain", "S19 Pro", "antminer")
    assert status.firmware_version == "Tue Dec 6 16:12:30 CST 2022"  # CompileTime, spaces collapsed
    assert status.hashrate == pytest.approx(110566.89e9)
    assert status.hashrate_average == pytest.approx(111834.85e9)  # summary wins over stats (111834.63)
    assert status.expected_hashrate == pytest.approx(110000.0e9)
    assert [fan.rpm for fan in status.fans] == [6000, 5880, 5040, 5040]
    assert [fan.index for fan in status.fans] == ["0", "1", "2", "3"]
    assert (status.accepted, status.rejected, status.stale) == (4057, 11, 1)
    assert status.hardware_errors == 562
    assert status.best_share == 12904207043
    assert status.uptime_seconds == 50474
    assert status.power_watts is None and status.power_limit_watts is None
    assert status.mining is None
    assert status.faults == []
    assert len(status.pools) == 3
    assert {pool.user for pool in status.pools} == {"satokierepair.H04YK"}
    assert [pool.active for pool in status.pools] == [True, False, False]
    assert status.pools[0].url == "stratum+tcp://btc.global.luxor.tech:700"


@pytest.mark.parametrize(
    "index, rate_ghs, chip, pcb, hw",
    [("0", 37603.30, 78, 73, 183), ("1", 35536.22, 71, 66, 195), ("2", 37427.38, 69, 64, 184)],
)
def test_s19pro_2022_boards(index, rate_ghs, chip, pcb, hw):
    boards = board_map(parse(S19PRO_2022))
    assert list(boards) == ["0", "1", "2"]  # chain_rate4 "" with chain_acn4 0 is an empty slot
    board = boards[index]
    assert board.hashrate == pytest.approx(rate_ghs * 1e9)
    assert board.expected_hashrate is None  # this build has no chain_rateideal
    assert (board.chips, board.expected_chips) == (114, 114)
    assert board.temperatures == {"chip": chip, "pcb": pcb}
    assert board.hardware_errors == hw
    assert board.frequency_hz == pytest.approx(525e6)
    assert board.voltage_volts is None and board.power_watts is None


def test_s21_2024_full_scrape():
    status = parse(S21_2024)
    assert status.model == "S21"
    assert status.firmware_version == "Thu Jul 11 16:38:25 CST 2024"
    assert status.hashrate == pytest.approx(203007.01e9)
    assert status.hashrate_average == pytest.approx(203675.66e9)
    assert status.power_watts == 3250.0  # "chain_power": "3250 W"
    assert (status.accepted, status.rejected, status.stale, status.hardware_errors) == (11187, 9, 0, 61)
    assert status.best_share == 5254813688 and isinstance(status.best_share, int)
    assert status.uptime_seconds == 59129
    assert status.boards == []  # the abbreviated capture has no chain keys
    assert [fan.rpm for fan in status.fans] == [6000, 5880, 5040, 5040]
    # the two empty "Deed" slots are unconfigured placeholders, not dead pools
    assert [pool.status for pool in status.pools] == ["Alive"]
    assert [pool.alive for pool in status.pools] == [True]
    assert status.pools[0].user == "proto_mining_sw_test_s21-0a5"


def test_best_share_uint64_max_stays_exact():
    summary = load_reply("other/cgminer490_summary_bestshare_uint64max.json", "summary")
    status = AntminerParser().parse({"summary": summary})
    assert status.best_share == 18446744073709551615
    assert status.hashrate == pytest.approx(411543.88e9)  # "GHS 5s" is a string here


def test_nul_terminated_summary():
    summary = load_reply("quirks/antminer_s19pro_summary_nul_terminated.txt", "summary")
    status = AntminerParser().parse({"summary": summary})
    assert status.accepted == 4057
    assert status.hashrate == pytest.approx(110566.89e9)
    assert status.uptime_seconds == 50474


# --- stats layouts, S9 to S21 ------------------------------------------------


@pytest.mark.parametrize(
    "path, model, firmware, version, ghs_5s, ghs_av, ideal_ghs, fans",
    [
        ("antminer/s17pro_stock_2019_stats.json", "S17 Pro", "antminer", "Tue Aug 20 10:37:07 CST 2019",
         54997.01, 54512.07, 53619.0, {"0": 2400, "1": 3000, "2": 3120, "3": 2400}),
        ("antminer/s19jpro_stock_2021_stats.json", "S19j Pro", "antminer", "Sat May 15 21:17:18 CST 2021",
         102232.59, 101925.32, 102003.0, {"0": 5760, "1": 5880, "2": 5880, "3": 5880}),
        ("antminer/s19pro_stock_2020_stats_cold_negative_temps.json", "S19 Pro", "antminer",
         "Wed Oct 21 10:18:10 CST 2020", 110786.79, 111730.11, 111859.0, {"0": 5520, "1": 5400, "2": 5040, "3": 5040}),
        ("antminer/s19pro_stock_2020_stats_overheating_zero_rate.json", "S19 Pro", "antminer",
         "Fri Dec 11 11:23:44 CST 2020", 0.0, 737.37, 111859.0, {"0": 5160, "1": 5280, "2": 6240, "3": 6120}),
        ("antminer/s19pro_stock_2020_stats_overheating_2.json", "S19 Pro", "antminer",
         "Mon Oct 26 17:55:33 CST 2020", 0.0, 93556.98, 111859.0, {"0": 6000, "1": 5880, "2": 6120, "3": 6120}),
        ("antminer/s19_stock_2020_stats_sleeping_missing_chain.json", "S19", "antminer",
         "Fri Dec 11 11:15:40 CST 2020", 0.0, 0.0, 63919.0, {"0": 1560, "1": 1560, "2": 600, "3": 720}),
        # S9-era 8-slot fan arrays: fan_num 2, fans at connectors 5 and 6
        ("quirks/antminer_s9_hiveon_stats_missing_comma.txt", "S9", "hiveon", "Tue Nov 20 10:12:30 UTC 2019",
         11781.40, 11609.55, 11850.3, {"4": 3840, "5": 4920}),
        ("quirks/antminer_s9_stats_newline_in_type_missing_comma.txt", "S9", "antminer",
         "Wed Jul 31 16:18:27 CST 2019", 13883.81, 13890.36, 13862.52, {"4": 3720, "5": 2400}),
        ("quirks/antminer_d3_blissz_stats_missing_comma.txt", "D3", "blissz", "2.06 beta",
         16.34664, 16.86838, None, {"0": 6030, "1": 5790}),  # D3 "GHS" keys hold MH/s
        ("quirks/antminer_l3plus_stats_missing_comma.txt", "L3+", "antminer", "Fri Aug 25 17:28:57 CST 2017",
         0.50456, 0.50028, None, {"0": 3840, "1": 3810}),  # L3+ "GHS" keys hold MH/s
        ("antminer/s21_stock_2024_stats_ABBREVIATED.json", "S21", "antminer", "Thu Jul 11 16:38:25 CST 2024",
         203007.01, 203675.66, None, {"0": 6000, "1": 5880, "2": 5040, "3": 5040}),
    ],
)
def test_stats_identity_rates_and_fans(path, model, firmware, version, ghs_5s, ghs_av, ideal_ghs, fans):
    status = parse_stats(path)
    assert (status.model, status.firmware, status.firmware_version) == (model, firmware, version)
    assert status.hashrate == pytest.approx(ghs_5s * 1e9)
    assert status.hashrate_average == pytest.approx(ghs_av * 1e9)
    assert status.expected_hashrate == (None if ideal_ghs is None else pytest.approx(ideal_ghs * 1e9))
    assert {fan.index: fan.rpm for fan in status.fans} == fans


@pytest.mark.parametrize(
    "path, boards",
    [
        # index: (rate GH/s, ideal GH/s, chips, expected chips, chip °C, pcb °C, hw, MHz)
        ("antminer/s17pro_stock_2019_stats.json", {
            "0": (17968.26, None, 48, 48, 80, 53, 731, 570),
            "1": (18418.00, None, 48, 48, 75, 53, 1074, 560),
            "2": (18610.75, None, 48, 48, 63, 45, 1080, 566),
        }),
        ("antminer/s19jpro_stock_2021_stats.json", {
            "0": (36107.96, None, 126, 126, 74, 69, 237, 525),
            "1": (32963.36, None, 126, 126, 74, 69, 177, 525),
            "2": (33161.27, None, 126, 126, 75, 70, 214, 525),
        }),
        ("antminer/s19pro_stock_2020_stats_cold_negative_temps.json", {
            "0": (37735.24, None, 114, 114, 27, 22, 1527, 525),  # temp_pcb1 "2--1-20-22"
            "1": (38109.07, None, 114, 114, 25, 20, 2752, 525),
            "2": (34942.48, None, 114, 114, 26, 21, 269, 525),  # temp_pcb3 "1--2-21-19"
        }),
        # every chip "x": boards present, zero good chips, rate 0.00 is a real 0
        ("antminer/s19pro_stock_2020_stats_overheating_zero_rate.json", {
            "0": (0.0, None, 0, 114, 93, 88, 1, 525),
            "1": (0.0, None, 0, 114, 94, 89, 0, 525),
            "2": (0.0, None, 0, 114, 97, 92, 0, 525),
        }),
        ("antminer/s19pro_stock_2020_stats_overheating_2.json", {
            "0": (0.0, None, 0, 114, 96, 91, 880, 525),
            "1": (0.0, None, 0, 114, 90, 85, 885, 525),
            "2": (0.0, None, 0, 114, 88, 83, 943, 525),
        }),
        # chain 1 is gone (chain_acn1 0, chain_rate1 ""): boards keep their slot numbers
        ("antminer/s19_stock_2020_stats_sleeping_missing_chain.json", {
            "1": (0.0, None, 0, 76, 40, 40, 0, 675),
            "2": (0.0, None, 0, 76, 40, 40, 0, 675),
        }),
        # S9 chains live in slots 6-8 and are numbered 0-2
        ("quirks/antminer_s9_hiveon_stats_missing_comma.txt", {
            "0": (3911.64, 3950.1, 63, 63, 74, 59, 0, 550),
            "1": (3913.70, 3950.1, 63, 63, 65, 50, 0, 550),
            "2": (3956.05, 3950.1, 63, 63, 72, 57, 0, 550),
        }),
        # "bad temps": temp7 0 is an unread sensor, temp2_7 -83 is what the firmware said
        ("quirks/antminer_s9_stats_newline_in_type_missing_comma.txt", {
            "0": (4618.85, 4620.34, 63, 63, 62, 75, 3085, 649.1),
            "1": (4624.55, 4620.87, 63, 63, -83, None, 289, 650.4),
            "2": (4640.41, 4621.31, 63, 63, 62, 73, 175165, 647.0),
        }),
        ("quirks/antminer_d3_blissz_stats_missing_comma.txt", {
            "0": (5.28783, None, 60, 60, 69, 46, 0, 450),
            "1": (5.63141, None, 60, 60, 67, 46, 0, 450),
            "2": (5.42741, None, 60, 60, 62, 48, 0, 450),
        }),
        # L3+ reports no per-chain frequency, only the miner-wide setting
        ("quirks/antminer_l3plus_stats_missing_comma.txt", {
            "0": (0.12612, None, 72, 72, 54, 46, 0, None),
            "1": (0.12579, None, 72, 72, 56, 46, 0, None),
            "2": (0.12606, None, 72, 72, 56, 46, 153, None),
            "3": (0.12659, None, 72, 72, 53, 45, 0, None),
        }),
    ],
)
def test_stats_boards(path, boards):
    parsed = board_map(parse_stats(path))
    assert list(parsed) == list(boards)
    for index, (rate, ideal, chips, expected_chips, chip, pcb, hw, mhz) in boards.items():
        board = parsed[index]
        assert board.hashrate == pytest.approx(rate * 1e9)
        assert board.expected_hashrate == (None if ideal is None else pytest.approx(ideal * 1e9))
        assert (board.chips, board.expected_chips) == (chips, expected_chips)
        assert board.temperatures.get("chip") == chip
        assert board.temperatures.get("pcb") == pcb
        assert board.hardware_errors == hw
        assert board.frequency_hz == (None if mhz is None else pytest.approx(mhz * 1e6))


def test_all_negative_readings_survive():
    # The cold capture's temp_pic1 string, used as a chip reading: max must be -8, not 0 or None.
    reply = load_reply("antminer/s19pro_stock_2020_stats_cold_negative_temps.json", "stats")
    data = reply.sections["STATS"][1]
    assert data["temp_pic1"] == "-8--11-10-12"
    data["temp_chip1"] = "-8--11--10--12"
    status = AntminerParser().parse({"stats": reply})
    assert board_map(status)["0"].temperatures["chip"] == -8.0


def test_hiveon_chain_power_is_not_watts():
    # Hiveon S9 writes "chain_power": "34.65 (AB)"; only "<n> W" is taken as watts.
    status = parse_stats("quirks/antminer_s9_hiveon_stats_missing_comma.txt")
    assert status.power_watts is None


def test_hiveon_ab_power_stays_unread_on_a_second_capture():
    # Another Hiveon S9 build: "chain_power": "456.78 (AB)", the sum of chain_power6/7
    # (234.84 + 221.94), at 5.9 TH/s; the capture above says 34.65 at 11.8 TH/s.
    # One key, 77 W per TH/s there and 2.9 here: not read until what it tracks is known.
    status = parse_stats("antminer/s9_hiveon_2021_stats_chain_power_ab.json")
    assert (status.model, status.firmware) == ("S9", "hiveon")
    assert status.hashrate == pytest.approx(5904.657e9)
    assert status.power_watts is None and status.power_estimated is False
    assert [board.index for board in status.boards] == ["0", "1"]  # two chains, slots 6 and 7
    assert {fan.index: fan.rpm for fan in status.fans} == {"4": 4080, "5": 4920}


# --- custom builds: version suffixes, power as a number, estimates -----------


def power_series(status: MinerStatus) -> dict:
    rendered = samples(render([MinerSample((), ScrapeResult(status))], ()).decode())
    return {labels: value for (name, labels), value in rendered.items() if name == "miner_power_watts"}


def test_mskminer_type_suffix_is_the_firmware_version_not_part_of_the_model():
    # Type "S19-88 v.2.6.0.39 ": the model is S19-88 (an S19 with 88-chip boards, as
    # the capture's chain_acn says), the version is MSKminer's, not the CompileTime.
    status = parse(MSK_S19_88)
    assert (status.make, status.model, status.firmware, status.firmware_version) == (
        "Bitmain", "S19-88", "antminer", "2.6.0.39")
    stats_only = parse_stats("antminer/s19-88_mskminer_2.6.0.39_stats.json")  # STATS[0] repeats the Type
    assert (stats_only.model, stats_only.firmware_version) == ("S19-88", "2.6.0.39")
    version_only = AntminerParser().parse({"version": load_reply(MSK_S19_88["version"], "version")})
    assert (version_only.model, version_only.firmware_version) == ("S19-88", "2.6.0.39")
    assert identify({"version": load_reply(MSK_S19_88["version"], "version")}) == "antminer"  # BMMiner key


def test_mskminer_full_stats():
    status = parse(MSK_S19_88)
    assert status.hashrate == pytest.approx(99989.59e9)
    assert status.hashrate_average == pytest.approx(99761.40e9)
    assert status.expected_hashrate == pytest.approx(99674.88e9)
    assert status.uptime_seconds == 1926
    assert {fan.index: fan.rpm for fan in status.fans} == {"0": 5010, "1": 5160, "2": 5070, "3": 5040}  # fan5-8 empty
    boards = board_map(status)
    assert list(boards) == ["0", "1", "2"]  # chain_rateideal4-16 fill empty slots
    for index, rate_ghs, ideal_ghs, chip, pcb, mhz in [
        ("0", 34084.86, 33677.28, 59, 45, 744), ("1", 32303.65, 32788.06, 57, 45, 724), ("2", 33601.08, 33209.54, 58, 47, 734),
    ]:
        board = boards[index]
        assert board.hashrate == pytest.approx(rate_ghs * 1e9)
        assert board.expected_hashrate == pytest.approx(ideal_ghs * 1e9)
        assert (board.chips, board.expected_chips) == (88, 88)  # " oo oo ..." 44 pairs
        assert board.temperatures == {"chip": chip, "pcb": pcb}
        assert board.frequency_hz == pytest.approx(mhz * 1e6)
        assert board.hardware_errors == 0


def test_total_power_as_a_number_is_read_and_marked_estimated():
    # MSKminer: "total_power": 3358, the sum of chain_power1-3 (1135 + 1103 + 1118) plus 2.
    status = parse(MSK_S19_88)
    assert status.power_watts == 3358 and status.power_estimated is True
    assert power_series(status) == {(("estimated", "true"),): 3358}


def test_stock_s21_chain_power_is_the_firmwares_estimate():
    # "chain_power": "3250 W" is computed by the firmware: no Antminer meters its draw.
    status = parse(S21_2024)
    assert status.power_watts == 3250 and status.power_estimated is True
    assert power_series(status) == {(("estimated", "true"),): 3250}


def test_no_power_is_not_an_estimate_of_zero():
    status = parse(S19PRO_2022)  # stock S19 Pro: no power key at all
    assert status.power_watts is None and status.power_estimated is False
    assert power_series(status) == {}


# --- chip maps ---------------------------------------------------------------


def _uppercase_chip_map(reply, slots):
    # The S19 Pro "overheating" capture with its chain_acs "x" marks written as "X",
    # the form issue 11 reports (no public chain_acs capture with "X" was found).
    data = reply.sections["STATS"][1]
    for slot in slots:
        assert set(data[f"chain_acs{slot}"]) == {" ", "x"}
        data[f"chain_acs{slot}"] = data[f"chain_acs{slot}"].upper()
    return data


def test_uppercase_x_chips_are_chips_that_do_not_answer():
    reply = load_reply("antminer/s19pro_stock_2020_stats_overheating_zero_rate.json", "stats")
    _uppercase_chip_map(reply, (1, 2, 3))
    boards = board_map(AntminerParser().parse({"stats": reply}))
    # Same as the lower-case map: 114 chips on the board, none answering.
    assert [(b.chips, b.expected_chips) for b in boards.values()] == [(0, 114)] * 3


def test_uppercase_x_chips_count_toward_the_map_when_chain_acn_is_missing():
    reply = load_reply("antminer/s19pro_stock_2020_stats_overheating_zero_rate.json", "stats")
    data = _uppercase_chip_map(reply, (1,))
    assert data["chain_acs1"].endswith(" XXX")
    data["chain_acs1"] = data["chain_acs1"][:-3] + "ooo"  # 111 failed, 3 answering
    del data["chain_acn1"]
    board = board_map(AntminerParser().parse({"stats": reply}))["0"]
    assert (board.chips, board.expected_chips) == (3, 114)


# --- liquid cooling -----------------------------------------------------------


@pytest.mark.parametrize(
    "kind, cooled",
    [
        # Type strings of water-cooled builds, as Bitmain's web scripts list them,
        # pyasic and asic-rs match them, and VNish writes them.
        ("Antminer S19 XP Hyd.", True), ("Antminer S21 Hyd.", True), ("Antminer S21 XP Hyd.", True),
        ("Antminer S21e XP Hyd.", True), ("Antminer S21+ Hyd.", True), ("Antminer S21e Hyd.", True),
        ("Antminer S19 XP+ Hyd.", True), ("Antminer U3S21EXPH", True), ("Antminer S19 Pro Hyd.", True),
        ("Antminer S19 Pro+ Hyd.", True), ("Antminer S19 Hydro", True), ("Antminer S21 Hydro (Vnish 1.2.6)", True),
        ("Antminer S9 Hydro", True),  # foreman's AntminerType
        ("Antminer S21 XP Immersion", True),  # the product's name; no immersion Type string was found
        # air-cooled
        ("Antminer S19 XP", False), ("Antminer S21", False), ("Antminer S19JPRO Hiveon", False),
        ("S19-88 v.2.6.0.39 ", False), ("Antminer S19j Pro", False), ("Antminer T21", False),
    ],
)
def test_liquid_cooled_models(kind, cooled):
    assert liquid_cooled(split_type(kind)[0]) is cooled


def test_a_hydro_build_exports_no_fans_for_its_empty_fan_connectors():
    # Hydro builds keep the stats layout of their air-cooled siblings and write
    # fan1-4 = 0 with fan_num 4 (issue 11). No public hydro stats capture was found:
    # the S19 Pro capture, renamed to the water-cooled S19 Pro Hyd. with its fans at 0.
    replies = load_replies(S19PRO_2022)
    replies["stats"].sections["STATS"][0]["Type"] = "Antminer S19 Pro Hyd."
    replies["version"].sections["VERSION"][0]["Type"] = "Antminer S19 Pro Hyd."
    data = replies["stats"].sections["STATS"][1]
    assert data["fan_num"] == 4
    for slot in (1, 2, 3, 4):
        data[f"fan{slot}"] = 0
    status = AntminerParser().parse(replies)
    assert status.model == "S19 Pro Hyd."
    assert status.fans == []
    rendered = samples(render([MinerSample((), ScrapeResult(status))], ()).decode())
    assert not [name for name, _ in rendered if name.startswith("miner_fan")]
    # The same reply from an air-cooled S19 Pro: four stopped fans, each a real 0.
    replies["stats"].sections["STATS"][0]["Type"] = replies["version"].sections["VERSION"][0]["Type"] = "Antminer S19 Pro"
    assert [fan.rpm for fan in AntminerParser().parse(replies).fans] == [0, 0, 0, 0]


def test_a_hydro_build_keeps_a_fan_that_turns():
    replies = load_replies(S19PRO_2022)
    replies["version"].sections["VERSION"][0]["Type"] = "Antminer S19 Pro Hyd."
    data = replies["stats"].sections["STATS"][1]
    data["fan1"], data["fan2"], data["fan3"] = 0, 0, 0  # fan4 keeps its 5040 rpm
    assert [(fan.index, fan.rpm) for fan in AntminerParser().parse(replies).fans] == [("3", 5040)]


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("Antminer S19 Pro", ("S19 Pro", "")),
        ("Antminer S19JPRO Hiveon", ("S19JPRO", "Hiveon")),
        ("Antminer S21 Pro (Vnish 1.2.7)", ("S21 Pro", "Vnish 1.2.7")),
        ("Antminer S9 (vnish 3.8.6)", ("S9", "vnish 3.8.6")),
        ("Antminer D3 Blissz v2.06 beta", ("D3", "Blissz v2.06 beta")),
        ("Antminer S9\nV1.3.58", ("S9", "")),
        ("A model", ("A model", "")),
        ("S19-88 v.2.6.0.39 ", ("S19-88", "v.2.6.0.39")),  # MSKminer
        ("Antminer S19 XP Hyd.", ("S19 XP Hyd.", "")),
        ("Antminer S19j Pro V2", ("S19j Pro V2", "")),  # a bare "V2" is no build version
        (None, ("", "")),
        (42, ("", "")),
    ],
)
def test_split_type(kind, expected):
    assert split_type(kind) == expected


# --- versions, pools, replies hashwatch does not use -------------------------


@pytest.mark.parametrize(
    "path, model, firmware, version",
    [
        ("antminer/s19_stock_2020_version.json", "S19", "antminer", "Fri Dec 11 11:15:40 CST 2020"),
        ("antminer/s19pro_stock_2020_version.json", "S19 Pro", "antminer", "Wed Oct 21 10:18:10 CST 2020"),
        ("antminer/s19pro_stock_2022_version.json", "S19 Pro", "antminer", "Tue Dec 6 16:12:30 CST 2022"),
        ("antminer/s21_stock_2024_version.json", "S21", "antminer", "Thu Jul 11 16:38:25 CST 2024"),
        ("antminer/s19jpro_hiveon_2024_version.json", "S19JPRO", "hiveon", "Fri Apr 19 10:58:21 UTC 2024"),
        ("antminer/s19-88_mskminer_2.6.0.39_version.json", "S19-88", "antminer", "2.6.0.39"),
    ],
)
def test_version_identity(path, model, firmware, version):
    status = AntminerParser().parse({"version": load_reply(path, "version")})
    identity = (status.make, status.model, status.firmware, status.firmware_version)
    assert identity == ("Bitmain", model, firmware, version)
    assert identify({"version": load_reply(path, "version")}) == "antminer"


@pytest.mark.parametrize(
    "path, statuses, active, users, accepted",
    [
        ("antminer/s17pro_stock_2019_pools.json", ["Alive"] * 3, [True, True, True],
         ["CosmosCapitalFund.COSMOSxCNKxS17Px00001"] * 3, [86241, 63, 196]),
        ("antminer/s19_stock_2020_pools_pool_stale_double_percent_deed.json", ["Alive", "Alive", "Deed"],
         [True, False, False], ["aaa.226x94", "bbb.226x94", "ccc.226x94"], [0, 0, 0]),
        # empty-URL slots are unconfigured placeholders: skipped, not exported as dead pools
        ("antminer/s19pro_stock_2020_pools_luxor_zec.json", ["Alive"], [True], ["x.001"], [2848]),
        ("antminer/s19pro_stock_2020_pools_xnsub.json", ["Alive"] * 3, [True, False, True],
         ["aaa.bbb"] * 3, [100129, 0, 0]),
        ("antminer/s19pro_stock_2022_pools.json", ["Alive"] * 3, [True, False, False],
         ["satokierepair.H04YK"] * 3, [4057, 0, 0]),
        ("antminer/s21_stock_2024_pools.json", ["Alive"], [True], ["proto_mining_sw_test_s21-0a5"], [11187]),
    ],
)
def test_pools(path, statuses, active, users, accepted):
    pools = AntminerParser().parse({"pools": load_reply(path, "pools")}).pools
    assert [pool.index for pool in pools] == [str(i) for i in range(len(statuses))]
    assert [pool.status for pool in pools] == statuses
    assert [pool.alive for pool in pools] == [status == "Alive" for status in statuses]  # "Deed" is dead
    assert [pool.active for pool in pools] == active
    assert [pool.user for pool in pools] == users
    assert [pool.accepted for pool in pools] == accepted


def test_xnsub_url_kept_verbatim():
    pools = AntminerParser().parse({"pools": load_reply("antminer/s19pro_stock_2020_pools_xnsub.json", "pools")}).pools
    assert pools[0].url == "stratum+tcp://aaa.com:9999#xnsub"
    assert pools[0].worker == "bbb"


@pytest.mark.parametrize("path", ["antminer/s19pro_stock_2022_devs.json", "antminer/s21_stock_2024_devs.json"])
def test_stock_devs_is_not_a_data_source(path):
    # Stock S19 devs says "MHS 5s": 0.0 while hashing 110 TH/s; the parser must not read it.
    devs = load_reply(path, "devs")
    assert devs.ok and devs.first("DEVS")["Name"] == "BTM_SOC"
    assert "devs" not in AntminerParser.commands + AntminerParser.optional_commands
    assert AntminerParser().parse({"devs": devs}) == MinerStatus(make="Bitmain", firmware="antminer")
    stock_devs = load_reply("antminer/s19pro_stock_2022_devs.json", "devs")
    assert AntminerParser().parse({**load_replies(S19PRO_2022), "devs": stock_devs}) == parse(S19PRO_2022)


def test_stock_config_is_ignored():
    config = load_reply("antminer/s21_stock_2024_config.json", "config")
    assert config.ok and config.first("CONFIG")["ASC Count"] == 3
    assert AntminerParser().parse({**load_replies(S21_2024), "config": config}) == parse(S21_2024)


# --- errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, command, code, scrape, ghs_5s, accepted",
    [
        ("errors/antminer_s19pro_invalid_command_code14.json", "stats", 14, S19PRO_2022, 110566.89, 4057),
        ("errors/antminer_s21_invalid_command.json", "stats", 14, S21_2024, 203007.01, 11187),
    ],
)
def test_failed_stats_leaves_the_rest(path, command, code, scrape, ghs_5s, accepted):
    reply = load_reply(path, command)
    assert not reply.ok
    assert reply.code == code and reply.msg == "Invalid command"
    # The scraper hands parse() only successful replies; what is left must still parse.
    status = AntminerParser().parse(load_replies({k: v for k, v in scrape.items() if k != command}))
    assert status.hashrate == pytest.approx(ghs_5s * 1e9)
    assert status.accepted == accepted
    assert status.model  # from `version`
    assert status.boards == [] and status.fans == [] and status.expected_hashrate is None
    assert status.power_watts is None


def test_hiveon_access_denied():
    reply = load_reply("errors/antminer_s19jpro_hiveon_access_denied_devdetails_code45.json", "devdetails")
    assert not reply.ok
    assert reply.code == 45
    assert "devdetails" not in AntminerParser.commands + AntminerParser.optional_commands
    status = AntminerParser().parse({"version": load_reply("antminer/s19jpro_hiveon_2024_version.json", "version")})
    assert (status.model, status.firmware) == ("S19JPRO", "hiveon")


def test_empty_replies():
    assert AntminerParser().parse({}) == MinerStatus(make="Bitmain", firmware="antminer")


# --- detection ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "antminer/s17pro_stock_2019_stats.json",
        "antminer/s19jpro_stock_2021_stats.json",
        "antminer/s19pro_stock_2020_stats_cold_negative_temps.json",
        "antminer/s19pro_stock_2020_stats_overheating_zero_rate.json",
        "antminer/s19pro_stock_2020_stats_overheating_2.json",
        "antminer/s19_stock_2020_stats_sleeping_missing_chain.json",
        "antminer/s19pro_stock_2022_stats.json",
        "antminer/s21_stock_2024_stats_ABBREVIATED.json",
        "quirks/antminer_s9_hiveon_stats_missing_comma.txt",
        "quirks/antminer_s9_stats_newline_in_type_missing_comma.txt",
        "quirks/antminer_d3_blissz_stats_missing_comma.txt",
        "quirks/antminer_l3plus_stats_missing_comma.txt",
        "antminer/s9_hiveon_2021_stats_chain_power_ab.json",
    ],
)
def test_identify_stats(path):
    assert identify({"stats": load_reply(path, "stats")}) == "antminer"


def test_identify_vnish386_is_not_antminer():
    # Same S9 layout, but the Type suffix names VNish: the VNish parser owns it.
    assert identify({"stats": load_reply("quirks/antminer_s9_vnish386_stats_missing_comma.txt", "stats")}) == "vnish"


# --- robustness --------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        S19PRO_2022,
        S21_2024,
        {"stats": "quirks/antminer_s9_hiveon_stats_missing_comma.txt"},
        {"stats": "antminer/s19_stock_2020_stats_sleeping_missing_chain.json"},
        MSK_S19_88,
        {"stats": "antminer/s9_hiveon_2021_stats_chain_power_ab.json"},
    ],
)
def test_malformed_fields_never_raise(files):
    replies = load_replies(files)
    assert survives_mangling(AntminerParser(), mangled_replies(replies)) > 100


def test_malformed_field_only_loses_that_field():
    replies = load_replies(S19PRO_2022)
    replies["stats"].sections["STATS"][1]["chain_rate2"] = "garbage"
    replies["stats"].sections["STATS"][1]["fan3"] = {"rpm": 1}
    status = AntminerParser().parse(replies)
    boards = board_map(status)
    assert boards["1"].hashrate is None
    assert boards["1"].chips == 114  # the rest of the board survives
    assert boards["0"].hashrate == pytest.approx(37603.30e9)
    assert [fan.rpm for fan in status.fans] == [6000, 5880, None, 5040]
