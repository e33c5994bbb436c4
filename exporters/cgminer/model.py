"""The normalized miner model. Every firmware parser produces a MinerStatus.

All values are in base units (hashes per second, degrees Celsius, watts, seconds,
revolutions per minute). None always means "this firmware did not report it";
a parser never fills a gap with 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Temperature sensor names used as the `sensor` label.
SENSOR_CHIP = "chip"  # hottest chip reading of the board
SENSOR_PCB = "pcb"  # board (PCB) sensor, hottest when there are several
SENSOR_INLET = "inlet"  # air or coolant entering the board
SENSOR_OUTLET = "outlet"  # air or coolant leaving the board


@dataclass(slots=True)
class Board:
    """One hashboard (chain)."""

    index: str  # label value: "0", "1", ... as the firmware numbers its chains
    hashrate: float | None = None  # H/s
    expected_hashrate: float | None = None  # H/s
    chips: int | None = None  # chips answering
    expected_chips: int | None = None
    temperatures: dict[str, float] = field(default_factory=dict)  # sensor -> °C
    hardware_errors: int | None = None
    frequency_hz: float | None = None
    voltage_volts: float | None = None
    power_watts: float | None = None
    power_estimated: bool = False  # the firmware's estimate, not a reading (estimated="true")
    status: str | None = None  # firmware's word, e.g. "Alive", "mining"


@dataclass(slots=True)
class Fan:
    index: str
    rpm: float | None = None
    speed_ratio: float | None = None  # 0..1 PWM duty where reported


@dataclass(slots=True)
class Pool:
    index: str
    url: str = ""
    user: str = ""  # pool user, "account.worker"; never a password
    status: str = ""  # firmware's word: Alive, Dead, "Deed" (stock typo), Disabled
    alive: bool | None = None
    active: bool | None = None  # the pool currently receiving work
    priority: int | None = None
    accepted: int | None = None
    rejected: int | None = None
    stale: int | None = None

    @property
    def worker(self) -> str:
        """What follows the first dot of the user: the worker name pools show."""
        _, dot, worker = self.user.partition(".")
        return worker if dot else ""


@dataclass(slots=True)
class Fault:
    code: str
    message: str = ""


@dataclass(slots=True)
class MinerStatus:
    # identity
    make: str = ""  # Bitmain, MicroBT, Canaan, ...
    model: str = ""  # S19 Pro, M31S, Avalon Q, ...
    firmware: str = ""  # hashwatch firmware family: antminer, whatsminer, avalon, braiins, vnish, luxos, cgminer
    firmware_version: str = ""
    # hashing
    hashrate: float | None = None  # H/s, the firmware's short-window rate
    hashrate_average: float | None = None  # H/s since start
    expected_hashrate: float | None = None  # H/s, nominal/ideal where reported
    boards: list[Board] = field(default_factory=list)
    # environment and power
    temperatures: dict[str, float] = field(default_factory=dict)  # miner-level sensors (e.g. inlet)
    fans: list[Fan] = field(default_factory=list)
    power_watts: float | None = None
    # True where the firmware's figure is its own estimate (a model of the board's
    # draw, not a reading from the PSU or a meter): exported as estimated="true".
    power_estimated: bool = False
    power_limit_watts: float | None = None
    # work
    accepted: int | None = None
    rejected: int | None = None
    stale: int | None = None
    hardware_errors: int | None = None
    best_share: int | None = None
    uptime_seconds: float | None = None
    pools: list[Pool] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    mining: bool | None = None  # False when the firmware says it is paused/sleeping
