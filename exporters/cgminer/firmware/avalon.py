"""Canaan AvalonMiner: A10xx to A15xx and Avalon Q, and AvalonMiner 7xx/8xx/9xx
modules behind an Avalon controller (Raspberry Pi + AUC).

Almost everything is packed into strings of the stats reply, one per module,
as NAME[value] fields: 'Ver[1047-...] Temp[18] Fan1[2896] FanR[31%] MGHS[12362.61
12812.16] MTmax[61 64] ...'. Space-separated lists in a field are one value per
hashboard.

* A standalone miner (A10xx-A15xx, Avalon Q) has one module, "MM ID0" (the Q
  writes "MM ID0:Summary"); its hashboards are the boards.
* A controller has one STATS entry per AUC (ID "AV70", "AV71", ..., "AV90") and
  one "MM ID1".."MM IDn" per module on that AUC (cgminer's avalon7/8 drivers
  number modules from 1). Each module is a miner of its own with one fan,
  "Fan[5730]", and no per-hashboard rates, so each module is one board-like unit
  labelled "<STATS ID>-<module>" ("AV70-1"), its fan "<board>-0", and the miner's
  expected hashrate is the sum over modules.
* A re-plugged AUC becomes a new cgminer device and the old one stays in stats
  with frozen values (cgminer keeps unplugged USB devices): the same module, by
  its DNA, then appears under several devices. Only the newest copy, the one
  with the smallest module Elapsed, is read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..model import SENSOR_CHIP, SENSOR_INLET, SENSOR_OUTLET, Board, Fan, Fault, MinerStatus
from ..reply import Reply
from ..units import bracket_fields, hashrate, to_float, to_int
from .registry import register
from .base import FirmwareParser
from .common import apply_summary, first_present, guarded, parse_pools
from .generic import AVERAGE, SHORT_WINDOW, nonzero, read_rate, sensor

_FAN_KEY = re.compile(r"^Fan(\d+)$")
_MODULE_FAN_KEY = re.compile(r"^Fan(\d*)$")  # Avalon7/8/9 modules write one "Fan[5730]"
# Avalon7/8/9 module Ver: model and YYMM, then the build: "8411803-14b0f10" is an
# 841 (the avalon8 driver tells an 851 by the first three characters).
_DATED_MODEL = re.compile(r"^(\d{3})\d{4}$")
_DNA = re.compile(r"^[0-9a-fA-F]{8,}$")
_NUMBER = re.compile(r"(\d+)")
# Any of these replies carries the MM string; stats is the one requested.
_STATS_COMMANDS = ("stats", "estats", "litestats")


@dataclass(slots=True)
class Module:
    """One "MM ID" string: its fields, the STATS entry holding it and its label."""

    label: str  # "<STATS ID>-<module number>", e.g. "AV70-1"
    number: str  # what follows "MM ID": "1", "0:Summary"
    fields: dict[str, str]
    entry: dict[str, Any]


def _natural(key: str) -> tuple[Any, ...]:
    # "MM ID2" before "MM ID10"; even positions are text, odd ones numbers.
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_NUMBER.split(key)))


def modules(replies: dict[str, Reply]) -> list[Module]:
    """Every module of the first stats-like reply holding one, stale copies dropped."""
    for command in _STATS_COMMANDS:
        reply = replies.get(command)
        found: list[tuple[int, Module]] = []
        for position, entry in enumerate(reply.section("STATS") if reply is not None else []):
            device = entry.get("ID")
            device = device.strip() if isinstance(device, str) and device.strip() else str(position)
            keys = sorted((key for key in entry if isinstance(key, str) and key.startswith("MM ID")), key=_natural)
            for key in keys:
                number = key[len("MM ID"):].strip()
                fields = bracket_fields(entry[key])
                found.append((position, Module(f"{device}-{number}", number, fields, entry)))
        if found:
            return _unique_labels(_live(found))
    return []


def _live(found: list[tuple[int, Module]]) -> list[tuple[int, Module]]:
    """Drop the copies of a module (same DNA) kept by unplugged devices: the newest copy wins.

    A copy's module Elapsed counts from when its device found the module, so the
    live one, found last, has the smallest; without Elapsed the later device wins.
    """
    newest: dict[str, int] = {}
    for i, (_, module) in enumerate(found):
        dna = module.fields.get("DNA", "")
        if not _DNA.match(dna) or not dna.strip("0"):
            continue
        if dna in newest:
            kept = to_float(found[newest[dna]][1].fields.get("Elapsed"))
            mine = to_float(module.fields.get("Elapsed"))
            if kept is not None and mine is not None and mine > kept:
                continue
        newest[dna] = i
    return [item for i, item in enumerate(found) if newest.get(item[1].fields.get("DNA", ""), i) == i]


def _unique_labels(found: list[tuple[int, Module]]) -> list[Module]:
    """Labels unique per miner: by STATS ID, else by STATS position, else by order."""
    result = [module for _, module in found]
    if len({module.label for module in result}) < len(result):
        for position, module in found:
            module.label = f"{position}-{module.number}"
    if len({module.label for module in result}) < len(result):
        for i, module in enumerate(result):
            module.label = str(i)
    return result


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


def is_controller(found: list[Module]) -> bool:
    """Modules behind a controller: several, or numbered from 1 (the standalone miners' is "MM ID0")."""
    return len(found) > 1 or any(not module.number.startswith("0") for module in found)


def _sum(values: list[float | None]) -> float | None:
    """The sum when every value is reported (and finite), else None."""
    if not values or any(value is None for value in values):
        return None
    total = sum(value for value in values if value is not None)
    return total if math.isfinite(total) else None


def _controller_identity(found: list[Module]) -> tuple[str, str]:
    """(model, build) of the modules: "741", or "821/841" for a mixed chain."""
    models: list[str] = []
    builds: list[str] = []
    for module in found:
        model, build = _split_ver(module.fields)
        dated = _DATED_MODEL.match(model)
        model = dated.group(1) if dated else model
        build = module.fields.get("LVer") or build
        models += [model] if model and model not in models else []
        builds += [build] if build and build not in builds else []
    return "/".join(sorted(models)), "/".join(builds)


def _module_rate(fields: dict[str, str]) -> float | None:
    """The module's rate since it was found: GHSavg, or WU (diff1 shares a minute) as H/s."""
    rate = hashrate(fields.get("GHSavg"), "GH")
    if rate is None:
        # cgminer's avalon7/8 drivers: WU = diff1 / elapsed * 60; one diff1 share is 2^32 hashes.
        work_utility = to_float(fields.get("WU"))
        rate = hashrate(work_utility / 60 * 2**32, "H") if work_utility is not None else None
    if rate is None:
        total = _sum(_numbers(fields.get("MGHS")))
        rate = hashrate(total, "GH")
    return rate


def _module_board(module: Module) -> Board:
    """A module behind a controller as one board: its rate, nominal rate, sensors and errors."""
    fields = module.fields
    board = Board(index=module.label, hashrate=_module_rate(fields))
    board.expected_hashrate = nonzero(hashrate(fields.get("GHSmm"), "GH"))
    # TMax: the module's hottest chip; Temp: its intake air ("ambient" in Canaan's log guide).
    chip = sensor(fields.get("TMax"))
    if chip is None:
        chip = max((value for value in map(sensor, _numbers(fields.get("MTmax"))) if value is not None), default=None)
    if chip is not None:
        board.temperatures[SENSOR_CHIP] = chip
    inlet = _inlet(fields)
    if inlet is not None:
        board.temperatures[SENSOR_INLET] = inlet
    board.hardware_errors = to_int(fields.get("HW"))
    frequency = nonzero(to_float(fields.get("Freq")))  # MHz, the modules' average chip clock
    board.frequency_hz = frequency * 1e6 if frequency is not None and math.isfinite(frequency * 1e6) else None
    return board


def _module_fans(module: Module) -> list[Fan]:
    """A module's fans, "<board>-0" for its single "Fan[rpm]" or "<board>-<n-1>" for Fan<n>."""
    duty = to_float(module.fields.get("FanR", "").rstrip("%"))
    ratio = duty / 100 if duty is not None else None
    fans: dict[int, Fan] = {}
    for key, value in module.fields.items():
        match = _MODULE_FAN_KEY.match(key)
        if match:
            n = int(match.group(1)) - 1 if match.group(1) else 0
            fans.setdefault(n, Fan(index=f"{module.label}-{n}", rpm=to_float(value), speed_ratio=ratio))
    return [fans[n] for n in sorted(fans)]


def _module_faults(module: Module) -> list[Fault]:
    faults = []
    for j, value in enumerate(_numbers(module.fields.get("ECHU"))):
        if value:
            faults.append(Fault(code=f"ECHU:{int(value)}", message=f"module {module.label} hashboard {j}"))
    code = to_float(module.fields.get("ECMM"))
    if code:
        faults.append(Fault(code=f"ECMM:{int(code)}", message=f"module {module.label}"))
    return faults


def _modules_mining(found: list[Module]) -> bool | None:
    states = [_mining(module.fields) for module in found]
    if True in states:
        return True
    return False if False in states else None


def _apply_controller(status: MinerStatus, found: list[Module]) -> None:
    """Boards, fans, nominal rate, power, faults and state of a controller's modules."""
    status.boards = [guarded(Board(index=module.label), _module_board, module) for module in found]
    status.fans = [fan for module in found for fan in guarded([], _module_fans, module)]
    # Sum over the modules that say; a module still starting reports no nominal rate.
    expected = [board.expected_hashrate for board in status.boards if board.expected_hashrate is not None]
    status.expected_hashrate = _sum(expected) if expected else None
    status.power_watts = _sum([nonzero(to_float(module.fields.get("WALLPOWER"))) for module in found])
    status.faults = [fault for module in found for fault in guarded([], _module_faults, module)]
    status.mining = _modules_mining(found)


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
        found = guarded([], modules, replies)
        fields, entry = (found[0].fields, found[0].entry) if found else ({}, {})
        controller = is_controller(found)
        if controller:
            model, build = guarded(("", ""), _controller_identity, found)
        else:
            model, build = _split_ver(fields)
            build = fields.get("LVer") or build
        status.model = str(first_present(version, "PROD", "MODEL") or model)
        status.firmware_version = str(first_present(version, "VERSION", "LVERSION") or build)
        summary = guarded({}, apply_summary, status, replies.get("summary"))
        if status.uptime_seconds is None:
            status.uptime_seconds = to_float(entry.get("Elapsed"))
        status.hashrate = guarded(None, read_rate, summary, SHORT_WINDOW)
        if status.hashrate is None:
            speeds = [hashrate(module.fields.get("GHSspd"), "GH") for module in found]
            status.hashrate = _sum(speeds) if controller else hashrate(fields.get("GHSspd"), "GH")
        # "MHS av":nan on some builds decodes to None, and stays None.
        status.hashrate_average = guarded(None, read_rate, summary, AVERAGE)
        status.pools = guarded([], parse_pools, replies.get("pools"))
        if controller:
            # Each module is a miner of its own: its intake air is on its board.
            _apply_controller(status, found)
            return status
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
        return status
