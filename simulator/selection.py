"""Which miners a fault is for: by address, by profile, the first N, or all.

Shared by the control API (POST /faults) and scenario steps, so both select
miners the same way. Selection is deterministic: "count" takes the first N
miners (of the profile, when given) in address order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from hashwatch.config import StrictModel

from .faults import FaultError
from .profiles import PROFILES

if TYPE_CHECKING:
    from .fleet import SimulatedFleet


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("selector", message)  # shown as is: no "Value error, " prefix


class Selector(StrictModel):
    miners: list[str] | None = Field(default=None, min_length=1)  # addresses
    profile: str | None = None
    count: int | None = Field(default=None, ge=1)
    all: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Selector:
        if self.profile is not None and self.profile not in PROFILES:
            raise _invalid(f"profile: unknown profile {self.profile!r}; known: {', '.join(PROFILES)}")
        if self.miners is not None and (self.profile is not None or self.count is not None or self.all):
            raise _invalid("miners: list addresses, or select by profile/count/all, not both")
        if self.all and (self.profile is not None or self.count is not None):
            raise _invalid("all: true selects every miner; drop profile/count")
        return self

    @property
    def given(self) -> bool:
        return self.miners is not None or self.profile is not None or self.count is not None or self.all

    def addresses(self, fleet: SimulatedFleet) -> list[str]:
        """The selected addresses (every miner when nothing is selected); FaultError names the key."""
        if self.miners is not None:
            unknown = [address for address in self.miners if address not in fleet.by_address]
            if unknown:
                raise FaultError(f"miners: {', '.join(unknown)} not simulated here")
            return list(dict.fromkeys(self.miners))
        pool = [m for m in fleet.miners if self.profile is None or m.profile.name == self.profile]
        if not pool and self.profile is not None:
            raise FaultError(f"profile: the fleet has no {self.profile} miners")
        if self.count is not None:
            if self.count > len(pool):
                what = f"{self.profile} miners" if self.profile else "miners"
                raise FaultError(f"count: {self.count} asked, the fleet has {len(pool)} {what}")
            pool = pool[: self.count]
        return [m.address for m in pool]
