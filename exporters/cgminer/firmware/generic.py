"""Fallback for any device speaking the CGMiner API (the "cgminer" family).

Used when detection recognises no firmware. It reads what cgminer's api.c
writes for every driver (VERSION, SUMMARY, POOLS, DEVS, DEVDETAILS), so it gives
something useful for a Cheetah C3012 or a firmware hashwatch has never met.
`stats` is driver-specific, so only two layouts seen on real devices are read
from it, each recognised by its keys, never guessed at:

* Bitmain's (chain_rateN / chain_acnN, fanN, tempN, Type in its own entry),
  which other makes' bmminer-derived builds keep (Hammer D10, Blackminer F1):
  boards, fans, temperatures, power and the model, through antminer.py's readers;
* bdminer's (Bitdeer SealMiner): "Board Count", "N MHS(Sample)", "Fan Count",
  "N Speed", "PSU Input Power", "Model".

The firmware version is the mining program's: any VERSION key named after it
(CGMiner, GCMiner, BDMiner, ...) or a STATUS Description ("bdminer 4.11.1").
The helpers at the top are shared by the other parsers of this package.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import SENSOR_PCB, Board, Fan, MinerStatus
from ..reply import Reply
from ..units import hashrate, to_float, to_int
from .registry import register
from .antminer import rate, rate_unit, read_boards, read_fans, read_power_estimate, split_type, stats_parts
from .base import FirmwareParser
from .common import apply_summary, first_present, guarded, parse_pools, program_version

# Hash rate keys, best first. cgminer writes MHS, Bitmain-derived builds GHS
# (sometimes as strings), scrypt devices KHS; Avalon's cgminer 4.11 has a 30s
# window instead of 5s.
SHORT_WINDOW = (("MHS 5s", "MH"), ("GHS 5s", "GH"), ("KHS 5s", "KH"), ("MHS 30s", "MH"), ("MHS 1m", "MH"))
AVERAGE = (("MHS av", "MH"), ("GHS av", "GH"), ("KHS av", "KH"))

# api.c numbers devices ASC/PGA/GPU; Auradine's GCMiner writes DEV.
_DEVICE_KINDS = ("ASC", "PGA", "GPU", "DEV")
# Replies whose STATUS Description may name the mining program, best first.
_DESCRIBED = ("version", "summary", "devs", "devdetails", "stats", "pools")
# Mining programs only one maker ships: their name says the make.
_PROGRAM_MAKES = {"bdminer": "Bitdeer", "gcminer": "Auradine", "innominer": "Innosilicon"}
# A Bitmain-layout stats entry has per-chain keys; any other layout has none.
_CHAIN_KEY = re.compile(r"chain_(?:rate|acn)[0-9]+")
# bdminer numbers boards and fans from 0; more than this is not a miner.
_MAX_SLOTS = 64


def read_rate(data: dict[str, Any], keys: tuple[tuple[str, str], ...]) -> float | None:
    """H/s from the first of `keys` holding a number."""
    for key, unit in keys:
        value = hashrate(data.get(key), unit)
        if value is not None:
            return value
    return None


def sensor(value: Any) -> float | None:
    """°C from a device/chip sensor, None for the "no reading" values.

    api.c writes a device's temp, which stays 0 for drivers without a sensor;
    drivers initialise unread sensors to -273 (the Avalon devs capture shows it).
    """
    number = to_float(value)
    if number is None or number == 0 or number <= -273:
        return None
    return number


def nonzero(value: float | None) -> float | None:
    # For nominal rates, powers and frequencies 0 means "not filled in".
    return value if value else None


def ghs_unit(summary: dict[str, Any]) -> str:
    """The unit really behind the "GHS" keys of a SUMMARY.

    Some Bitmain-derived cgminer 4.9.0 builds write MH/s under "GHS": their
    "Total MH" / Elapsed equals "GHS av" (the 4.9.0 capture: 419793 both) where a
    true GH/s build gives 1000 times it (stock S19: 111812690 vs 111834.85).
    """
    average = to_float(summary.get("GHS av"))
    total = to_float(summary.get("Total MH"))
    elapsed = to_float(summary.get("Elapsed"))
    if average and total and elapsed:
        ratio = total / elapsed / average
        if 0.5 < ratio < 2:
            return "MH"
    return "GH"


def _summary_keys(keys: tuple[tuple[str, str], ...], ghs: str) -> tuple[tuple[str, str], ...]:
    return tuple((key, ghs if key.startswith("GHS") else unit) for key, unit in keys)


def _device_index(entry: dict[str, Any], position: int, *keys: str) -> str:
    value = first_present(entry, *(keys or _DEVICE_KINDS))
    return str(value if value is not None else position)


def _devs_boards(devs: Reply | None, rate_keys: tuple[tuple[str, str], ...]) -> list[Board]:
    boards = []
    for position, entry in enumerate(devs.section("DEVS") if devs is not None else []):
        board = Board(index=_device_index(entry, position))
        board.hashrate = read_rate(entry, rate_keys)
        temperature = sensor(entry.get("Temperature"))
        if temperature is not None:
            board.temperatures[SENSOR_PCB] = temperature
        board.hardware_errors = to_int(entry.get("Hardware Errors"))
        status = entry.get("Status")
        board.status = status if isinstance(status, str) and status else None
        boards.append(board)
    return boards


def _devdetails_boards(devdetails: Reply | None) -> list[Board]:
    # Without devs, devdetails still says how many devices there are.
    entries = devdetails.section("DEVDETAILS") if devdetails is not None else []
    return [Board(index=_device_index(entry, i, "DEVDETAILS")) for i, entry in enumerate(entries)]


def _model(version: dict[str, Any], devdetails: Reply | None) -> str:
    kind = version.get("Type")
    if isinstance(kind, str) and kind.strip():
        return kind.strip()
    # Some drivers put a per-device number in Model (the Cheetah writes "0", "1", "2"):
    # only a single non-numeric value names the machine.
    names = {
        str(entry.get("Model")).strip()
        for entry in (devdetails.section("DEVDETAILS") if devdetails is not None else [])
        if isinstance(entry.get("Model"), str)
    }
    names = {name for name in names if name and not name.isdigit()}
    return names.pop() if len(names) == 1 else ""


def _bitmain_entry(stats: Reply | None) -> dict[str, Any]:
    """The STATS entry holding Bitmain's per-chain keys; {} when the layout is another."""
    entries = stats.section("STATS") if stats is not None else []
    return next((e for e in entries if any(isinstance(k, str) and _CHAIN_KEY.fullmatch(k) for k in e)), {})


