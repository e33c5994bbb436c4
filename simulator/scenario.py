"""Scenario files: a timeline of faults for scripted simulator runs.

    steps:
      - at: 10s                      # from the start of the run
        miners: [127.10.0.3]         # or profile: NAME, count: N, all: true
        fault: board_dead
        board: 1
      - at: 1m30s
        miners: [127.10.0.3]
        clear: board_dead            # a fault name or key, a list, or "all"
      - at: 2m
        clear: all                   # no selector: every miner

A fault step is a selector (simulator.selection), the fault spec's own keys
(simulator.faults) and `at`. Unknown keys are errors naming the step and key,
like every hashwatch config file; selectors and fault parameters are checked
against the fleet before the run starts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator
from pydantic_core import PydanticCustomError

from hashwatch.config import ConfigError, StrictModel, load_config

from .faults import FAULT_NAMES, FAULT_TYPES, FaultError, FaultSpec, parse_fault
from .fleet import SimulatedFleet
from .selection import Selector

_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(value: Any) -> float:
    """Seconds from 10, 2.5, "10s", "250ms", "1m30s", "1h"."""
    if isinstance(value, bool):
        raise PydanticCustomError("duration", "expected a duration such as 10s, 1m30s or 250ms")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "")
        parts = _PART.findall(text)
        if "".join(n + u for n, u in parts) == text and parts:
            seconds = sum(float(n) * _UNIT[u] for n, u in parts)
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise PydanticCustomError("duration", "expected a duration such as 10s, 1m30s or 250ms") from None
    else:
        raise PydanticCustomError("duration", "expected a duration such as 10s, 1m30s or 250ms")
    if not 0 <= seconds <= 7 * 86400:
        raise PydanticCustomError("duration", "must be between 0 and 7 days")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class StepBase(Selector):
    at: Duration

    def describe(self) -> str:
        if self.miners is not None:
            return ", ".join(self.miners) if len(self.miners) <= 3 else f"{len(self.miners)} miners"
        if self.all or not self.given:
            return "every miner"
        return " ".join(p for p in (f"first {self.count}" if self.count else "", self.profile or "", "miners") if p)


class ClearStep(StepBase):
    clear: str | list[str]  # "all", or fault names / keys

    @field_validator("clear")
    @classmethod
    def _known(cls, value: str | list[str]) -> str | list[str]:
        for name in [value] if isinstance(value, str) else value:
            if name != "all" and name.partition(":")[0] not in FAULT_NAMES:
                raise PydanticCustomError(
                    "unknown_fault", "unknown fault '{name}'; known: all, {known}",
                    {"name": name, "known": ", ".join(FAULT_NAMES)},
                )
        return value

    def names(self) -> list[str] | None:
        names = [self.clear] if isinstance(self.clear, str) else self.clear
        return None if "all" in names else names


_STEP_KEYS = frozenset(StepBase.model_fields)


def _fault_step(spec: type[FaultSpec]) -> type[StepBase]:
    """A step model for one fault: selector + at + the fault's own keys."""
    return type(f"{spec.__name__}Step", (StepBase, spec), {"__doc__": spec.__doc__})


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "fault" in value:
            return str(value["fault"])
        return "clear" if "clear" in value else None
    return getattr(value, "fault", "clear")


def _known_fault(value: Any) -> Any:
    if isinstance(value, dict) and "fault" in value and value["fault"] not in FAULT_NAMES:
        raise PydanticCustomError(
            "unknown_fault", "fault: unknown fault '{fault}'; known: {known}",
            {"fault": value["fault"], "known": ", ".join(FAULT_NAMES)},
        )
    return value


_KINDS = tuple(Annotated[_fault_step(t), Tag(name)] for t, name in zip(FAULT_TYPES, FAULT_NAMES)) + (
    Annotated[ClearStep, Tag("clear")],
)
Step = Annotated[
    Union[_KINDS],  # noqa: UP007 - a runtime-built union
    Discriminator(_step_kind, custom_error_type="step", custom_error_message="a step needs a fault: or a clear: key"),
    BeforeValidator(_known_fault),
]


class Scenario(StrictModel):
    steps: list[Step] = Field(min_length=1)


def fault_of(step: StepBase) -> FaultSpec:
    """The fault spec a fault step carries (without its selector and time)."""
    return parse_fault(step.model_dump(exclude=set(_STEP_KEYS)))


def load_scenario(path: str | Path, fleet: SimulatedFleet) -> Scenario:
    """Read, validate and check against `fleet`; ConfigError names the file, step and key."""
    scenario = load_config(Scenario, path)
    check(scenario, fleet, str(path))
    return scenario


def check(scenario: Scenario, fleet: SimulatedFleet, source: str = "<scenario>") -> None:
    for index, step in enumerate(scenario.steps):
        try:
            addresses = step.addresses(fleet)
            if isinstance(step, ClearStep):
                continue
            if not step.given:
                raise FaultError("miners: select miners with miners, profile, count or all: true")
            spec = fault_of(step)
            for address in addresses:
                spec.check(fleet.miner(address).profile)
        except FaultError as exc:
            raise ConfigError(f"{source}: invalid scenario\n  steps.{index}.{exc}") from None


class ScenarioRunner:
    """Applies the steps of a scenario to a fleet when their time comes."""

    def __init__(self, scenario: Scenario, fleet: SimulatedFleet, report: Callable[[str], None] | None = None):
        self.steps = sorted(scenario.steps, key=lambda step: step.at)  # stable: file order at equal times
        self.fleet = fleet
        self.report = report or (lambda line: None)
        self.applied = 0

    @property
    def finished(self) -> bool:
        return self.applied >= len(self.steps)

    def advance(self, elapsed: float) -> int:
        """Apply every step due `elapsed` seconds into the run; returns how many were applied."""
        count = 0
        while not self.finished and self.steps[self.applied].at <= elapsed:
            self._apply(self.steps[self.applied])
            self.applied += 1
            count += 1
        return count

    def _apply(self, step: StepBase) -> None:
        try:
            addresses = step.addresses(self.fleet)
            if isinstance(step, ClearStep):
                names = step.names()
                self.fleet.clear_faults(addresses, names)
                self.report(f"t={step.at:g}s clear {', '.join(names or ['all'])} on {step.describe()}")
                return
            spec = fault_of(step)
            self.fleet.set_fault(spec, addresses)
            params = " ".join(f"{k}={v}" for k, v in spec.public().items() if k != "fault")
            self.report(f"t={step.at:g}s {spec.fault}{' ' + params if params else ''} on {step.describe()}")
        except FaultError as exc:  # checked before the run; a fleet changed since then must not stop it
            self.report(f"t={step.at:g}s step skipped: {exc}")

    async def run(self, clock: Callable[[], float] | None = None) -> None:
        """Sleep from step to step (at most one sleep per step) until the last one is applied."""
        clock = clock or asyncio.get_running_loop().time
        start = clock()
        while not self.finished:
            wait = self.steps[self.applied].at - (clock() - start)
            if wait > 0:
                await asyncio.sleep(wait)
            self.advance(clock() - start)
