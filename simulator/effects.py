"""What active faults do: compiled into a Plan per miner, followed by every request.

A miner compiles its active faults (simulator.faults) into a `Plan` once, when
they change; a request then only follows the plan:

  transport   how the server treats a connection (offline, hung, delay) and
              the reply bytes (malformed_json, oversized)
  hashing     the pace counters grow at and the multiplier of every hashrate
              field (hashrate_zero, board_dead)
  documents   edits of parsed replies, located per profile by its Layout
              (board_dead, overheating, fan_stopped, pool_dead, reject_spike)

Counters stay monotonic through every fault: edits that move counters compare
the reply with the same command's reply at the moment the fault was set.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .faults import (
    ActiveFault,
    BoardDead,
    FanStopped,
    HashrateZero,
    Hung,
    MalformedJson,
    Offline,
    Overheating,
    Oversized,
    PoolDead,
    RejectSpike,
    SlowReply,
)
from .layouts import Doc, cells, edit, map_number, zero

if TYPE_CHECKING:
    from .profiles import Profile


# -- edits of parsed replies ---------------------------------------------------------------


@dataclass
class EditContext:
    profile: Profile
    now: float
    since: Callable[[], Doc]  # this command's reply (parsed, unedited) when the fault was set


def _items(doc: Doc, section: str) -> list[dict[str, Any]]:
    items = doc.get(section)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


class Effect:
    """One edit of parsed replies; `commands` are those it may change (None: any)."""

    commands: frozenset[str] | None = None
    active: ActiveFault | None = None  # the fault whose set-time reply `since` renders

    def apply(self, doc: Doc, command: str, ctx: EditContext) -> None:
        raise NotImplementedError


@dataclass
class DeadBoards(Effect):
    boards: frozenset[int]
    commands: frozenset[str] | None = None  # totals live in summary, devs, stats...

    def apply(self, doc: Doc, command: str, ctx: EditContext) -> None:
        layout, hashrate = ctx.profile.layout, ctx.profile.rules.hashrate
        per_board = {
            (id(item), key)
            for n in range(layout.boards)
            for item, key in cells(layout.board_rates, doc, command, n, hashrate)
        }
        for board in self.boards:
            edit(layout.board_rates, doc, command, board, zero, hashrate)
            edit(layout.board_chips, doc, command, board, zero, hashrate)
            edit(layout.chip_maps, doc, command, board, _chips_failed, hashrate)
        live = 1.0 - len(self.boards) / layout.boards

        def scale(value: Any) -> Any:
            return map_number(value, lambda x: x * live)

        for item in _walk(doc):
            for key in list(item):
                if hashrate.fullmatch(key) and (id(item), key) not in per_board:
                    item[key] = scale(item[key])
        edit(layout.total_rates, doc, command, None, scale, hashrate)


def _chips_failed(value: Any) -> Any:
    # chain_acs draws one letter per chip: "o" hashing, "x" not answering.
    return value.replace("o", "x") if isinstance(value, str) else value


@dataclass
class Heat(Effect):
    spec: Overheating
    commands: frozenset[str] | None = None

    def apply(self, doc: Doc, command: str, ctx: EditContext) -> None:
        layout, hashrate = ctx.profile.layout, ctx.profile.rules.hashrate
        spec = self.spec

        def hotter(value: Any) -> Any:
            # 0 (and -273) mean "no sensor" to firmware and exporter alike: they stay.
            return map_number(value, lambda x: (spec.celsius or x + spec.delta) if x > 0 else x)

        boards = range(layout.boards) if spec.board is None else (spec.board,)
        for board in boards:
            edit(layout.chip_temps + layout.board_temps, doc, command, board, hotter, hashrate)
        edit(layout.miner_temps, doc, command, None, hotter, hashrate)


@dataclass
class StopFan(Effect):
    label: str
    commands: frozenset[str] | None = None

    def apply(self, doc: Doc, command: str, ctx: EditContext) -> None:
        edit(ctx.profile.layout.fans, doc, command, self.label, zero, ctx.profile.rules.hashrate)


def _usable(pool: dict[str, Any]) -> bool:
    url = str(pool.get("URL") or "")
    return bool(url) and url != "DevFee" and pool.get("Type") != 1  # VNish's dev-fee pseudo pool


def _priority(pool: dict[str, Any]) -> float:
    return _number(pool.get("Priority", pool.get("POOL", 0)))


def active_pool(pools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pool receiving work: the first by priority that is Stratum Active, else alive."""
    ordered = sorted((p for p in pools if _usable(p)), key=_priority)
    return next((p for p in ordered if p.get("Stratum Active") is True), None) or next(
        (p for p in ordered if str(p.get("Status")).lower() == "alive"), None
    )


@dataclass
class PoolFailover(Effect):
    active: ActiveFault
    commands: frozenset[str] | None = frozenset({"pools"})

    def apply(self, doc: Doc, command: str, ctx: EditContext) -> None:
        pools = _items(doc, "POOLS")
        wanted = self.active.spec.pool  # type: ignore[attr-defined]
        dead = active_pool(pools) if wanted is None else next((p for p in pools if p.get("POOL") == wanted), None)
        if dead is None:
            return
        was_active = dead is active_pool(pools)
        backup = None
        if was_active:
            candidates = sorted((p for p in pools if p is not dead and _usable(p)), key=_priority)
            backup = next((p for p in candidates if str(p.get("Status")).lower() == "alive"), None)
        before = next((p for p in _items(ctx.since(), "POOLS") if p.get("POOL") == dead.get("POOL")), {})
        counters = ctx.profile.rules.counters
        for key in [k for k in dead if k in counters and k in before]:
            # The dead pool's counters stop where they were; what it would have got goes to the backup.
            grown = max(0.0, _number(dead[key]) - _number(before[key]))
            dead[key] = before[key]
            if backup is not None and key in backup:
                _add(backup, key, grown)
        dead["Status"] = "Dead"
        if "Stratum Active" in dead:
            dead["Stratum Active"] = False
        if backup is not None and "Stratum Active" in backup:
            backup["Stratum Active"] = True