def _stats_unit(data: dict[str, Any], model: str, ghs: str) -> str:
    """The unit of chain_rateN: the declared rate_unit, else that of the entry's own totals."""
    declared = data.get("rate_unit")
    if isinstance(declared, str) and declared.strip():
        return declared.strip()
    # The Hammer D10 writes "MHS 5s" and chains in MH/s (they add up to it), the
    # Blackminer F1 "GHS 5s" and chains in GH/s.
    if not {"GHS 5s", "GHS av"} & data.keys() and {"MHS 5s", "MHS av"} & data.keys():
        return "MH"
    if ghs == "MH":
        return "MH"  # a build whose "GHS" keys hold MH/s (ghs_unit)
    return rate_unit(data, model)


def _apply_bitmain_stats(status: MinerStatus, stats: Reply | None, ghs: str) -> None:
    data = _bitmain_entry(stats)
    if not data:
        return
    identity, _ = stats_parts(stats)
    if not status.model:
        status.model, _ = split_type(identity.get("Type"))
    unit = _stats_unit(data, status.model, ghs)
    boards = read_boards(data, unit)
    if boards:
        status.boards = boards  # chips, clocks and chip temperatures: more than devs says
    status.fans = guarded([], read_fans, data)
    status.power_watts, status.power_estimated = guarded((None, False), read_power_estimate, data)
    if status.hashrate is None:
        status.hashrate = guarded(None, read_rate, data, _summary_keys(SHORT_WINDOW, unit))
    if status.hashrate_average is None:
        status.hashrate_average = guarded(None, read_rate, data, _summary_keys(AVERAGE, unit))
    status.expected_hashrate = nonzero(rate(data.get("total_rateideal"), unit))
    if status.uptime_seconds is None:
        status.uptime_seconds = to_float(data.get("Elapsed"))


def _bdminer_entry(stats: Reply | None) -> dict[str, Any]:
    entries = stats.section("STATS") if stats is not None else []
    return next((entry for entry in entries if "Board Count" in entry and "Fan Count" in entry), {})


