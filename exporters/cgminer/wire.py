"""Bytes on the wire -> a JSON object, repairing known firmware quirks.

Each repair is tried only after strict parsing fails, so a well-formed reply is
never rewritten. The quirks come from real captures (simulator/captures/cgminer/quirks):
a trailing NUL, missing commas between objects, bare nan/inf, the non-JSON
escape \\', trailing commas and stray bytes after the final brace.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson


class MalformedReply(ValueError):
    """The reply could not be decoded as a JSON object, even after repairs."""


_BARE_NAN_INF = re.compile(r"(?<=[:\[,])(\s*)-?(?:nan|inf|NaN|Infinity)(?=\s*[,}\]])")
_MISSING_COMMA = re.compile(r"}\s*{")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_LEADING_COMMA_IN_LIST = re.compile(r"\[\s*,")


def _strict(text: str) -> Any:
    try:
        return orjson.loads(text)  # several times faster; most replies are well-formed
    except orjson.JSONDecodeError:
        # orjson rejects NaN/Infinity; the standard parser accepts them and
        # parse_constant turns them into None: never a made-up number. (orjson
        # keeps uint64 exact, e.g. "Best Share": 18446744073709551615.)
        return json.loads(text, parse_constant=lambda _name: None, parse_int=_integer)


def _integer(text: str) -> int | float:
    # Beyond uint64 an integer is junk: as a float it is inf or huge, which the
    # number helpers treat as not reported, and Python's 4,300-digit limit on
    # int() (a ValueError that is not a JSON error) is never reached.
    return int(text) if len(text) <= 21 else float(text)


def _repair(text: str) -> str:
    text = text.replace("\\'", "'")
    text = _MISSING_COMMA.sub("},{", text)
    text = _BARE_NAN_INF.sub(r"\1null", text)
    text = _TRAILING_COMMA.sub(r"\1", text)
    text = _LEADING_COMMA_IN_LIST.sub("[", text)
    return text


def _cut_after_last_brace(text: str) -> str:
    # Only a few stray bytes after the final brace (Avalon sends a lone quote);
    # a longer tail means a truncated reply, which must fail, not be "repaired".
    end = text.rfind("}")
    tail = text[end + 1 :].strip()
    return text[: end + 1] if end >= 0 and len(tail) <= 4 and not set(tail) & set("{}[]:") else text


def _candidates(text: str):
    """The text as sent, then repaired: lazily, so a well-formed reply costs one parse."""
    yield text
    repaired = _repair(text)
    yield repaired
    yield _cut_after_last_brace(repaired)


def decode_reply(raw: bytes) -> dict[str, Any]:
    """Decode a raw reply into a dict, or raise MalformedReply saying why."""
    # cgminer sends the JSON text plus one NUL (api.c: tosend = len + 1).
    raw = raw.rstrip(b"\x00 \r\n\t")
    if not raw:
        raise MalformedReply("empty reply")
    if raw[:1] == b"{":
        try:
            value = orjson.loads(raw)  # the common case: well-formed UTF-8 JSON, no copy
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(value, dict):
                return value
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if not text.lstrip().startswith("{"):
        raise MalformedReply(f"reply does not start with a JSON object: {text[:40]!r}")
    error: json.JSONDecodeError | None = None
    for candidate in _candidates(text):
        try:
            value = _strict(candidate)
        except json.JSONDecodeError as exc:
            error = error or exc
            continue
        if isinstance(value, dict):
            return value
        raise MalformedReply(f"reply is JSON but not an object: {type(value).__name__}")
    raise MalformedReply(f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}")