@dataclass
class Rejects(Effect):
    active: ActiveFault
    commands: frozenset[str] | None = frozenset({"summary", "pools", "devs", "edevs"})

    def apply(self, doc: Doc, command: str, ctx: EditContext) -> None:
        spec: RejectSpike = self.active.spec  # type: ignore[assignment]
        share = spec.ratio / (1.0 - spec.ratio)  # rejected per accepted share
        burst = spec.per_second * max(0.0, ctx.now - self.active.set_at)
        before = ctx.since()
        for section in doc:
            items, old_items = _items(doc, section), _items(before, section)
            # The burst goes where shares are submitted: the miner's totals and the pool receiving work.
            bursting = items[:1] if section == "SUMMARY" else [active_pool(items)] if section == "POOLS" else []
            for position, item in enumerate(items):
                if "Accepted" not in item or "Rejected" not in item:
                    continue
                old = old_items[position] if position < len(old_items) else item
                extra = share * max(0.0, _number(item["Accepted"]) - _number(old.get("Accepted", item["Accepted"])))
                if any(item is b for b in bursting):
                    extra += burst
                if extra > 0:
                    _add(item, "Rejected", extra)
                    accepted = _number(item["Accepted"])
                    if accepted and "Difficulty Rejected" in item:  # at the mean difficulty of accepted shares
                        _add(item, "Difficulty Rejected", extra * _number(item.get("Difficulty Accepted")) / accepted)


def _add(item: dict[str, Any], key: str, amount: float) -> None:
    item[key] = map_number(item[key], lambda x: x + amount)


# -- reply bytes ---------------------------------------------------------------------------


def _malformed(mode: str) -> Callable[[bytes], bytes]:
    if mode == "garbled":
        return lambda reply: reply.replace(b'":', b'"=')
    # Half a reply and the NUL: what a firmware crashing mid-write sends.
    return lambda reply: reply[: max(1, len(reply) // 2)] + b"\x00"


@functools.lru_cache(maxsize=4)
def _padding(size: int) -> bytes:
    return b'{"padding":"' + b"0" * size + b'",'


def _oversized(size: int) -> Callable[[bytes], bytes]:
    # Valid JSON, larger than `size`: a reader must give up on size, not on syntax.
    return lambda reply: _padding(size) + reply[1:] if reply.startswith(b"{") else reply


# -- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Active faults compiled for the request path."""

    hashing: float = 1.0  # fraction of full-rate hashing: the pace of every counter
    factor: float = 1.0  # multiplier of every hashrate field
    effects: tuple[Effect, ...] = ()
    commands: frozenset[str] | None = frozenset()  # replies any effect edits (None: all)
    offline: bool = False
    hung: bool = False
    latency: float | None = None  # overrides MinerState.latency
    body: Callable[[bytes], bytes] | None = None
    faults: tuple[ActiveFault, ...] = field(default=())


NO_FAULTS = Plan()


def compile_plan(active: list[ActiveFault], profile: Profile) -> Plan:
    if not active:
        return NO_FAULTS
    specs = [a.spec for a in active]
    layout = profile.layout
    dead = frozenset(s.board for s in specs if isinstance(s, BoardDead))
    zeroed = any(isinstance(s, HashrateZero) for s in specs)
    effects: list[Effect] = []
    if dead:
        effects.append(DeadBoards(dead))
    for spec in specs:
        if isinstance(spec, Overheating):
            effects.append(Heat(spec, layout.commands("chip_temps", "board_temps", "miner_temps")))
        elif isinstance(spec, FanStopped):
            effects.append(StopFan(layout.fan_label(spec.fan) or str(spec.fan), layout.commands("fans")))
    effects += [Rejects(a) for a in active if isinstance(a.spec, RejectSpike)]
    effects += [PoolFailover(a) for a in active if isinstance(a.spec, PoolDead)]
    commands: frozenset[str] | None = frozenset()
    for effect in effects:
        commands = None if commands is None or effect.commands is None else commands | effect.commands
    slow = [s.seconds for s in specs if isinstance(s, SlowReply)]
    body = next((_oversized(s.bytes) for s in specs if isinstance(s, Oversized)), None) or next(
        (_malformed(s.mode) for s in specs if isinstance(s, MalformedJson)), None
    )
    return Plan(
        hashing=0.0 if zeroed else 1.0 - len(dead) / max(1, layout.boards),
        factor=0.0 if zeroed else 1.0,
        effects=tuple(effects),
        commands=commands,
        offline=any(isinstance(s, Offline) for s in specs),
        hung=any(isinstance(s, Hung) for s in specs),
        latency=max(slow) if slow else None,
        body=body,
        faults=tuple(active),
    )


def edit_reply(plan: Plan, profile: Profile, now: float, command: str, text: str,
               since: Callable[[ActiveFault | None, str], Doc]) -> str:
    """`text` (one command's reply) with the plan's effects applied."""
    if plan.commands is not None and command not in plan.commands:
        return text
    doc = json.loads(text)
    if not isinstance(doc, dict):
        return text
    for effect in plan.effects:
        if effect.commands is None or command in effect.commands:
            context = EditContext(profile, now, functools.partial(since, effect.active, command))
            effect.apply(doc, command, context)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
