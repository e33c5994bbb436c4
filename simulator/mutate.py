"""Captured replies compiled into cheap per-request templates with moving values.

A capture is parsed and classified once: every moving field (FieldRules) becomes
a slot, the rest is serialized once into static text. A request then only
formats the slots and joins strings: no JSON parse, no tree copy, no regex. This
is what lets one process answer thousands of simulated miners.

Each slot keeps the JSON type and precision of the captured value: an int stays
an int, 110566.89 keeps two decimals, the string "37603.30" stays a string.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .profiles import FieldRules


@dataclass(frozen=True, slots=True)
class Moment:
    """Everything one request's values depend on."""

    now: float  # unix seconds, becomes STATUS When
    running: float  # seconds since the simulated miner (re)started: Elapsed grows with it
    factor: float  # multiplier of every hashrate field in this reply
    work: float  # seconds of full-rate hashing since the (re)start: counters grow with it
    carry: float = 1.0  # 1: the captured totals still count; 0 after a simulated reboot


Render = Callable[[Moment], str]


class Template:
    """Static text interleaved with slots; render() is the per-request work."""

    __slots__ = ("_head", "_pairs")

    def __init__(self, parts: list[str], slots: list[Render]):
        assert len(parts) == len(slots) + 1
        self._head = parts[0]
        self._pairs = tuple(zip(slots, parts[1:]))

    @property
    def slot_count(self) -> int:
        return len(self._pairs)

    def render(self, moment: Moment) -> str:
        out = [self._head]
        for slot, text in self._pairs:
            out.append(slot(moment))
            out.append(text)
        return "".join(out)


_NUMERIC_TEXT = re.compile(r"-?\d+(?:\.(\d+))?")


def _number_format(sample: Any) -> Callable[[float], str] | None:
    """How to print a new value so it reads like the captured one; None if not a number."""
    if isinstance(sample, bool):
        return None
    if isinstance(sample, int):
        return lambda value: str(round(value))
    if isinstance(sample, float):
        text = repr(sample)
        if not text.replace("-", "").replace(".", "").isdigit():
            return lambda value: repr(float(value))  # exponent form: let Python pick the digits
        decimals = len(text.partition(".")[2])
        return lambda value: f"{value:.{decimals}f}"
    if isinstance(sample, str):
        plain = _text_format(sample)
        return None if plain is None else lambda value: '"' + plain(value) + '"'
    return None


def _text_format(text: str) -> Callable[[float], str] | None:
    """Digits as written inside a string ("37603.30", "975"): same number of decimals."""
    match = _NUMERIC_TEXT.fullmatch(text)
    if not match:
        return None
    decimals = len(match.group(1) or "")
    return lambda value: f"{value:.{decimals}f}"


def _moving(kind: str, base: float, fmt: Callable[[float], str], rate: float = 0.0) -> Render:
    if kind == "hashrate":
        return lambda m: fmt(base * m.factor)
    if kind == "counter":  # counters grow only while hashing, and restart from 0 after a reboot
        return lambda m: fmt(m.carry * base + rate * m.work)
    if kind == "elapsed":
        return lambda m: fmt(m.carry * base + m.running)
    if kind == "timestamp":  # base is the offset from the capture's When
        return lambda m: fmt(int(m.now) + base)
    if kind == "now":
        return lambda m: fmt(int(m.now))
    raise ValueError(kind)


_BRACKET = re.compile(r"(\w+)\[([^\[\]]*)\]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _escape(text: str) -> str:
    """JSON string content (no quotes) for a piece of a string value."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _bracket_string(text: str, rules: FieldRules) -> Render | None:
    """Avalon "Name[v1 v2] ..." strings: the numbers inside named brackets move."""
    parts: list[str] = []
    slots: list[Render] = []
    done = 0
    for match in _BRACKET.finditer(text):
        name = match.group(1)
        if name in rules.bracket_hashrate:
            kind = "hashrate"
        elif name in rules.bracket_elapsed:
            kind = "elapsed"
        else:
            continue
        inner_start = match.start(2)
        for number in _NUMBER.finditer(match.group(2)):
            fmt = _text_format(number.group())
            assert fmt is not None  # _NUMBER only matches what _text_format accepts
            parts.append(_escape(text[done : inner_start + number.start()]))
            slots.append(_moving(kind, float(number.group()), fmt))
            done = inner_start + number.end()
    if not slots:
        return None
    parts.append(_escape(text[done:]))
    inner = Template(parts, slots)
    return lambda m: '"' + inner.render(m) + '"'


class _Compiler:
    def __init__(self, rules: FieldRules, when: float | None, uptime: float):
        self.rules = rules
        self.when = when
        self.uptime = uptime
        self.slots: list[Render] = []

    def slot_for(self, key: str, value: Any) -> Render | None:
        rules = self.rules
        if isinstance(value, str) and "[" in value:
            return _bracket_string(value, rules)
        fmt = _number_format(value)
        if fmt is None:
            return None
        if key == "When":
            return _moving("now", 0.0, fmt)
        base = float(value)
        if base == 0:
            return None  # a zero rate or counter stays zero: nothing to move
        if rules.hashrate.fullmatch(key):
            return _moving("hashrate", base, fmt)
        if key in rules.elapsed:
            return _moving("elapsed", base, fmt)
        if key in rules.counters or rules.counter_pattern.fullmatch(key):
            return _moving("counter", base, fmt, rate=base / self.uptime)
        if key in rules.timestamps and isinstance(value, int) and self.when is not None:
            # Same clock as When (Avalon counts from boot, others use unix time);
            # a stock Antminer even puts a timestamp in "Last Share Difficulty".
            if abs(value - self.when) <= 86400:
                return _moving("timestamp", value - self.when, fmt)
        return None

    def visit(self, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                slot = self.slot_for(key, value) if isinstance(key, str) else None
                if slot is None:
                    self.visit(value)
                    continue
                node[key] = _SENTINEL.format(len(self.slots))
                self.slots.append(slot)
        elif isinstance(node, list):
            for item in node:
                self.visit(item)


# Private-use code points cannot occur in a capture's serialized text by accident.
_SENTINEL = "\ue000{}\ue001"
_SENTINEL_TOKEN = re.compile('"\ue000(\\d+)\ue001"')


def find_when(document: Any) -> float | None:
    """The capture's own clock: STATUS When (a list of one object, or btminer's bare form)."""
    if not isinstance(document, dict):
        return None
    status = document.get("STATUS")
    if isinstance(status, list) and status and isinstance(status[0], dict):
        status = status[0]
    elif not isinstance(status, dict):
        status = document
    when = status.get("When")
    return when if isinstance(when, (int, float)) and not isinstance(when, bool) else None


def compile_document(document: Any, rules: FieldRules, uptime: float) -> Template:
    """Compile one captured reply. `uptime` is the capture's Elapsed: counters grow at value/uptime."""
    compiler = _Compiler(rules, find_when(document), max(uptime, 1.0))
    tree = copy.deepcopy(document)
    compiler.visit(tree)
    # Compact separators, as cgminer writes them on the wire.
    text = json.dumps(tree, separators=(",", ":"), ensure_ascii=False)
    pieces = _SENTINEL_TOKEN.split(text)
    parts, order = pieces[0::2], [int(index) for index in pieces[1::2]]
    if order != list(range(len(compiler.slots))):
        raise ValueError("capture text collides with slot markers")
    return Template(parts, compiler.slots)
