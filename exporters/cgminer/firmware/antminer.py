"""Bitmain stock firmware (bmminer/cgminer, Antminer S9 to S21), plus Hiveon, Blissz and MSKminer builds.

This module also reads Bitmain's `stats` layout for the VNish and LuxOS parsers,
which keep it: STATS[0] names the build (Type, CompileTime), STATS[1] holds the
miner data, with per-chain keys suffixed by the chain slot (chain_rate1,
temp_chip1, freq1, ...).

Board numbering: chain slot N becomes board index N - base. base is 1, except on
S9-era builds that write a 16-slot array with the three chains in slots 6-8
(and nothing below 6): there base is 6, so every model's boards read 0, 1, 2.
Numbering by slot rather than by position keeps a missing chain visible: on the
S19 "sleeping" capture chain 1 is gone and the survivors stay boards 1 and 2.
A slot is a board when the firmware shows a chain there (chips, a non-zero rate,
a chain state or a chip map with chips); "0-0-0-0"/"" placeholders of empty
slots are not boards.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import SENSOR_CHIP, SENSOR_PCB, Board, Fan, MinerStatus
from ..reply import Reply
from ..units import dash_numbers, hashrate, to_float, to_int
from .registry import register
from .base import FirmwareParser
from .common import apply_summary, first_present, guarded, parse_pools

_CHAIN_PREFIXES = ("chain_acn", "chain_rate", "chain_acs", "chain_hw", "chain_state")


def _slots(data: dict[str, Any], prefixes: tuple[str, ...]) -> set[int]:
    """N of every key prefixN (digits only) in a stats section of 100+ keys."""
    found = set()
    for key in data:
        if isinstance(key, str) and key.startswith(prefixes):
            for prefix in prefixes:
                number = key[len(prefix):]
                if key.startswith(prefix) and number.isdigit() and number.isascii():
                    found.add(int(number))
                    break
    return found
_WATTS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*W\s*$", re.IGNORECASE)
_PAREN_SUFFIX = re.compile(r"^(.*?)\s*\(([^)]*)\)\s*$")
_WORD_SUFFIX = re.compile(r"^(.*?)\s+((?:hiveon|blissz)\b.*)$", re.IGNORECASE)
# A bare build version after the model, as custom builds write it: MSKminer's
# "S19-88 v.2.6.0.39 " (pyasic's mskminer test capture). "v" and a dotted number,
# so model words such as "XP" or "Pro+" are never taken for one.
_VERSION_SUFFIX = re.compile(r"^(.*?)\s+([vV]\.?\d+(?:\.\d+)+)$")
_BARE_VERSION = re.compile(r"^[vV]\.?(\d+(?:\.\d+)+)$")
# Water-cooled and immersion builds, as their Type names them: Bitmain's "Hyd."
# ("Antminer S19 XP Hyd.", "S21+ Hyd.", "S21e XP Hyd.", listed in Bitmain's own
# web scripts), "Hydro" ("Antminer S19 Hydro", VNish's "S21 Hydro (Vnish 1.2.6)"),
# "Immersion", and the 3U rack "U3S21EXPH" (S21e XP Hyd. 3U).
_LIQUID_COOLED = re.compile(r"\bhyd(?:ro)?\b|\bimmersion\b|^u3s21\w*h$", re.IGNORECASE)

# Builds without "rate_unit" whose "GHS" keys really hold MH/s: the L3+ sums to
# ~504 (its MH/s spec) and the D3 to ~16300 (a 19 GH/s machine).
_MH_WITHOUT_RATE_UNIT = ("L3", "D3")



def stats_parts(reply: Reply | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(identity, data): the STATS entry naming the build and the one holding the readings."""
    items = reply.section("STATS") if reply is not None else []
    identity = next((item for item in items if "Type" in item), {})
    data = next((item for item in items if item is not identity), {})
    return identity, data


