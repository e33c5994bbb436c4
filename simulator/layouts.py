"""Where a profile's firmware keeps each board's, fan's and sensor's fields: what faults edit.

Faults (simulator.faults) change parsed replies. A `Layout` describes, per
profile, which fields of which command belong to board N, fan N or a
temperature sensor, so one fault implementation serves every firmware:

    Suffixed   Bitmain `stats`: chain_rate1, temp_chip2, fan3 (key + slot number)
    Entries    one list entry per board or fan, matched on a key (devs ASC, temps ID)
    Plain      miner-level keys of every entry of a section (summary chip temps)
    Named      fans named by key rather than numbered (Whatsminer "Fan Speed In")
    Bracket    Avalon's "MM ID0" string: NAME[v1 v2 v3], one number per board

Values keep their JSON type and precision when edited: 37603.30 stays a
two-decimal float, "37603.30" a string, "78-50-69-70" a dash-separated string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]
Transform = Callable[[Any], Any]
Cell = tuple[dict[str, Any], str]  # (object, key): one editable field

# Keys matching the profile's hashrate rule (FieldRules.hashrate) rather than listed names.
RATES = ("<hashrate keys>",)

_DECIMAL = re.compile(r"-?\d+(?:\.(\d+))?")
_DASHED = re.compile(r"-?\d+(?:\.\d+)?(?:--?\d+(?:\.\d+)?)+")


def map_number(value: Any, fn: Callable[[float], float]) -> Any:
    """fn applied to a number however the firmware wrote it; anything else is returned as is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return round(fn(value))
    if isinstance(value, float):
        return float(fn(value))
    if isinstance(value, str):
        match = _DECIMAL.fullmatch(value)
        if match:
            return f"{fn(float(value)):.{len(match.group(1) or '')}f}"
        if _DASHED.fullmatch(value):  # "78-50-69-70": one reading per sensor
            return "-".join(map_number(part, fn) for part in value.split("-"))
    return value


def zero(value: Any) -> Any:
    return map_number(value, lambda _: 0.0)


def _items(doc: Doc, section: str) -> Iterator[dict[str, Any]]:
    items = doc.get(section)
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            yield item


@dataclass(frozen=True)
class Suffixed:
    """Per-slot keys of Bitmain's stats layout: board or fan N is slot N + first."""

    command: str
    keys: tuple[str, ...]  # "chain_rate{}": {} is the slot number
    first: int = 1
    section: str = "STATS"

    def cells(self, doc: Doc, index: int | str, hashrate: re.Pattern[str]) -> Iterator[Cell]:
        slot = int(index) + self.first
        for item in _items(doc, self.section):
            for pattern in self.keys:
                key = pattern.format(slot)
                if key in item:
                    yield item, key


@dataclass(frozen=True)
class Entries:
    """One list entry per board or fan; entry `match` == ids[N] (default N) is number N."""

    command: str
    section: str
    match: str
    keys: tuple[str, ...]  # or RATES: every key the hashrate rule matches
    ids: tuple[Any, ...] | None = None

    def cells(self, doc: Doc, index: int | str, hashrate: re.Pattern[str]) -> Iterator[Cell]:
        wanted = self.ids[int(index)] if self.ids is not None else int(index)
        for item in _items(doc, self.section):
            if item.get(self.match) != wanted:
                continue
            if self.keys is RATES:
                yield from ((item, key) for key in item if hashrate.fullmatch(key))
            else:
                yield from ((item, key) for key in self.keys if key in item)


@dataclass(frozen=True)
class Plain:
    """Keys of every entry of a section, whatever the index: miner-level readings."""

    command: str
    section: str
    keys: tuple[str, ...]

    def cells(self, doc: Doc, index: int | str | None, hashrate: re.Pattern[str]) -> Iterator[Cell]:
        for item in _items(doc, self.section):
            yield from ((item, key) for key in self.keys if key in item)


@dataclass(frozen=True)
class Named:
    """Fans known by name: label -> the keys holding its speed, in every entry of the sections."""

    command: str
    section: str
    keys: dict[str, tuple[str, ...]]

    def cells(self, doc: Doc, index: int | str, hashrate: re.Pattern[str]) -> Iterator[Cell]:
        for item in _items(doc, self.section):
            yield from ((item, key) for key in self.keys.get(str(index), ()) if key in item)


