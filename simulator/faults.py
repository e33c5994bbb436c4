"""Faults a simulated miner can suffer: validated specs such as {"fault": "board_dead", "board": 1}.

Each spec checks that it can apply to a profile (a board or fan it has). What
active faults do to replies and connections is simulator.effects; kinds:

  transport   offline, hung, slow_reply, malformed_json, oversized
  hashing     hashrate_zero, board_dead
  documents   board_dead, overheating, fan_stopped, pool_dead, reject_spike
  one-shot    reboot (SimulatedMiner.reboot): not a state, never listed as active
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import Field, TypeAdapter, ValidationError

from hashwatch.config import StrictModel

from .mutate import Moment

if TYPE_CHECKING:
    from .profiles import Profile

MiB = 1024 * 1024


class FaultError(ValueError):
    """A fault spec that is invalid, or cannot apply to a miner; the message names the key."""


class FaultSpec(StrictModel):
    fault: str

    @property
    def key(self) -> str:
        """Faults with equal keys replace each other on a miner; others combine."""
        return self.fault

    def check(self, profile: Profile) -> None:
        """Raise FaultError when this fault cannot apply to a miner of `profile`."""

    def public(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Offline(FaultSpec):
    """Refuses connections (per-address listeners) or resets them (shared listener)."""

    fault: Literal["offline"]


class HashrateZero(FaultSpec):
    """Every hashrate field 0; share counters stop growing; uptime goes on."""

    fault: Literal["hashrate_zero"]


class BoardDead(FaultSpec):
    """One hashboard stops: its rate 0, its chips gone, the totals down by its share."""

    fault: Literal["board_dead"]
    board: int = Field(ge=0, le=63)

    @property
    def key(self) -> str:
        return f"board_dead:{self.board}"

    def check(self, profile: Profile) -> None:
        boards = profile.layout.boards
        if not boards:
            raise FaultError(f"board: {profile.name} reports no hashboards")
        if self.board >= boards:
            raise FaultError(f"board: {profile.name} has boards 0..{boards - 1}, not {self.board}")


class Overheating(FaultSpec):
    """Chip and board temperatures up by `delta` °C, or at `celsius`; `board`: only that one."""

    fault: Literal["overheating"]
    delta: float = Field(default=25.0, gt=0, le=200)
    celsius: float | None = Field(default=None, gt=0, le=200)
    board: int | None = Field(default=None, ge=0, le=63)

    def check(self, profile: Profile) -> None:
        if self.board is not None:
            BoardDead(fault="board_dead", board=self.board).check(profile)


class FanStopped(FaultSpec):
    """One fan at 0 rpm. `fan` is the exporter's fan label ("0", "out") or its position."""

    fault: Literal["fan_stopped"]
    fan: int | str = 0

    @property
    def key(self) -> str:
        return f"fan_stopped:{self.fan}"

    def check(self, profile: Profile) -> None:
        if profile.layout.fan_label(self.fan) is None:
            raise FaultError(f"fan: {profile.name} has fans {', '.join(profile.layout.fan_labels) or 'none'}")


class PoolDead(FaultSpec):
    """A pool (default: the active one) goes Dead; the next alive pool takes over its shares."""

    fault: Literal["pool_dead"]
    pool: int | None = None  # the pool's POOL number, as the exporter labels it

    def check(self, profile: Profile) -> None:
        if "pools" not in profile.replies:
            raise FaultError(f"fault: {profile.name} has no pools reply")
        if self.pool is not None:
            pools = profile.load(profile.replies["pools"]).get("POOLS") or []
            numbers = [entry.get("POOL") for entry in pools if isinstance(entry, dict)]
            if self.pool not in numbers:
                raise FaultError(f"pool: {profile.name} has pools {', '.join(map(str, numbers))}")


class RejectSpike(FaultSpec):
    """`ratio` of the shares submitted from now on are rejected, plus `per_second` more.

    Captured miners submit a share every few seconds, so `per_second` makes the
    spike visible within seconds (tests, demos) whatever the capture's pace.
    """

    fault: Literal["reject_spike"]
    ratio: float = Field(default=0.2, gt=0, lt=1)
    per_second: float = Field(default=0.0, ge=0, le=10_000)


class Reboot(FaultSpec):
    """One-shot: uptime and every counter restart from 0, then grow again."""

    fault: Literal["reboot"]


class SlowReply(FaultSpec):
    """Every reply waits `seconds` (the per-miner latency knob, as a fault)."""

    fault: Literal["slow_reply"]
    seconds: float = Field(gt=0, le=600)


class Hung(FaultSpec):
    """Accepts and reads, never answers; the server drops it after its idle timeout."""

    fault: Literal["hung"]


class MalformedJson(FaultSpec):
    """Replies cut in half ("truncated") or with every ':' replaced ("garbled")."""

    fault: Literal["malformed_json"]
    mode: Literal["truncated", "garbled"] = "truncated"


class Oversized(FaultSpec):
    """Replies padded to more than `bytes` with a valid-looking JSON string."""

    fault: Literal["oversized"]
    bytes: int = Field(default=5 * MiB, ge=1, le=256 * MiB)


FAULT_TYPES: tuple[type[FaultSpec], ...] = (
    Offline, HashrateZero, BoardDead, Overheating, FanStopped, PoolDead, RejectSpike,
    Reboot, SlowReply, Hung, MalformedJson, Oversized,
)  # fmt: skip
FAULT_NAMES: tuple[str, ...] = tuple(t.model_fields["fault"].annotation.__args__[0] for t in FAULT_TYPES)
AnyFault = Annotated[
    Offline | HashrateZero | BoardDead | Overheating | FanStopped | PoolDead | RejectSpike
    | Reboot | SlowReply | Hung | MalformedJson | Oversized,
    Field(discriminator="fault"),
]
_ADAPTER: TypeAdapter[FaultSpec] = TypeAdapter(AnyFault)


def describe_errors(error: ValidationError) -> str:
    """The problems, each naming its key, as hashwatch's config errors do."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{key}: {message}")
    return "; ".join(lines)


def parse_fault(data: Any) -> FaultSpec:
    """A fault spec from JSON-like data: {"fault": "board_dead", "board": 1}."""
    if not isinstance(data, dict):
        raise FaultError(f'a fault is an object such as {{"fault": "offline"}}, got {type(data).__name__}')
    if data.get("fault") not in FAULT_NAMES:
        raise FaultError(f"fault: unknown fault {data.get('fault')!r}; known: {', '.join(FAULT_NAMES)}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise FaultError(describe_errors(exc)) from None


class ActiveFault(NamedTuple):
    spec: FaultSpec
    since: Moment  # the miner's moment when it was set: counters are compared with it
    set_at: float  # unix seconds

    def public(self) -> dict[str, Any]:
        return {**self.spec.public(), "since": self.set_at}