def split_type(kind: Any) -> tuple[str, str]:
    """(model, firmware suffix) from a Type string.

    'Antminer S19 Pro (Vnish 1.2.7)' -> ('S19 Pro', 'Vnish 1.2.7');
    'Antminer S19JPRO Hiveon' -> ('S19JPRO', 'Hiveon');
    'S19-88 v.2.6.0.39 ' (MSKminer) -> ('S19-88', 'v.2.6.0.39').
    """
    if not isinstance(kind, str) or not kind.strip():
        return "", ""
    # One S9 build appends "\nV1.3.58" (a board revision) to Type.
    text = kind.strip().splitlines()[0].strip()
    text = re.sub(r"^antminer\s+", "", text, flags=re.IGNORECASE)
    match = _PAREN_SUFFIX.match(text) or _WORD_SUFFIX.match(text) or _VERSION_SUFFIX.match(text)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    return text, ""


def suffix_version(suffix: str) -> str:
    """'Vnish 1.2.7' -> '1.2.7', 'Blissz v2.06 beta' -> '2.06 beta', 'v.2.6.0.39' -> '2.6.0.39', 'Hiveon' -> ''."""
    text = suffix.strip()
    bare = _BARE_VERSION.match(text)
    if bare:
        return bare.group(1)
    _, _, rest = text.partition(" ")
    rest = rest.strip()
    return rest[1:] if rest[:1] in ("v", "V") and rest[1:2].isdigit() else rest


def liquid_cooled(model: str) -> bool:
    """True for a water-cooled or immersion build ("S19 XP Hyd.", "S21 Hydro"), which has no fans of its own."""
    return isinstance(model, str) and bool(_LIQUID_COOLED.search(model.strip()))


def rate_unit(data: dict[str, Any], model: str) -> str:
    """The unit of chain_rate*, total_rateideal and (despite the name) the "GHS" keys."""
    unit = data.get("rate_unit")
    if isinstance(unit, str) and unit.strip():
        return unit.strip()
    if model.upper().startswith(_MH_WITHOUT_RATE_UNIT):
        return "MH"
    return "GH"


def rate(value: Any, unit: str) -> float | None:
    """H/s, or None for a missing value or a unit that is not a hash rate."""
    try:
        return hashrate(value, unit)
    except ValueError:
        return None


def _nonzero(value: float | None) -> float | None:
    # For nominal rates, frequencies and per-chain watts, 0 means "not filled in".
    return value if value else None


def fill_hashrates(status: MinerStatus, summary: dict[str, Any], data: dict[str, Any], unit: str) -> None:
    """Miner hash rates from SUMMARY, falling back to the stats entry (same keys)."""

    def window(ghs_key: str, mhs_key: str) -> float | None:
        for source in (summary, data):
            value = rate(source.get(ghs_key), unit)
            if value is None:
                value = rate(source.get(mhs_key), "MH")
            if value is not None:
                return value
        return None

    status.hashrate = window("GHS 5s", "MHS 5s")
    status.hashrate_average = window("GHS av", "MHS av")
    status.expected_hashrate = _nonzero(rate(data.get("total_rateideal"), unit))
    if status.uptime_seconds is None:
        status.uptime_seconds = to_float(data.get("Elapsed"))


def _chain_present(data: dict[str, Any], slot: int) -> bool:
    chips = to_int(data.get(f"chain_acn{slot}")) or 0
    chain_rate = to_float(data.get(f"chain_rate{slot}"))
    state = data.get(f"chain_state{slot}")
    return (
        chips > 0
        or bool(chain_rate)
        or (isinstance(state, str) and bool(state.strip()))
        or sum(_chip_counts(data.get(f"chain_acs{slot}"))) > 0
    )


def chain_layout(data: dict[str, Any]) -> list[tuple[int, str]]:
    """(slot, board index) for every chain the firmware shows, in slot order."""
    slots = sorted(_slots(data, _CHAIN_PREFIXES))
    present = [slot for slot in slots if _chain_present(data, slot)]
    if not present:
        return []
    base = 6 if min(present) >= 6 else min(1, slots[0])
    return [(slot, str(slot - base)) for slot in present]