def _slots(value: Any) -> range:
    count = to_int(value)
    return range(count if count is not None and 0 <= count <= _MAX_SLOTS else 0)


def _bdminer_board(data: dict[str, Any], slot: int) -> Board:
    board = Board(index=str(slot))
    board.hashrate = hashrate(data.get(f"{slot} MHS(Sample)"), "MH")
    board.expected_hashrate = nonzero(hashrate(data.get(f"{slot} MHS(Ideal)"), "MH"))
    chips, bad = to_int(data.get(f"{slot} Chip Count")), to_int(data.get(f"{slot} Bad Chip Count"))
    if chips is not None and bad is not None and 0 <= bad <= chips:
        board.chips, board.expected_chips = chips - bad, chips
    else:
        board.chips = chips
    mhz = nonzero(to_float(data.get(f"{slot} Freq")))
    board.frequency_hz = mhz * 1e6 if mhz else None
    # Four board sensors, "N Temp 0" to "N Temp 3": the hottest is the board's.
    readings = [sensor(data.get(f"{slot} Temp {k}")) for k in range(_MAX_SLOTS) if f"{slot} Temp {k}" in data]
    readings = [reading for reading in readings if reading is not None]
    if readings:
        board.temperatures[SENSOR_PCB] = max(readings)
    return board


def _apply_bdminer_stats(status: MinerStatus, stats: Reply | None) -> None:
    data = _bdminer_entry(stats)
    if not data:
        return
    model = data.get("Model")
    if not status.model and isinstance(model, str) and model.strip() and not model.strip().isdigit():
        status.model = model.strip()
    slots = _slots(data.get("Board Count"))
    boards = [guarded(Board(index=str(slot)), _bdminer_board, data, slot) for slot in slots]
    if boards:
        status.boards = boards
    fans = _slots(data.get("Fan Count"))
    status.fans = [Fan(index=str(slot), rpm=to_float(data.get(f"{slot} Speed"))) for slot in fans]
    status.power_watts = nonzero(to_float(data.get("PSU Input Power")))  # measured by the PSU
    status.power_limit_watts = nonzero(to_float(data.get("Power Limit")))
    status.expected_hashrate = nonzero(hashrate(data.get("MHS(Ideal)"), "MH"))  # the boards' sum
    if status.hashrate is None:
        status.hashrate = hashrate(data.get("MHS(30s)"), "MH")
    if status.hashrate_average is None:
        status.hashrate_average = hashrate(data.get("MHS(Avg)"), "MH")
    if status.uptime_seconds is None:
        status.uptime_seconds = to_float(data.get("Elapsed"))


@register
class GenericParser(FirmwareParser):
    name = "cgminer"
    make = ""  # unknown by definition
    commands = ("version", "summary", "pools")
    # devs gives per-device rates and temperatures; devdetails the model and the
    # device count when devs is refused; stats boards, fans, temperatures, power
    # and the model where it has a layout read here (Bitmain's, bdminer's). A
    # device refusing any of them loses only what that one would have said.
    optional_commands = ("devs", "devdetails", "stats")
    multi_command = True

    def parse(self, replies: dict[str, Reply]) -> MinerStatus:
        status = MinerStatus(make=self.make, firmware=self.name)
        version = replies["version"].first("VERSION") if "version" in replies else {}
        summary = guarded({}, apply_summary, status, replies.get("summary"))
        ghs = guarded("GH", ghs_unit, summary)
        status.hashrate = guarded(None, read_rate, summary, _summary_keys(SHORT_WINDOW, ghs))
        status.hashrate_average = guarded(None, read_rate, summary, _summary_keys(AVERAGE, ghs))
        status.pools = guarded([], parse_pools, replies.get("pools"))
        status.model = guarded("", _model, version, replies.get("devdetails"))
        program, status.firmware_version = guarded(
            ("", ""), program_version, version, *(replies.get(c) for c in _DESCRIBED)
        )
        status.make = _PROGRAM_MAKES.get(program, self.make)
        status.boards = guarded([], _devs_boards, replies.get("devs"), _summary_keys(SHORT_WINDOW, ghs))
        if not status.boards:
            status.boards = guarded([], _devdetails_boards, replies.get("devdetails"))
        guarded(None, _apply_bitmain_stats, status, replies.get("stats"), ghs)
        guarded(None, _apply_bdminer_stats, status, replies.get("stats"))
        return status
