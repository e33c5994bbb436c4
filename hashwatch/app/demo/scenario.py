"""The demo's scripted faults: one miner each, in force from the start, and the alerts they raise.

Each fault goes to an unused miner of the first profile in its preference list
that the fleet has (then any miner whose firmware can show it); with fewer
miners than faults, the last faults are left out. The rules the demo
generates have short `for:` durations (configs.DEMO_FOR), so each of these
alerts fires within about a minute of the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from simulator import FaultError, get_profile, parse_fault

from .layout import Miner


@dataclass(frozen=True)
class ScriptedFault:
    fault: dict[str, Any]
    profiles: tuple[str, ...]  # in order of preference
    alerts: tuple[str, ...]  # what it raises, the first being the one it is for
    what: str


FAULTS = (
    ScriptedFault({"fault": "offline"}, ("braiins-s9", "whatsminer-m31s"), ("MinerDown",),
                  "offline: its API refuses connections"),
    ScriptedFault({"fault": "board_dead", "board": 1}, ("antminer-s19pro", "vnish-s21pro", "luxos-s19kpro"),
                  ("MinerHashboardDead", "MinerHashrateLow"), "hashboard 1 dead: a third of its hashrate gone"),
    ScriptedFault({"fault": "overheating", "celsius": 100}, ("vnish-s21pro", "antminer-s19pro", "luxos-s19kpro"),
                  ("MinerChipTemperatureCritical", "MinerBoardTemperatureCritical"),
                  "overheating: chips and boards at 100 °C"),
    ScriptedFault({"fault": "pool_dead"}, ("avalon-1566", "antminer-s19pro", "whatsminer-m31s"),
                  ("MinerPoolFailover", "MinerPoolDown"), "its first pool dead: hashing on a backup pool"),
    ScriptedFault({"fault": "reject_spike", "ratio": 0.3, "per_second": 1}, ("antminer-s21", "luxos-s19kpro", "antminer-s19pro"),
                  ("MinerRejectRatioHigh",), "reject spike: 30% of its shares rejected"),
)


@dataclass(frozen=True)
class Assignment:
    miner: Miner
    scripted: ScriptedFault


def _fits(scripted: ScriptedFault, miner: Miner) -> bool:
    try:
        parse_fault(dict(scripted.fault)).check(get_profile(miner.profile))
    except FaultError:
        return False
    return True


def assign(miners: list[Miner]) -> list[Assignment]:
    """Each fault to a miner of a preferred profile, else to any miner that can show it; one fault per miner."""
    free = list(miners)
    chosen: list[Assignment] = []
    for scripted in FAULTS:
        ranked = [m for p in scripted.profiles for m in free if m.profile == p]
        ranked += [m for m in free if m not in ranked and _fits(scripted, m)]
        if ranked:
            chosen.append(Assignment(ranked[0], scripted))
            free.remove(ranked[0])
    return chosen


def scenario_yaml(assignments: list[Assignment]) -> str:
    """A simulator scenario file (docs/simulator.md): every fault at 0s, before the miners listen."""
    steps = [{"at": "0s", "miners": [a.miner.address], **a.scripted.fault} for a in assignments]
    return yaml.safe_dump({"steps": steps}, sort_keys=False)


def expected_alerts(assignments: list[Assignment]) -> dict[str, str]:
    """{miner target: the alert its fault is for}."""
    return {a.miner.target: a.scripted.alerts[0] for a in assignments}
