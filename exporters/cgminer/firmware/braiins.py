"""Braiins OS and OS+ on Antminers (S9, S17, S19, S21, ...) and Braiins' own miners.

The mining daemon has answered the cgminer API under several names: BOSminer and
BOSminer+ (bOS 20.x-21.x, Rust), then BOSer (the newer firmware: every capture
from 22.08 on, S9, X19, X21 and the Braiins Mini Miner alike, e.g.
"BOSer boser-buildroot 0.1.0-75912fc7").
Both add read-only commands: fans, temps, tempctrl, tunerstatus, and a
devdetails with chip counts, frequency and voltage. Every per-chain entry carries
the chain's ID (6, 7, 8 on an S9, 1, 2, 3 on an S19 under BOSer): the sections
are joined on it, and boards are labelled by their position (ASC, TEMP or
DEVDETAILS 0, 1, 2) -- the numbering the Antminer parser gives the same chains.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import SENSOR_CHIP, SENSOR_PCB, Board, Fan, MinerStatus
from ..reply import Reply
from ..units import hashrate, to_float, to_int
from .registry import register
from .base import FirmwareParser
from .common import apply_summary, first_present, guarded, parse_pools
from .detect import braiins_named
from .generic import AVERAGE, SHORT_WINDOW, nonzero, read_rate, sensor

# Build targets name the hardware: "bosminer-plus-am1-s9", "bosminer-plus-am2-s17".
_ANTMINER_TARGET = re.compile(r"\bam\d+-\w", re.IGNORECASE)


class _Chains:
    """Boards keyed by chain ID, created in the order the sections name them."""

    def __init__(self) -> None:
        self.by_id: dict[str, Board] = {}

    def get(self, entry: dict[str, Any], position: int, *index_keys: str) -> Board:
        chain = first_present(entry, "ID", "HashchainIndex")
        key = str(chain if chain is not None else position)
        if key not in self.by_id:
            index = first_present(entry, *index_keys)
            self.by_id[key] = Board(index=str(index if index is not None else position))
        return self.by_id[key]


def _entries(replies: dict[str, Reply], command: str, section: str) -> list[dict[str, Any]]:
    reply = replies.get(command)
    return reply.section(section) if reply is not None else []


def _boards(replies: dict[str, Reply]) -> list[Board]:
    chains = _Chains()
    for position, entry in enumerate(_entries(replies, "devs", "DEVS")):
        board = chains.get(entry, position, "ASC")
        board.hashrate = read_rate(entry, SHORT_WINDOW)
        board.expected_hashrate = nonzero(hashrate(entry.get("Nominal MHS"), "MH"))
        board.hardware_errors = to_int(entry.get("Hardware Errors"))
        state = entry.get("Status")
        board.status = state if isinstance(state, str) and state else None
        # devs "Temperature" is always 0.0 here; temps has the readings.
    for position, entry in enumerate(_entries(replies, "temps", "TEMPS")):
        board = chains.get(entry, position, "TEMP")
        # S9 on bOS 0.2.0 reports Chip 0.0 beside Board 46-75 °C: a sensor it does
        # not read, not a frozen chip. sensor() drops 0 (and -273) as "no reading".
        for name, key in ((SENSOR_PCB, "Board"), (SENSOR_CHIP, "Chip")):
            value = sensor(entry.get(key))
            if value is not None:
                board.temperatures[name] = value
    for position, entry in enumerate(_entries(replies, "devdetails", "DEVDETAILS")):
        board = chains.get(entry, position, "DEVDETAILS")
        board.chips = to_int(entry.get("Chips"))
        board.frequency_hz = _hertz(entry.get("Frequency"))
        board.voltage_volts = nonzero(to_float(entry.get("Voltage")))
    for position, entry in enumerate(_tuner(replies).get("TunerChainStatus") or []):
        if isinstance(entry, dict):
            board = chains.get(entry, position)
            board.power_watts = nonzero(to_float(entry.get("ApproximatePowerConsumptionWatt")))
            board.power_estimated = board.power_watts is not None  # the autotuner's estimate
    return list(chains.by_id.values())


def _hertz(value: Any) -> float | None:
    # BOSminer writes Hz (799682118 on an S9), BOSer MHz (573 on an S19j): no hash
    # chip runs below 1 MHz, so a smaller number is MHz.
    number = to_float(value)
    if number is None or number <= 0:
        return None
    return number * 1e6 if number < 1e6 else number


def _tuner(replies: dict[str, Reply]) -> dict[str, Any]:
    reply = replies.get("tunerstatus")
    return reply.first("TUNERSTATUS") if reply is not None else {}


def _fans(replies: dict[str, Reply]) -> list[Fan]:
    # All fan slots are listed, RPM 0 included (an S9 has two fans in four slots):
    # nothing in the reply says which slots are fitted.
    fans = []
    for position, entry in enumerate(_entries(replies, "fans", "FANS")):
        index = first_present(entry, "FAN", "ID")
        speed = to_float(entry.get("Speed"))  # PWM duty in percent
        fans.append(
            Fan(
                index=str(index if index is not None else position),
                rpm=to_float(entry.get("RPM")),
                speed_ratio=speed / 100 if speed is not None else None,
            )
        )
    return fans


def _version(replies: dict[str, Reply]) -> str:
    """The daemon's version: the last word of its VERSION value or of a Description.

    {"BOSminer": "0.2.0-d360818"}, {"BOSminer+": ...}, {"BOSer": "boser-buildroot
    0.1.0-75912fc7"}; descriptions read "BOSminer+ 0.2.0-36c56a9363",
    "BOSminer bosminer-plus-am1-s9 0.4.0-908ca41d" or "BOSer boser-openwrt
    0.1.0-26ba61b9". BOSer stays at 0.1.0: its suffix is the commit of the
    Braiins OS release (75912fc7 is 2024-10-17-0-75912fc7-24.09-plus).
    """
    version = replies["version"].first("VERSION") if "version" in replies else {}
    for key, value in version.items():
        words = value.split() if isinstance(value, str) else []
        if braiins_named(str(key)) and words:
            return words[-1]
    for command in ("version", "summary", "devs", "pools", "devdetails", "fans", "temps", "tunerstatus"):
        reply = replies.get(command)
        words = reply.description.split() if reply is not None else []
        if len(words) > 1 and braiins_named(words[0]):
            return words[-1]
    return ""


def _identity(replies: dict[str, Reply]) -> tuple[str, str]:
    """(make, model) from devdetails Model.

    BOSminer writes "Bitmain Antminer S9" -> ("Bitmain", "S9"); BOSer drops the
    maker: "Antminer S19J88NoPic" -> ("Bitmain", "S19J88NoPic"). Braiins' own
    miners are named "Braiins ..." (pyasic and asic-rs key on "BRAIINS MINI
    MINER BMM 100").
    """
    details = _entries(replies, "devdetails", "DEVDETAILS")
    name = str(details[0].get("Model") or "").strip() if details else ""
    words = name.split()
    if words and words[0].lower() == "bitmain":
        words = words[1:]
    if len(words) > 1 and words[0].lower() == "antminer":
        return "Bitmain", " ".join(words[1:])
    if len(words) > 1 and words[0].lower() == "braiins":
        return "Braiins", " ".join(words[1:])
    # Without devdetails, a BOSminer build target ("bosminer-plus-am1-s9") still
    # says Antminer; BOSer's ("boser-openwrt", "boser-buildroot") does not: the
    # Braiins Mini Miner runs boser-openwrt too.
    descriptions = " ".join(reply.description for reply in replies.values())
    return ("Bitmain" if _ANTMINER_TARGET.search(descriptions) else ""), ""


@register
class BraiinsParser(FirmwareParser):
    name = "braiins"
    make = ""  # filled per miner: Bitmain when devdetails or the build target says Antminer
    commands = ("summary", "devs", "pools", "fans", "temps")
    # devdetails: model, chips, frequency, voltage; tunerstatus: power and its
    # limit (OS+ only); version: the BOSminer version. tempctrl is not asked for:
    # its target/hot/dangerous thresholds have no place in the model.
    optional_commands = ("devdetails", "tunerstatus", "version")
    multi_command = True

    def parse(self, replies: dict[str, Reply]) -> MinerStatus:
        status = MinerStatus(firmware=self.name)
        status.make, status.model = guarded(("", ""), _identity, replies)
        status.firmware_version = guarded("", _version, replies)
        summary = guarded({}, apply_summary, status, replies.get("summary"))
        # MHS 5s like every other family; bosminer also writes 1m, 5m, 15m and 24h.
        status.hashrate = guarded(None, read_rate, summary, SHORT_WINDOW)
        status.hashrate_average = guarded(None, read_rate, summary, AVERAGE)
        status.boards = guarded([], _boards, replies)
        nominal = [b.expected_hashrate for b in status.boards if b.expected_hashrate is not None]
        status.expected_hashrate = sum(nominal) if nominal else None
        status.fans = guarded([], _fans, replies)
        tuner = guarded({}, _tuner, replies)
        # The tuner's own estimate (bOS+ has no power meter); 0 means not running.
        status.power_watts = nonzero(to_float(tuner.get("ApproximateMinerPowerConsumption")))
        status.power_estimated = status.power_watts is not None
        status.power_limit_watts = nonzero(to_float(tuner.get("PowerLimit")))
        status.pools = guarded([], parse_pools, replies.get("pools"))
        return status
