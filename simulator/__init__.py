"""Simulated ASIC miners speaking the real CGMiner TCP API on loopback, from real captures.

Used by tests, the demo and benchmarks. See fleet.py for the entry points,
faults.py for the faults a miner can be given (also over control.py's HTTP API
and scenario.py's YAML timelines), and docs/simulator.md.
"""

from .faults import FAULT_NAMES, ActiveFault, FaultError, FaultSpec, parse_fault
from .fleet import FleetThread, SimulatedFleet, fleet_addresses
from .miner import CommandJournal, MinerState, Received, SimulatedMiner
from .profiles import PROFILES, Profile, get_profile
from .server import MinerServer

__all__ = [
    "FAULT_NAMES",
    "PROFILES",
    "ActiveFault",
    "CommandJournal",
    "FaultError",
    "FaultSpec",
    "FleetThread",
    "MinerServer",
    "MinerState",
    "Profile",
    "Received",
    "SimulatedFleet",
    "SimulatedMiner",
    "fleet_addresses",
    "get_profile",
    "parse_fault",
]
