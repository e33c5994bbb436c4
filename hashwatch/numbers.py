"""Numbers as devices and APIs write them: numbers, numeric strings, or junk.

Shared by every exporter: a value that is missing or not a finite number is
None, so it is left out of the metrics instead of becoming a made-up 0. A
value that is a number but outside its quantity's plausible range (Plausible)
is neither data nor missing: the reply is broken, and the parser refuses it
with ImplausibleValue so the poller keeps the last good value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .shape import ImplausibleValue


def to_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; None if absent or not numeric."""
    kind = type(value)
    if kind is float:  # the common case first: a fleet converts millions of values
        return value if math.isfinite(value) else None
    if value is None or kind is bool:
        return None
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:  # an integer of hundreds of digits is not a reading
            return None
    elif isinstance(value, str):
        text = value.strip().strip("'\"")
        if not text:
            return None
        try:
            result = float(text)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


SATOSHIS_PER_BTC = 100_000_000

# A unix time above 10^11 s would be the year 5138: such a value is milliseconds.
_MILLISECONDS_ABOVE = 1e11


def unix_seconds(value: Any) -> float | None:
    """Unix seconds from seconds or milliseconds (told apart by magnitude); None if absent or not positive.

    Sources switch units (mempool.space moved to milliseconds): a value is read
    right instead of exported as a far future.
    """
    seconds = to_float(value)
    if seconds is None:
        return None
    if seconds > _MILLISECONDS_ABOVE:
        seconds /= 1000
    return seconds if seconds > 0 else None


# --- plausible ranges ---------------------------------------------------------------

# No plausible quantity has more digits: a longer integer string is taken as
# infinite (and refused by a range) before int() reads it, which CPython
# refuses past 4,300 digits anyway.
_MAX_DIGITS = 40
_INTEGER = re.compile(r"[-+]?[0-9]+")


def reading(value: Any) -> int | float | None:
    """value as a number with its magnitude kept, however absurd; None if absent, not numeric or NaN.

    Unlike to_float, an integer too large for a float stays an int and an
    overflowing string is ±inf, so a range check can refuse them instead of
    them passing as "not reported".
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if not isinstance(value, str):
        return None
    text = value.strip().strip("'\"")
    if _INTEGER.fullmatch(text):
        if len(text.lstrip("+-").lstrip("0")) > _MAX_DIGITS:
            return -math.inf if text.startswith("-") else math.inf
        return int(text)  # exact, even beyond 2^53
    try:
        result = float(text)
    except ValueError:
        return None
    return None if math.isnan(result) else result


def as_float(number: int | float) -> float:
    """float(number), ±inf where an int is too large for a float (for a range check to refuse)."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def whole(value: Any) -> int | float | None:
    """An exact int from an int, an integral float or an integer string; None if not a whole number.

    A number past any plausible magnitude (over 40 digits, or an infinite
    float) comes back as ±inf, for a Plausible range to refuse.
    """
    number = reading(value)
    if number is None or isinstance(number, int) or math.isinf(number):
        return number
    return int(number) if number.is_integer() else None


def _shown(value: float) -> str:
    """A bound or a refused value, readable: 10,000,000; 2.1 × 10^15; 0.01; an integer of 400 digits."""
    if isinstance(value, int) and value.bit_length() > 200:  # str() of it may be refused
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if number.is_integer() and abs(number) < 1e10:
        return f"{int(number):,}"
    if abs(number) >= 1e10 or (number != 0 and abs(number) < 1e-4):
        mantissa, exponent = f"{number:.6e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        power = f"10^{int(exponent)}"
        if mantissa in ("1", "-1"):
            return mantissa[:-1] + power
        return f"{mantissa} × {power}"
    return f"{number:g}"


# Every declared range, (quantity, unit) -> range: docs/metrics.md "Plausible ranges" lists them all.
PLAUSIBLE_RANGES: dict[tuple[str, str], Plausible] = {}


@dataclass(frozen=True)
class Plausible:
    """The closed range a parsed quantity must lie in to be taken as data.

    Declared next to the parser that reads the quantity (the shared ones
    below). A value outside it, infinite, or too long to read is a broken
    reply: check() raises ImplausibleValue naming the field and the value,
    the poller counts the fetch as `implausible` and keeps the last good
    value. None (not reported) passes: absent is not implausible.
    """

    quantity: str  # what is measured, as docs/metrics.md names it
    low: float
    high: float
    unit: str

    def __post_init__(self) -> None:
        known = PLAUSIBLE_RANGES.setdefault((self.quantity, self.unit), self)
        if known != self:
            raise ValueError(f"two plausible ranges for {self.quantity} in {self.unit}: {known} and {self}")

    def describe(self) -> str:
        """The range as docs/metrics.md writes it: "0 to 10,000,000 blocks"."""
        return f"{_shown(self.low)} to {_shown(self.high)} {self.unit}".rstrip()

    def check(self, value: Any, field: str, raw: Any = None) -> Any:
        """value itself if None or within the range; ImplausibleValue otherwise (raw: what the reply said)."""
        if value is None:
            return None
        if not self.low <= value <= self.high:  # NaN fails too
            if isinstance(raw, str) and not math.isfinite(value):
                shown = f"{raw.strip()[:24]!r}{'…' if len(raw.strip()) > 24 else ''} ({len(raw.strip())} characters)"
            else:
                shown = _shown(value)
            raise ImplausibleValue(f"{field}: {shown} is not a plausible {self.quantity} ({self.describe()})")
        return value

    def number(self, value: Any, field: str) -> float | None:
        """A float from a number or numeric string, range checked; None if absent or not numeric."""
        number = reading(value)
        return None if number is None else float(self.check(number, field, value))

    def whole(self, value: Any, field: str) -> int | None:
        """An exact int (see whole()), range checked; None if absent or not a whole number."""
        number = whole(value)
        return None if number is None else int(self.check(number, field, value))


# Quantities both the Ocean and the market exporter read. Each range is wide
# enough for decades of growth and narrow enough to refuse a unit mix-up or junk.
HEIGHT = Plausible("block height", 0, 10_000_000, "blocks")  # the tip is near 920,000 (2025); 10 M is about the year 2200
DIFFICULTY = Plausible("difficulty", 1, 1e18, "")  # consensus minimum 1; about 1.5 × 10^14 in 2025
HASHRATE = Plausible("hashrate", 0, 1e25, "H/s")  # the network: about 10^21 in 2025; difficulty 10^18 is 7 × 10^24
UNIX_TIME = Plausible("unix time", 1_231_006_505, 4_102_444_800, "s")  # the genesis block to 2100-01-01
BTC = Plausible("BTC amount", 0, 21_000_000, "BTC")  # never more than the supply
SATOSHIS = Plausible("BTC amount", 0, 21_000_000 * SATOSHIS_PER_BTC, "sat")


def unix_time(value: Any, field: str) -> float | None:
    """unix_seconds(value) checked against UNIX_TIME; None if absent or not positive, as unix_seconds.

    A number too large to be a time in either unit is refused before it is
    converted (an integer of hundreds of digits does not fit a float).
    """
    number = reading(value)
    if number is None or number <= 0:
        return None
    if number > UNIX_TIME.high * 1000:  # past 2100 even as milliseconds
        UNIX_TIME.check(number, field, value)  # raises
    return UNIX_TIME.check(unix_seconds(value), field, value)
