"""Fallback for any device speaking the CGMiner API (the "cgminer" family).

Used when detection recognises no firmware. It reads only what cgminer's api.c
writes for every driver (VERSION, SUMMARY, POOLS, DEVS, DEVDETAILS), so it gives
something useful for a Cheetah C3012 or a firmware hashwatch has never met.
The helpers at the top are shared by the other parsers of this package.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import SENSOR_PCB, Board, MinerStatus
from ..reply import Reply
from ..units import hashrate, to_float, to_int
from . import register
from .base import FirmwareParser
from .common import apply_summary, first_present, guarded, parse_pools

# Hash rate keys, best first. cgminer writes MHS, Bitmain-derived builds GHS
# (sometimes as strings), scrypt devices KHS; Avalon's cgminer 4.11 has a 30s
# window instead of 5s.
SHORT_WINDOW = (("MHS 5s", "MH"), ("GHS 5s", "GH"), ("KHS 5s", "KH"), ("MHS 30s", "MH"), ("MHS 1m", "MH"))
AVERAGE = (("MHS av", "MH"), ("GHS av", "GH"), ("KHS av", "KH"))

_CGMINER_DESCRIPTION = re.compile(r"^\s*cgminer\s+(\S+)", re.IGNORECASE)
_DEVICE_KINDS = ("ASC", "PGA", "GPU")



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


def description_version(*replies: Reply | None) -> str:
    """"4.9.0" from a STATUS Description "cgminer 4.9.0"."""
    for reply in replies:
        match = _CGMINER_DESCRIPTION.match(reply.description) if reply is not None else None
        if match:
            return match.group(1)
    return ""


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


@register
class GenericParser(FirmwareParser):
    name = "cgminer"
    make = ""  # unknown by definition
    commands = ("version", "summary", "pools")
    # devs gives per-device rates and temperatures; devdetails the model and the
    # device count when devs is refused. stats is left out: its layout is
    # driver-specific, and a generic reader would only guess at it.
    optional_commands = ("devs", "devdetails")
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
        status.firmware_version = str(
            first_present(version, "CGMiner", "cgminer")
            or description_version(*(replies.get(c) for c in ("version", "summary", "devs", "devdetails")))
        )
        status.boards = guarded([], _devs_boards, replies.get("devs"), _summary_keys(SHORT_WINDOW, ghs))
        if not status.boards:
            status.boards = guarded([], _devdetails_boards, replies.get("devdetails"))
        return status
