"""VNish: Bitmain's stats layout plus chain states, voltages, per-chain watts and faults.

VNish answers `version` with an error, so everything identifying comes from
STATS[0]: Type "Antminer S21 Pro (Vnish 1.2.7)" or, on the S9-era 3.x line,
"Antminer S9 (vnish 3.8.6)".
"""

from __future__ import annotations

from typing import Any

from ..model import Fault, MinerStatus
from ..reply import Reply
from ..units import to_float
from .registry import register
from .antminer import (
    chain_layout,
    fill_hashrates,
    rate_unit,
    read_boards,
    read_fans,
    split_type,
    stats_parts,
    suffix_version,
)
from .base import FirmwareParser
from .common import apply_summary, guarded, parse_pools

# `state` words. Hashing while the autotuner works counts as mining; words for a
# deliberate stop are "not mining"; anything else (initializing, failure, ...)
# stays None rather than guessed.
_MINING_STATES = frozenset({"mining", "auto-tuning"})
_STOPPED_STATES = frozenset({"stopped", "sleeping", "paused"})


def _legacy(version: str) -> bool:
    """VNish 3.x (S9 era, ~2020) predates the 1.x line on S19/S21."""
    major = version.split(".")[0]
    return major.isdigit() and int(major) >= 3


def _mining(data: dict[str, Any]) -> bool | None:
    state = data.get("state")
    if not isinstance(state, str):
        return None
    word = state.strip().lower()
    if word in _MINING_STATES:
        return True
    if word in _STOPPED_STATES:
        return False
    return None


def _faults(data: dict[str, Any]) -> list[Fault]:
    faults = []
    for slot, index in chain_layout(data):
        text = data.get(f"chain_fault{slot}")
        if isinstance(text, str) and text.strip():
            faults.append(Fault(code=f"chain_fault:{index}", message=text.strip()))
    return faults


@register
class VnishParser(FirmwareParser):
    name = "vnish"
    make = "Bitmain"
    commands = ("stats", "summary", "pools")  # `version` is an error on VNish
    optional_commands = ()
    multi_command = False  # no capture shows VNish answering a multi-command

    def parse(self, replies: dict[str, Reply]) -> MinerStatus:
        status = MinerStatus(make=self.make, firmware=self.name)
        identity, data = stats_parts(replies.get("stats"))
        model, suffix = split_type(identity.get("Type"))
        status.model = model
        status.firmware_version = suffix_version(suffix) or str(data.get("build_version") or "")
        unit = rate_unit(data, model)
        summary = guarded({}, apply_summary, status, replies.get("summary"))
        guarded(None, fill_hashrates, status, summary, data, unit)
        # chain_vol is mV on 1.x (12625 on an S19 XP) but 10 mV steps on 3.x (920 on an S9 = 9.2 V).
        volt_divisor = 100 if _legacy(status.firmware_version) else 1000
        status.boards = read_boards(data, unit, volt_divisor)
        status.fans = guarded([], read_fans, data)
        duty = to_float(data.get("fan_pwm"))  # one PWM percentage for all fans
        if duty is not None and 0 <= duty <= 100:
            for fan in status.fans:
                fan.speed_ratio = duty / 100
        # chain_consumption is 0 on every chain when the PSU does not meter; the
        # total is only honest when every board has a reading.
        watts = [board.power_watts for board in status.boards]
        if watts and all(w is not None for w in watts):
            status.power_watts = sum(watts)
        status.faults = guarded([], _faults, data)
        status.mining = guarded(None, _mining, data)
        status.pools = guarded([], parse_pools, replies.get("pools"))
        return status