def _hottest(*sources: Any) -> float | None:
    """Max of the first source holding a real reading; all-zero strings are empty-slot placeholders."""
    for source in sources:
        numbers = dash_numbers(source)
        if numbers and any(numbers):
            return max(numbers)
    return None


def _megahertz(data: dict[str, Any], slot: int) -> float | None:
    # S9/VNish write freq_avgN, S17/S19 freqN, D3 frequencyN; 0 fills empty slots.
    for key in (f"freq_avg{slot}", f"freq{slot}", f"frequency{slot}"):
        value = to_float(data.get(key))
        if value:
            return value
    return None


def _chip_counts(acs: Any) -> tuple[int, int]:
    # chain_acs draws one letter per chip: "o" hashing, "x" not answering with
    # nonces. Stock bmminer writes lower case; Bitmain's troubleshooting pages
    # and the tools that show the map speak of "X" chips, and a map marking them
    # "X" counts the same: a chip is a chip in either case. Spaces only group
    # chips; "-" (cgminer's S4-era driver: no chip at that position) is none.
    if not isinstance(acs, str):
        return 0, 0
    return acs.count("o") + acs.count("O"), acs.count("x") + acs.count("X")


def _board(data: dict[str, Any], slot: int, index: str, unit: str, volt_divisor: float) -> Board:
    board = Board(index=index)
    board.hashrate = rate(data.get(f"chain_rate{slot}"), unit)  # "" on a chain that reports no rate
    board.expected_hashrate = _nonzero(rate(data.get(f"chain_rateideal{slot}"), unit))
    detected = to_int(data.get(f"chain_acn{slot}"))
    good, bad = _chip_counts(data.get(f"chain_acs{slot}"))
    if good + bad:
        board.chips = good
        board.expected_chips = detected if detected else good + bad
    else:
        board.chips = detected
    board.hardware_errors = to_int(data.get(f"chain_hw{slot}"))
    mhz = _megahertz(data, slot)
    board.frequency_hz = mhz * 1e6 if mhz else None
    reading = _nonzero(to_float(data.get(f"chain_vol{slot}")))
    board.voltage_volts = reading / volt_divisor if reading else None
    board.power_watts = _nonzero(to_float(data.get(f"chain_consumption{slot}")))
    chip = _hottest(data.get(f"temp_chip{slot}"), data.get(f"temp2_{slot}"))
    pcb = _hottest(data.get(f"temp_pcb{slot}"), data.get(f"temp{slot}"))
    board.temperatures = {k: v for k, v in ((SENSOR_CHIP, chip), (SENSOR_PCB, pcb)) if v is not None}
    state = data.get(f"chain_state{slot}")
    board.status = state if isinstance(state, str) and state else None
    return board


def read_boards(data: dict[str, Any], unit: str, volt_divisor: float = 1000) -> list[Board]:
    """One Board per chain; chain_vol / volt_divisor is volts (chain_vol is mV on current firmware)."""
    boards = []
    for slot, index in guarded([], chain_layout, data):
        board = guarded(None, _board, data, slot, index, unit, volt_divisor)
        boards.append(board if board is not None else Board(index=index))
    return boards


def read_fans(data: dict[str, Any]) -> list[Fan]:
    """fanN readings. Index N-1 is the connector, so a stopped fan never renames the others.

    When the firmware writes more slots than fan_num (S9: 8, S17: 16) the array is
    fixed-size and the fans are where readings are non-zero; a stopped fan there
    cannot be told from an empty connector and is left out. Otherwise every slot
    is a fan and 0 rpm is a stopped fan.
    """
    slots = sorted(_slots(data, ("fan",)))
    readings = {slot: to_float(data.get(f"fan{slot}")) for slot in slots}
    declared = to_int(data.get("fan_num"))
    if declared is not None and len(slots) > declared:
        slots = [slot for slot in slots if readings[slot]]
    return [Fan(index=str(slot - 1), rpm=readings[slot]) for slot in slots]


