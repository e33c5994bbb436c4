"""Numbers as devices and APIs write them: numbers, numeric strings, or junk.

Shared by every exporter: a value that is missing or not a finite number is
None, so it is left out of the metrics instead of becoming a made-up 0.
"""

from __future__ import annotations

import math
from typing import Any


def to_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; None if absent or not numeric."""
    kind = type(value)
    if kind is float:  # the common case first: a fleet converts millions of values
        return value if math.isfinite(value) else None
    if value is None or kind is bool:
        return None
    if isinstance(value, (int, float)):
        result = float(value)
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
