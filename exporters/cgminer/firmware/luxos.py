"""LuxOS (LUXminer) on Antminer hardware.

LuxOS keeps a Bitmain-style `stats` reply for compatibility, but parts of it are
filler: chain_rate is the since-start average, "total rate" and total_acn are
wrong (18972 GH/s and 4 chips on a 57 TH/s S19k Pro) and temp_chip repeats the
four board sensors. So stats only supplies chips and frequency (plus fallbacks),
and LuxOS's own commands supply the rest: devs (per-board 5 s and nominal
rates), temps (labelled sensors), fans (RPM and duty), power and config.
"""

from __future__ import annotations

from typing import Any

from ..model import SENSOR_CHIP, SENSOR_INLET, SENSOR_OUTLET, SENSOR_PCB, Board, Fan, MinerStatus
from ..reply import Reply
from ..units import to_float, to_int
from .registry import register
from .antminer import fill_hashrates, rate, rate_unit, read_boards, read_fans, split_type, stats_parts
from .base import FirmwareParser
from .common import apply_summary, first_present, guarded, parse_pools

_COOLANT_WORDS = ("water", "coolant", "liquid")


def _index(entry: dict[str, Any]) -> str | None:
    number = to_int(first_present(entry, "ID", "ASC", "TEMP"))
    return str(number) if number is not None else None


def _sensor(label: str) -> str:
    """Sensor name for a temps key or its METADATA label ("Board Exhaust (top)", "Water Inlet", "Chip")."""
    low = label.lower()
    if "chip" in low:
        return SENSOR_CHIP
    if any(word in low for word in _COOLANT_WORDS):  # hydro boards: "Water Inlet", "Water Outlet"
        if "outlet" in low:
            return SENSOR_OUTLET
        if "inlet" in low:
            return SENSOR_INLET
    # Board sensors, whichever side of the board: the same sensors stock firmware calls temp_pcb.
    return SENSOR_PCB


def _apply_devs(boards: dict[str, Board], reply: Reply) -> float | None:
    """Per-board rates from DEVS; returns the summed nominal rate when every board has one."""
    nominal: list[float | None] = []
    for entry in reply.section("DEVS"):
        index = _index(entry)
        if index is None:
            continue
        board = boards.setdefault(index, Board(index=index))
        current = rate(entry.get("MHS 5s"), "MH")
        if current is not None:
            board.hashrate = current
        board.expected_hashrate = rate(entry.get("Nominal MHS"), "MH") or None
        errors = to_int(entry.get("Hardware Errors"))
        if errors is not None:
            board.hardware_errors = errors
        if isinstance(entry.get("Status"), str):
            board.status = entry["Status"]
        nominal.append(board.expected_hashrate)
    if nominal and all(value is not None for value in nominal):
        return sum(nominal)
    return None


def _apply_temps(boards: dict[str, Board], reply: Reply) -> None:
    metadata = reply.first("METADATA")
    labels = {key: str(spec.get("Label") or key) for key, spec in metadata.items() if isinstance(spec, dict)}
    for entry in reply.section("TEMPS"):
        index = _index(entry)
        if index is None:
            continue
        readings: dict[str, float] = {}
        for key, value in entry.items():
            celsius = to_float(value) if key not in ("ID", "TEMP") else None
            if celsius is not None:
                sensor = _sensor(labels.get(key, key))
                readings[sensor] = max(celsius, readings.get(sensor, celsius))
        boards.setdefault(index, Board(index=index)).temperatures = readings


def _fans(reply: Reply) -> list[Fan]:
    fans = []
    for entry in reply.section("FANS"):
        index = _index(entry)
        if index is None:
            continue
        duty = to_float(entry.get("Speed"))  # percent
        ratio = duty / 100 if duty is not None and 0 <= duty <= 100 else None
        fans.append(Fan(index=index, rpm=to_float(entry.get("RPM")), speed_ratio=ratio))
    return fans


def _mining(config: dict[str, Any]) -> bool | None:
    """False while curtailed (sleep) or with the PSU off; True when config says neither."""
    curtail = config.get("CurtailMode")
    psu_on = config.get("IsPowerSupplyOn")
    if isinstance(curtail, str) and curtail.strip().lower() not in ("", "none"):
        return False
    if psu_on is False:
        return False
    if isinstance(curtail, str) and psu_on is True:
        return True
    return None


def _version_from_description(replies: dict[str, Reply]) -> str:
    # Every LuxOS STATUS says "LUXminer <version>": a fallback when `version` failed.
    for reply in replies.values():
        word, _, rest = reply.description.partition(" ")
        if word.lower() == "luxminer" and rest.strip():
            return rest.strip()
    return ""


def _board_order(board: Board) -> tuple[int, str]:
    return (int(board.index), "") if board.index.isdigit() else (1 << 30, board.index)


@register
class LuxosParser(FirmwareParser):
    name = "luxos"
    make = "Bitmain"
    commands = ("version", "summary", "pools")
    # LuxOS-specific and compatibility replies: useful, but none is worth failing a scrape over.
    optional_commands = ("stats", "devs", "temps", "fans", "power", "config")
    multi_command = True

    def parse(self, replies: dict[str, Reply]) -> MinerStatus:
        status = MinerStatus(make=self.make, firmware=self.name)
        version = replies["version"].first("VERSION") if "version" in replies else {}
        config = replies["config"].first("CONFIG") if "config" in replies else {}
        identity, data = stats_parts(replies.get("stats"))
        kind = first_present(version, "Type") or first_present(config, "Model") or identity.get("Type")
        status.model, _ = split_type(kind)
        # "2025.4.8.220305-57b389c7": LUXminer's release plus build hash.
        status.firmware_version = str(first_present(version, "LUXminer") or "") or _version_from_description(replies)
        unit = rate_unit(data, status.model)
        summary = guarded({}, apply_summary, status, replies.get("summary"))
        guarded(None, fill_hashrates, status, summary, data, unit)

        boards = {board.index: board for board in read_boards(data, unit)}
        for board in boards.values():
            board.temperatures.pop(SENSOR_CHIP, None)  # stats temp_chip is a copy of the board sensors
        if "devs" in replies:
            nominal = guarded(None, _apply_devs, boards, replies["devs"])
            if nominal is not None:
                status.expected_hashrate = nominal
        if "temps" in replies:
            guarded(None, _apply_temps, boards, replies["temps"])
        status.boards = sorted(boards.values(), key=_board_order)

        fans = guarded([], _fans, replies["fans"]) if "fans" in replies else []
        status.fans = fans or guarded([], read_fans, data)
        if "power" in replies:
            # Watts is LuxOS's estimate when the PSU does not report ("PSU": false).
            status.power_watts = to_float(replies["power"].first("POWER").get("Watts"))
        # power_limit_watts stays None: LuxOS tunes to profiles (frequency/voltage
        # presets whose Watts is an estimate), not to a power cap in these replies.
        status.mining = guarded(None, _mining, config) if config else None
        status.pools = guarded([], parse_pools, replies.get("pools"))
        return status