def read_power_estimate(data: dict[str, Any]) -> tuple[float | None, bool]:
    """(miner watts, whether that is the firmware's estimate) from a Bitmain-layout stats entry.

    The forms firmwares use, first found wins:
      * "total_power": a number (MSKminer: 3358, the sum of its chain_powerN
        1135 + 1103 + 1118 plus 2);
      * "chain_power": "<n> W" (stock S21: "3250 W").
    Both are the firmware's own figure, not a reading: nothing public shows an
    Antminer metering its draw ("there are no power data points for any stock
    antminers ... even those [aftermarket] firmwares are just guessing",
    pyasic's maintainer in hass-miner #300, 2024), and MSKminer's total is a sum
    of per-chain model values. So every value read here is estimated; 0 or less
    is "not filled in".
    Hiveon's "chain_power": "<n> (AB)" (AB: AsicBoost on; the sum of its
    chain_powerN) is not read: on two S9 captures it is 456.78 at 5.9 TH/s but
    34.65 at 11.8 TH/s, where an S9 draws some 1,300 W, so what it tracks is
    not settled.
    """
    total = to_float(data.get("total_power"))
    if total is not None and total > 0:
        return total, True
    value = data.get("chain_power")
    match = _WATTS.match(value) if isinstance(value, str) else None
    watts = float(match.group(1)) if match else None
    if watts:
        return watts, True
    return None, False


def read_power(data: dict[str, Any]) -> float | None:
    """Miner watts (see read_power_estimate: every form read here is the firmware's estimate)."""
    return read_power_estimate(data)[0]


def _compile_time(*sources: dict[str, Any]) -> str:
    for source in sources:
        value = first_present(source, "CompileTime")
        if isinstance(value, str):
            # The web UI shows "Tue Dec  6 ..." collapsed; so do we.
            return " ".join(value.split())
    return ""


@register
class AntminerParser(FirmwareParser):
    name = "antminer"
    make = "Bitmain"
    # Stock firmware answers estats/devdetails with Code 14. Its devs reply is
    # left out on purpose: stock S19 builds fill it with zero MHS.
    # stats[0] repeats what `version` says (Type, CompileTime), so version is
    # only asked for now and then.
    commands = ("summary", "pools", "stats")
    static_commands = ("version",)
    optional_commands = ()
    multi_command = False  # stock S19 builds may reject "a+b" requests

    def parse(self, replies: dict[str, Reply]) -> MinerStatus:
        status = MinerStatus(make=self.make, firmware=self.name)
        version = replies["version"].first("VERSION") if "version" in replies else {}
        identity, data = stats_parts(replies.get("stats"))
        model, suffix = split_type(first_present(version, "Type") or identity.get("Type"))
        status.model = model
        # Hiveon and Blissz run Bitmain's bmminer and only say so in the Type suffix.
        family = suffix.split(" ")[0].lower() if suffix else ""
        if family in ("hiveon", "blissz"):
            status.firmware = family
        # Firmware version: stock builds all say Miner "49.0.1.3" whatever the
        # release, so the CompileTime (unique per Bitmain build) identifies them.
        status.firmware_version = (
            suffix_version(suffix)
            or _compile_time(version, identity)
            or str(first_present(version, "Miner") or identity.get("Miner") or "")
        )
        unit = rate_unit(data, model)
        summary = guarded({}, apply_summary, status, replies.get("summary"))
        guarded(None, fill_hashrates, status, summary, data, unit)
        status.boards = read_boards(data, unit)
        fans = guarded([], read_fans, data)
        if liquid_cooled(model):
            # A water-cooled or immersion build has no fans: its 0 rpm slots are
            # empty connectors, not stopped fans, and export nothing.
            fans = [fan for fan in fans if fan.rpm]
        status.fans = fans
        status.power_watts, status.power_estimated = guarded((None, False), read_power_estimate, data)
        status.pools = guarded([], parse_pools, replies.get("pools"))
        # mining stays None: stock firmware has no sleep/pause flag in the API;
        # the "sleeping" S19 capture only shows GHS 0 and failed chips.
        return status
