"""Numbers as firmwares write them, converted to base units.

Firmwares report hashrate in MH/s, GH/s or TH/s, as numbers, strings ("54997.01"),
E-notation ("1.2E+13"), humanised ("39.5K") or empty strings for a missing board.
Every helper returns None for "not reported" instead of inventing a zero.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hashwatch.numbers import to_float

__all__ = ["to_float"]  # re-exported: parsers take every number helper from here

HASH_UNITS: dict[str, float] = {
    "H": 1.0,
    "KH": 1e3,
    "MH": 1e6,
    "GH": 1e9,
    "TH": 1e12,
    "PH": 1e15,
    "EH": 1e18,
}

_SUFFIX = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_HUMAN = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([KMGTPE])?\s*$", re.IGNORECASE)
_NUMBER_PREFIX = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_DASH_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")


# Counters are uint64 on every firmware; a wider integer is junk, not a reading.
_INT_BOUND = 2**64


def to_int(value: Any) -> int | None:
    """An int from an int, integral float or numeric string (exact for uint64); None beyond ±2^64."""
    kind = type(value)
    if kind is int:
        return value if -_INT_BOUND < value < _INT_BOUND else None
    if value is None or kind is bool:
        return None
    if isinstance(value, int):
        return int(value) if -_INT_BOUND < value < _INT_BOUND else None
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and text.isascii():
            return to_int(int(text)) if len(text) <= 21 else None
    number = to_float(value)
    return to_int(int(number)) if number is not None else None


def leading_float(value: Any) -> float | None:
    """The number at the start of a string with a unit, e.g. "3250 W" -> 3250.0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return to_float(value)
    if not isinstance(value, str):
        return None
    match = _NUMBER_PREFIX.match(value)
    return to_float(match.group(1)) if match else None


def humanised(value: Any) -> float | None:
    """Parse humanised numbers such as "39.5K" or "524K" (pool difficulty)."""
    number = to_float(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        return None
    match = _HUMAN.match(value)
    if not match:
        return None
    factor = _SUFFIX.get((match.group(2) or "").upper(), 1.0)
    return float(match.group(1)) * factor


def hashrate(value: Any, unit: str) -> float | None:
    """Hashes per second from a value in the given unit ("MH", "GH", "TH", "GH/s", ...)."""
    number = to_float(value)
    if number is None:
        return None
    key = unit.strip().upper().removesuffix("/S").removesuffix("S") if unit else "H"
    if key not in HASH_UNITS:
        raise ValueError(f"unknown hashrate unit {unit!r}")
    rate = number * HASH_UNITS[key]
    return rate if math.isfinite(rate) else None  # 1e300 TH/s is junk, not +Inf


def dash_numbers(value: Any) -> list[float]:
    """Numbers from Bitmain's dash-separated sensor strings.

    "2--1-20-22" is 2, -1, 20, 22: a dash is a separator, and a second dash right
    after it is a minus sign, so a naive split("-") would lose the sign.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    if not isinstance(value, str):
        return []
    whole, _, fraction = value.strip().partition(".")
    if whole.isdigit() and (not fraction or fraction.isdigit()) and value.isascii():
        return [float(f"{whole}.{fraction or 0}")]  # a single reading, the usual shape
    numbers: list[float] = []
    position = 0
    text = value.strip()
    while position < len(text):
        match = _DASH_NUMBERS.match(text, position)
        if not match:
            # a non-numeric reading such as "m" (missing sensor): skip it
            nxt = text.find("-", position + 1)
            if nxt < 0:
                break
            position = nxt + 1
            continue
        numbers.append(float(match.group(0)))
        position = match.end()
        if position < len(text) and text[position] == "-":
            position += 1  # the separator
    return numbers


def bracket_fields(text: Any) -> dict[str, str]:
    """Avalon's "MM ID" strings: 'Ver[1047-...] Temp[18] MGHS[12362.61 12812.16]' -> dict."""
    if not isinstance(text, str):
        return {}
    fields: dict[str, str] = {}
    for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_ ]*?)\[([^\]]*)\]", text):
        fields[match.group(1).strip()] = match.group(2).strip()
    return fields
