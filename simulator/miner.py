"""One simulated miner: an address, a profile, a seed, and a state the replies consult."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from .mutate import Moment
from .profiles import Profile, get_profile, responder_for
from .protocol import Request

Clock = Callable[[], float]


@dataclass
class MinerState:
    """Per-miner knobs read on every request; the place where faults plug in.

    Plain attributes, so tests may set them from any thread between requests.
    """

    latency: float = 0.0  # seconds to wait before replying
    hashrate_scale: float = 1.0  # multiplies every hashrate field (0 = not hashing)


class SimulatedMiner:
    def __init__(
        self,
        address: str,
        profile: str | Profile,
        seed: int = 0,
        *,
        state: MinerState | None = None,
        clock: Clock = time.time,
    ):
        self.address = address
        self.profile = profile if isinstance(profile, Profile) else get_profile(profile)
        self.seed = seed
        self.state = state or MinerState()
        self._clock = clock
        self._rng = random.Random(seed)  # per-miner noise sequence: same seed, same values
        self._responder = responder_for(self.profile)
        self.started_at = clock()

    def __repr__(self) -> str:
        return f"SimulatedMiner({self.address!r}, {self.profile.name!r}, seed={self.seed})"

    def reply(self, request: Request) -> bytes:
        """The bytes to send: JSON text plus cgminer's trailing NUL (api.c sends len + 1)."""
        now = self._clock()
        noise = self.profile.noise
        factor = (1.0 + self._rng.uniform(-noise, noise)) * self.state.hashrate_scale
        moment = Moment(now=now, running=max(0.0, now - self.started_at), factor=factor)
        return self._responder.respond(request, moment).encode() + b"\x00"


class Received(NamedTuple):
    address: str  # the miner the request reached
    command: str  # as sent: "summary+pools", "status", "ascset|0,freq,500", or raw text


class CommandJournal:
    """Every request received, fleet-wide, bounded: proof of what a client sent.

    Written from the server's event loop, read from test threads, hence the lock.
    """

    def __init__(self, maxlen: int = 10_000):
        self._entries: deque[Received] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def record(self, address: str, command: str) -> None:
        with self._lock:
            self._entries.append(Received(address, command))

    def snapshot(self, address: str | None = None) -> list[Received]:
        with self._lock:
            entries = list(self._entries)
        return entries if address is None else [entry for entry in entries if entry.address == address]

    def command_names(self, address: str | None = None) -> set[str]:
        """Individual command names sent ("summary+pools" -> summary, pools; parameters dropped)."""
        names: set[str] = set()
        for entry in self.snapshot(address):
            for part in entry.command.split("+"):
                names.add(part.partition("|")[0])
        return names

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
