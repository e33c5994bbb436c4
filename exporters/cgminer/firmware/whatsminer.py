"""MicroBT Whatsminer (btminer): M20S, M30S, M31S, ...

btminer keeps the cgminer API but adds its own SUMMARY keys (Power, Power Limit,
Fan Speed In/Out, Env Temp, Factory GHS, "Error Code N") and per-board readings
in edevs. Its "API v2" commands (status, get_version) answer in another
envelope: a bare STATUS letter and the data as an object in Msg.

Old firmware rejects {"cmd": "a+b"} (Code 24, "Missing JSON 'command'") but
accepts {"command": "a+b"}, which is what hashwatch sends for multi-commands;
the v2 commands always go alone under "cmd".
"""

from __future__ import annotations

import re
from typing import Any

from ..model import SENSOR_CHIP, SENSOR_INLET, SENSOR_PCB, Board, Fan, Fault, MinerStatus
from ..reply import Reply
from ..units import hashrate, to_float, to_int
from .registry import register
from .base import FirmwareParser
from .common import apply_summary, first_present, guarded, parse_pools
from .generic import AVERAGE, SHORT_WINDOW, nonzero, read_rate

# "Error Code 0".."Error Code N" are the faults active now. "Factory Error Code N"
# are left out: they were recorded at the factory and stay in every reply.
_ERROR_CODE = re.compile(r"^Error Code \d+$")


def _unquote(value: Any) -> str:
    """btminer wraps its firmware version in single quotes: "'20201202.22.REL'"."""
    return value.strip().strip("'\"").strip() if isinstance(value, str) else ""


def _msg(reply: Reply | None) -> dict[str, Any]:
    return reply.msg if reply is not None and isinstance(reply.msg, dict) else {}


def _boards(edevs: Reply | None) -> list[Board]:
    boards = []
    for position, entry in enumerate(edevs.section("DEVS") if edevs is not None else []):
        index = first_present(entry, "ASC", "ID")
        board = Board(index=str(index if index is not None else position))
        board.hashrate = read_rate(entry, SHORT_WINDOW)
        for sensor, key in ((SENSOR_PCB, "Temperature"), (SENSOR_CHIP, "Chip Temp Max")):
            value = to_float(entry.get(key))
            if value is not None:
                board.temperatures[sensor] = value
        board.chips = to_int(entry.get("Effective Chips"))
        megahertz = nonzero(to_float(entry.get("Chip Frequency")))
        board.frequency_hz = megahertz * 1e6 if megahertz is not None else None
        board.hardware_errors = to_int(entry.get("Hardware Errors"))
        state = entry.get("Status")
        board.status = state if isinstance(state, str) and state else None
        boards.append(board)
    return boards


def _fans(summary: dict[str, Any]) -> list[Fan]:
    # Reported as is, 0 included: the M31S capture shows "Fan Speed Out": 0 beside
    # 5700 on the inlet fan, which is a stopped fan worth seeing, not a gap.
    fans = []
    for index, key in (("in", "Fan Speed In"), ("out", "Fan Speed Out")):
        rpm = to_float(summary.get(key))
        if rpm is not None:
            fans.append(Fan(index=index, rpm=rpm))
    return fans


def _faults(summary: dict[str, Any]) -> list[Fault]:
    faults = []
    for key, value in summary.items():
        if _ERROR_CODE.match(str(key)) and value is not None and value != "":
            code = to_int(value)
            faults.append(Fault(code=str(code if code is not None else value).strip()))
    return faults


def _mining(status_msg: dict[str, Any]) -> bool | None:
    # "btmineroff" (v1.3/v1.4 API) or "mineroff" (newer firmware): "true" = stopped.
    value = first_present(status_msg, "btmineroff", "mineroff")
    if isinstance(value, bool):
        return not value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "false"
    return None


def _model(devdetails: Reply | None, version_msg: dict[str, Any]) -> str:
    # Old firmware names no model anywhere (its devs Name is the driver, "SM").
    # Newer builds are reported to fill DEVDETAILS Model and get_version's
    # miner_type; no capture of either is at hand, so the value is taken verbatim.
    entry = devdetails.first("DEVDETAILS") if devdetails is not None else {}
    value = first_present(entry, "Model") or first_present(version_msg, "miner_type")
    return value.strip() if isinstance(value, str) else ""


def _expected(summary: dict[str, Any]) -> float | None:
    # Factory GHS is the rated rate (like Bitmain's total_rateideal); Target MHS
    # moves with the power mode, and the captures hash above it.
    return nonzero(hashrate(summary.get("Factory GHS"), "GH")) or nonzero(
        hashrate(summary.get("Target MHS"), "MH")
    )


@register
class WhatsminerParser(FirmwareParser):
    name = "whatsminer"
    make = "MicroBT"
    commands = ("summary", "edevs", "pools")
    # status says whether btminer is stopped.
    optional_commands = ("status",)
    # devdetails may name the model; get_version carries the firmware version
    # where summary does not. Both change only with a re-flash.
    static_commands = ("devdetails", "get_version")
    multi_command = True

    def parse(self, replies: dict[str, Reply]) -> MinerStatus:
        status = MinerStatus(make=self.make, firmware=self.name)
        summary = guarded({}, apply_summary, status, replies.get("summary"))
        status_msg = _msg(replies.get("status"))
        version_msg = _msg(replies.get("get_version"))
        status.model = guarded("", _model, replies.get("devdetails"), version_msg)
        status.firmware_version = (
            _unquote(summary.get("Firmware Version"))
            or _unquote(first_present(status_msg, "Firmware Version", "FirmwareVersion"))
            or _unquote(version_msg.get("fw_ver"))
        )
        status.hashrate = guarded(None, read_rate, summary, SHORT_WINDOW)
        status.hashrate_average = guarded(None, read_rate, summary, AVERAGE)
        status.expected_hashrate = guarded(None, _expected, summary)
        status.boards = guarded([], _boards, replies.get("edevs"))
        status.fans = guarded([], _fans, summary)
        inlet = to_float(summary.get("Env Temp"))
        if inlet is not None:
            status.temperatures[SENSOR_INLET] = inlet
        # 0 W would mean an unread PSU: the control board itself draws power.
        status.power_watts = nonzero(to_float(summary.get("Power")))
        status.power_limit_watts = nonzero(to_float(summary.get("Power Limit")))
        status.faults = guarded([], _faults, summary)
        status.mining = guarded(None, _mining, status_msg)
        status.pools = guarded([], parse_pools, replies.get("pools"))
        return status
