"""InfluxDB line protocol: `Point`, one measurement's tags and fields at a nanosecond timestamp.

Everything is validated when a point is made (names, field types, 64-bit
integers, the timestamp), so a bad value fails where the point is made, not
hours later in the flush loop. A field whose value is unknown (None, NaN, ±inf)
is left out, never written as 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal

NS_PER_SECOND = 1_000_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# An integer timestamp is nanoseconds; below this (1973) it is almost surely seconds,
# milli- or microseconds, which would land the point in 1970 without any error.
MIN_NS_TIMESTAMP = 10**17

FieldValue = float | int | bool | str


def _escape_measurement(name: str) -> str:
    return name.replace(",", r"\,").replace(" ", r"\ ")


def _escape_key(name: str) -> str:
    """Tag keys, tag values and field keys."""
    return name.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_name(kind: str, name: str) -> None:
    # Line protocol has no escape for newlines outside string fields, and a trailing
    # backslash would escape the delimiter after it.
    if not name:
        raise ValueError(f"empty {kind}")
    if "\n" in name or "\r" in name:
        raise ValueError(f"{kind} {name!r} contains a newline")
    if name.endswith("\\"):
        raise ValueError(f"{kind} {name!r} ends with a backslash")


def to_nanoseconds(timestamp: float | int) -> int:
    """Unix time as nanoseconds: a float is seconds, an int is already nanoseconds."""
    if isinstance(timestamp, bool):
        raise TypeError("timestamp must be float seconds or int nanoseconds, not bool")
    if isinstance(timestamp, int):
        if abs(timestamp) < MIN_NS_TIMESTAMP:
            raise ValueError(
                f"integer timestamp {timestamp} is not nanoseconds (before 1973); pass seconds as a float"
            )
        return timestamp
    if isinstance(timestamp, float):
        if not math.isfinite(timestamp):
            raise ValueError(f"timestamp {timestamp} is not finite")
        # Via the shortest decimal repr, so 1700000000.123 is ...123000000 ns, not ...122999906.
        return int((Decimal(repr(timestamp)) * NS_PER_SECOND).to_integral_value())
    raise TypeError(f"timestamp must be float seconds or int nanoseconds, got {type(timestamp).__name__}")


def _encode_field(key: str, value: FieldValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        text = "true" if value else "false"
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"field {key!r}: integer {value} does not fit in 64 bits")
        text = f"{value}i"
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = _escape_string_field(value)
    else:
        raise TypeError(f"field {key!r}: unsupported type {type(value).__name__}")
    return f"{_escape_key(key)}={text}"


@dataclass(frozen=True)
class Point:
    """One point: measurement, tags, fields and a timestamp (float seconds or int nanoseconds).

    A field that is None, NaN or infinite is unknown and left out, never written as
    0. A tag whose value is None or empty is left out too (line protocol cannot
    carry an empty tag value; InfluxDB treats a missing tag as empty). The
    timestamp defaults to the moment the point is made, never to the moment it is
    written, which may be hours later after an outage. Everything is validated
    here, so a bad value fails where the point is made, not later in the flush loop.
    """

    measurement: str
    _: KW_ONLY
    fields: Mapping[str, FieldValue | None]
    tags: Mapping[str, str | None] = field(default_factory=dict)
    timestamp: float | int = field(default_factory=time.time_ns)

    def __post_init__(self) -> None:
        _check_name("measurement", self.measurement)
        for key, value in self.tags.items():
            _check_name("tag key", key)
            if value is not None and str(value) != "":
                _check_name(f"tag {key!r} value", str(value))
        for key, value in self.fields.items():
            _check_name("field key", key)
            if value is not None:
                _encode_field(key, value)  # type and range
        to_nanoseconds(self.timestamp)

    @property
    def timestamp_ns(self) -> int:
        return to_nanoseconds(self.timestamp)

    def known_fields(self) -> dict[str, FieldValue]:
        """The fields that will be written: None and non-finite floats left out."""
        return {
            key: value
            for key, value in self.fields.items()
            if value is not None and not (isinstance(value, float) and not math.isfinite(value))
        }

    def to_line_protocol(self) -> str:
        """One line, no trailing newline. ValueError if no field is known."""
        fields = self.known_fields()
        if not fields:
            raise ValueError(f"point {self.measurement!r} has no known field values")
        parts = [_escape_measurement(self.measurement)]
        # Sorted tags are what InfluxDB stores anyway, and it parses them fastest.
        for key, value in sorted(self.tags.items()):
            if value is not None and str(value) != "":
                parts.append(f"{_escape_key(key)}={_escape_key(str(value))}")
        head = ",".join(parts)
        body = ",".join(_encode_field(key, value) for key, value in fields.items())
        return f"{head} {body} {self.timestamp_ns}"
