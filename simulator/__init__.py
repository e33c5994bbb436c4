"""Simulated ASIC miners speaking the real CGMiner TCP API on loopback, from real captures.

Used by tests, the demo and benchmarks. See fleet.py for the entry points.
"""

from .fleet import FleetThread, SimulatedFleet, fleet_addresses
from .miner import CommandJournal, MinerState, Received, SimulatedMiner
from .profiles import PROFILES, Profile, get_profile
from .server import MinerServer

__all__ = [
    "PROFILES",
    "CommandJournal",
    "FleetThread",
    "MinerServer",
    "MinerState",
    "Profile",
    "Received",
    "SimulatedFleet",
    "SimulatedMiner",
    "fleet_addresses",
    "get_profile",
]
