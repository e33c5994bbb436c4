"""Canaan AvalonMiner (A10xx to A15xx, Avalon Q) on Canaan's cgminer 4.11.

Almost everything is packed into one string of the stats reply, "MM ID0"
(A10xx-A15xx) or "MM ID0:Summary" (Avalon Q), as NAME[value] fields:
'Ver[1047-...] Temp[18] Fan1[2896] FanR[31%] MGHS[12362.61 12812.16] MTmax[61 64] ...'.
Space-separated lists in a field are one value per hashboard. Only the first
module (MM ID0) is read: every capture has one; legacy AUC chains of several
modules would show module 0 only.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import SENSOR_CHIP, SENSOR_INLET, SENSOR_OUTLET, Board, Fan, Fault, MinerStatus
from ..reply import Reply
from ..units import bracket_fields, hashrate, to_float
from . import register
from .base import FirmwareParser
from .common import apply_summary, first_present, guarded, parse_pools
from .generic import AVERAGE, SHORT_WINDOW, nonzero, read_rate, sensor

_FAN_KEY = re.compile(r"^Fan(\d+)$")
# Any of these replies carries the MM string; stats is the one requested.
_STATS_COMMANDS = ("stats", "estats", "litestats")


def module_fields(replies: dict[str, Reply]) -> tuple[dict[str, str], dict[str, Any]]:
    """(fields of the first "MM ID" string, the STATS entry holding it)."""
    for command in _STATS_COMMANDS:
        reply = replies.get(command)
        for entry in reply.section("STATS") if reply is not None else []:
            keys = sorted(key for key in entry if str(key).startswith("MM ID"))
            if keys:
                return bracket_fields(entry[keys[0]]), entry
    return {}, {}


def _numbers(text: str | None) -> list[float | None]:
    return [to_float(part) for part in text.split()] if isinstance(text, str) else []


def _split_ver(fields: dict[str, str]) -> tuple[str, str]:
    """'15-194-24102401_25462b2_9ddf522' -> ('15-194', '24102401_25462b2_9ddf522')."""
    model, dash, build = fields.get("Ver", "").rpartition("-")
    return (model, build) if dash else ("", "")


def _boards(fields: dict[str, str]) -> list[Board]:
    rates = _numbers(fields.get("MGHS"))
    chip_max = _numbers(fields.get("MTmax"))
    errors = _numbers(fields.get("MH"))
    boards = []
    for j, rate in enumerate(rates):
        # MGHS is the board's rate since start (diff1 shares over elapsed time).
        board = Board(index=str(j), hashrate=hashrate(rate, "GH"))
        chip = sensor(chip_max[j]) if j < len(chip_max) else None
        if chip is None and len(rates) == 1:
            # Single-board Avalon Q: no MTmax; TMax is its hottest chip (0 when idle).
            chip = sensor(fields.get("TMax"))
        if chip is not None:
            board.temperatures[SENSOR_CHIP] = chip
        if len(rates) == 1:
            # The Q's hashboard inlet/outlet air sensors.
            for name, key in ((SENSOR_INLET, "HBITemp"), (SENSOR_OUTLET, "HBOTemp")):
                value = sensor(fields.get(key))
                if value is not None:
                    board.temperatures[name] = value
        if j < len(errors) and errors[j] is not None:
            board.hardware_errors = int(errors[j])
        boards.append(board)
    return boards


def _fans(fields: dict[str, str]) -> list[Fan]:
    # One PWM duty (FanR, a percentage) drives every fan.
    duty = to_float(fields.get("FanR", "").rstrip("%"))
    ratio = duty / 100 if duty is not None else None
    fans = []
    for key in sorted((k for k in fields if _FAN_KEY.match(k)), key=lambda k: int(k[3:])):
        fans.append(Fan(index=str(int(key[3:]) - 1), rpm=to_float(fields[key]), speed_ratio=ratio))
    return fans


def _faults(fields: dict[str, str]) -> list[Fault]:
    # ECHU holds one error bitmap per hashboard, ECMM the module's. The source is
    # part of the code because the same number means different things in each.
    faults = []
    for j, value in enumerate(_numbers(fields.get("ECHU"))):
        if value:
            faults.append(Fault(code=f"ECHU:{int(value)}", message=f"hashboard {j}"))
    module = to_float(fields.get("ECMM"))
    if module:
        faults.append(Fault(code=f"ECMM:{int(module)}", message="module"))
    return faults


def _mining(fields: dict[str, str]) -> bool | None:
    text = fields.get("SYSTEMSTATU", "")
    if "In Work" in text:
        return True
    if "In Idle" in text:
        return False
    return None


def _inlet(fields: dict[str, str]) -> float | None:
    # Temp (A10xx-A15xx) and ITemp (Q) are the controller's intake-air sensor.
    for key in ("ITemp", "Temp"):
        value = to_float(fields.get(key))
        if value is not None and value > -273:
            return value
    return None


@register
class AvalonParser(FirmwareParser):
    name = "avalon"
    make = "Canaan"
    commands = ("version", "summary", "pools", "stats")
    optional_commands = ()
    multi_command = True  # a recorded "summary+stats+pools" reply exists

    def parse(self, replies: dict[str, Reply]) -> MinerStatus:
        status = MinerStatus(make=self.make, firmware=self.name)
        version = replies["version"].first("VERSION") if "version" in replies else {}
        fields, entry = guarded(({}, {}), module_fields, replies)
        model, build = _split_ver(fields)
        status.model = str(first_present(version, "PROD", "MODEL") or model)
        status.firmware_version = str(
            first_present(version, "VERSION", "LVERSION") or fields.get("LVer") or build
        )
        summary = guarded({}, apply_summary, status, replies.get("summary"))
        if status.uptime_seconds is None:
            status.uptime_seconds = to_float(entry.get("Elapsed"))
        status.hashrate = guarded(None, read_rate, summary, SHORT_WINDOW)
        if status.hashrate is None:
            status.hashrate = hashrate(fields.get("GHSspd"), "GH")
        # "MHS av":nan on some builds decodes to None, and stays None.
        status.hashrate_average = guarded(None, read_rate, summary, AVERAGE)
        # GHSmm: what the chips should do at their current frequencies.
        status.expected_hashrate = nonzero(hashrate(fields.get("GHSmm"), "GH"))
        status.boards = guarded([], _boards, fields)
        status.fans = guarded([], _fans, fields)
        inlet = guarded(None, _inlet, fields)
        if inlet is not None:
            status.temperatures[SENSOR_INLET] = inlet
        # Only the named WALLPOWER field, 0 meaning unread. PS[...] is not used: on
        # the A15xx its 7th value equals WALLPOWER (cgminer's avalon10 driver calls
        # power_info[6] the wall power), but the A1047 writes six values and the
        # Avalon Q's 7th reads 146 while soft-off with its output power (PS[4]) at 0.
        status.power_watts = nonzero(to_float(fields.get("WALLPOWER")))
        status.faults = guarded([], _faults, fields)
        status.mining = _mining(fields)
        status.pools = guarded([], parse_pools, replies.get("pools"))
        return status
