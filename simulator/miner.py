"""One simulated miner: an address, a profile, a seed, and a state the replies consult."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .effects import NO_FAULTS, Plan, compile_plan, edit_reply
from .faults import ActiveFault, FaultSpec, Reboot
from .mutate import Moment
from .profiles import Profile, get_profile
from .protocol import responder_for
from .protocol import Request

Clock = Callable[[], float]


@dataclass
class MinerState:
    """Per-miner knobs read on every request.

    Plain attributes, so tests may set them from any thread between requests.
    Faults (set_fault) go beyond knobs: they also change counters and replies.
    """

    latency: float = 0.0  # seconds to wait before replying (a slow_reply fault overrides it)
    hashrate_scale: float = 1.0  # multiplies every hashrate field (0 = not hashing)


@dataclass(frozen=True)
class _Life:
    """What faults change about a miner's run; replaced whole, so a request reads it without a lock."""

    booted_at: float  # Elapsed counts from here
    carry: float  # 1 until a reboot: the captured totals still count
    work: float  # full-rate hashing seconds accrued until `changed`
    changed: float  # when the plan (and so the hashing pace) last changed
    plan: Plan

    def moment(self, now: float, factor: float) -> Moment:
        work = self.work + max(0.0, now - self.changed) * self.plan.hashing
        return Moment(now, max(0.0, now - self.booted_at), factor, work, self.carry)


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
        self._lock = threading.Lock()  # writers only (fault changes)
        self._life = _Life(self.started_at, 1.0, 0.0, self.started_at, NO_FAULTS)
        self._before: dict[tuple[str, float, str], Any] = {}  # replies at fault time, per command

    def __repr__(self) -> str:
        return f"SimulatedMiner({self.address!r}, {self.profile.name!r}, seed={self.seed})"

    # -- what the server asks on each connection --

    @property
    def offline(self) -> bool:
        return self._life.plan.offline

    @property
    def hung(self) -> bool:
        return self._life.plan.hung

    @property
    def latency(self) -> float:
        """Seconds before each reply: a slow_reply fault, else the latency knob."""
        latency = self._life.plan.latency
        return self.state.latency if latency is None else latency

    def reply(self, request: Request) -> bytes:
        """The bytes to send: JSON text plus cgminer's trailing NUL (api.c sends len + 1)."""
        life = self._life
        plan = life.plan
        now = self._clock()
        noise = self.profile.noise
        factor = (1.0 + self._rng.uniform(-noise, noise)) * self.state.hashrate_scale * plan.factor
        moment = life.moment(now, factor)
        edit = None
        if plan.effects:

            def edit(command: str, text: str) -> str:
                return edit_reply(plan, self.profile, now, command, text, self._reply_before)

        body = self._responder.respond(request, moment, edit).encode() + b"\x00"
        return plan.body(body) if plan.body is not None else body

    def _reply_before(self, active: ActiveFault | None, command: str) -> Any:
        """`command`'s reply, parsed and unedited, at the moment `active` was set."""
        if active is None:
            return {}
        key = (active.spec.key, active.set_at, command)
        before = self._before.get(key)
        if before is None:
            before = self._before[key] = json.loads(self._responder.render(command, active.since))
        return before

    # -- faults --

    @property
    def faults(self) -> list[ActiveFault]:
        return list(self._life.plan.faults)

    def set_fault(self, spec: FaultSpec) -> None:
        """Start a fault (replacing one with the same key); raises FaultError if it cannot apply."""
        spec.check(self.profile)
        if isinstance(spec, Reboot):
            self.reboot()
            return
        with self._lock:
            now = self._clock()
            life = self._life
            active = {fault.spec.key: fault for fault in life.plan.faults}
            active[spec.key] = ActiveFault(spec, life.moment(now, 1.0), now)
            self._replan(now, list(active.values()))

    def clear_faults(self, names: Iterable[str] | None = None) -> list[str]:
        """End faults by name ("board_dead") or key ("board_dead:1"), all when names is None."""
        wanted = None if names is None else set(names)
        with self._lock:
            kept, cleared = [], []
            for fault in self._life.plan.faults:
                if wanted is None or fault.spec.fault in wanted or fault.spec.key in wanted:
                    cleared.append(fault.spec.key)
                else:
                    kept.append(fault)
            if cleared:
                self._replan(self._clock(), kept)
        return cleared

    def reboot(self) -> None:
        """Uptime and counters restart from 0; active faults go on, counted from the reboot."""
        with self._lock:
            now = self._clock()
            fresh = Moment(now, 0.0, 1.0, 0.0, 0.0)
            active = [ActiveFault(fault.spec, fresh, now) for fault in self._life.plan.faults]
            self._life = _Life(now, 0.0, 0.0, now, compile_plan(active, self.profile))
            self._before = {}

    def _replan(self, now: float, active: list[ActiveFault]) -> None:
        life = self._life
        work = life.work + max(0.0, now - life.changed) * life.plan.hashing  # accrued at the old pace
        self._life = _Life(life.booted_at, life.carry, work, now, compile_plan(active, self.profile))
        self._before = {}

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "profile": self.profile.name,
            "latency": self.latency,
            "uptime": max(0.0, self._clock() - self._life.booted_at),
            "faults": [fault.public() for fault in self.faults],
        }


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