_BRACKET = re.compile(r"(\w+)\[([^\[\]]*)\]")


@dataclass(frozen=True)
class Bracket:
    """Avalon NAME[v1 v2 ...] fields inside "MM ID<n>" strings.

    by="position": number N of the field is board N; by="slot": the field name
    holds the slot (Fan{} -> Fan1 for fan 0); by="all": every number.
    """

    command: str
    names: tuple[str, ...]
    by: str = "position"
    section: str = "STATS"

    def edit(self, doc: Doc, index: int | str | None, transform: Transform) -> None:
        if self.by == "slot":
            names = {name.format(int(index) + 1) for name in self.names}
        else:
            names = set(self.names)

        def field(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                return match.group(0)
            parts = match.group(2).split()
            for j, part in enumerate(parts):
                if self.by != "position" or index is None or j == int(index):
                    parts[j] = transform(part)
            return f"{match.group(1)}[{' '.join(parts)}]"

        for item in _items(doc, self.section):
            for key, value in item.items():
                if key.startswith("MM ID") and isinstance(value, str):
                    item[key] = _BRACKET.sub(field, value)


Place = Suffixed | Entries | Plain | Named | Bracket


def edit(places: tuple[Place, ...], doc: Doc, command: str, index: int | str | None,
         transform: Transform, hashrate: re.Pattern[str]) -> None:
    """transform every field of `places` found in this command's reply; index None: every board."""
    for place in places:
        if place.command != command:
            continue
        if isinstance(place, Bracket):
            place.edit(doc, index, transform)
            continue
        for item, key in place.cells(doc, index, hashrate):
            item[key] = transform(item[key])


def cells(places: tuple[Place, ...], doc: Doc, command: str, index: int | str,
          hashrate: re.Pattern[str]) -> Iterator[Cell]:
    for place in places:
        if place.command == command and not isinstance(place, Bracket):
            yield from place.cells(doc, index, hashrate)


@dataclass(frozen=True)
class Layout:
    """A profile's per-board, per-fan and temperature fields, by role."""

    boards: int = 0  # hashboards of the device (its share of the total is 1 / boards)
    board_rates: tuple[Place, ...] = ()  # a board's hash rates: 0 on a dead board
    board_chips: tuple[Place, ...] = ()  # a board's chip counts: 0 on a dead board
    chip_maps: tuple[Place, ...] = ()  # a board's chip status strings ("ooo"): every chip "x"
    total_rates: tuple[Place, ...] = ()  # totals the hashrate rule cannot see (inside strings)
    chip_temps: tuple[Place, ...] = ()  # a board's chip sensors
    board_temps: tuple[Place, ...] = ()  # a board's PCB sensors
    miner_temps: tuple[Place, ...] = ()  # miner-level chip/board readings (maxima over boards)
    fans: tuple[Place, ...] = ()
    fan_labels: tuple[str, ...] = ()  # fans as the exporter labels them, in order

    def fan_label(self, fan: int | str) -> str | None:
        """The label of `fan` given as its label ("out", "2") or its position (1 -> "out")."""
        if str(fan) in self.fan_labels:
            return str(fan)
        if isinstance(fan, int) and 0 <= fan < len(self.fan_labels):
            return self.fan_labels[fan]
        return None

    def commands(self, *roles: str) -> frozenset[str]:
        return frozenset(place.command for role in roles for place in getattr(self, role))


NO_LAYOUT = Layout()


def bitmain_stats(boards: int, fans: int, *, rates: bool = True, chip_map: bool = True,
                  chip_count: bool = False, chip_temps: tuple[str, ...] = (),
                  board_temps: tuple[str, ...] = ()) -> Layout:
    """The stats layout of stock Antminer firmware and of those keeping it (VNish, LuxOS)."""

    def stats(*keys: str) -> tuple[Place, ...]:
        return (Suffixed("stats", keys),) if keys else ()

    return Layout(
        boards=boards,
        board_rates=stats("chain_rate{}") if rates else (),
        board_chips=stats("chain_acn{}") if chip_count else (),
        chip_maps=stats("chain_acs{}") if chip_map else (),
        chip_temps=stats(*chip_temps),
        board_temps=stats(*board_temps),
        miner_temps=(Plain("stats", "STATS", ("temp_max",)),),
        fans=stats("fan{}"),
        fan_labels=tuple(str(n) for n in range(fans)),
    )
