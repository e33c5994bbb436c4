"""What the exporter remembers about a miner between scrapes, bounded in bytes.

A miner's firmware family, whether it takes multi-commands, and its identity
replies (`static_commands`: stock Antminer `version`, Whatsminer `devdetails`
and `get_version`) are remembered so later scrapes skip detection and a round
trip. Any allowed host can answer with megabytes, so an identity reply is not
kept as sent: only the scalar fields of the first entry of each section (and
of a btminer `Msg` object), short strings only. That is all the parsers read
of them, and it caps one remembered miner at a few KiB whatever it sends.

`/probe` targets are chosen by whoever calls the exporter, so they are kept in
an LRU cache bounded by the estimated bytes of what it holds
(`PROBE_MEMORY_BYTES`), not only by count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache

from .reply import Reply

# A remembered identity entry keeps at most this many fields, and strings up to
# this many characters (models, versions and compile dates are far shorter).
MAX_FIELDS = 32
MAX_TEXT = 128

# Rough costs in bytes, for the bound on remembered probe targets: a target with
# nothing remembered yet (key, MinerMemory, cache entry), and one kept field.
_BASE_BYTES = 400
_FIELD_BYTES = 120

# All remembered /probe targets together, estimated; at about 0.5 KiB for a
# typical miner this is tens of thousands of targets.
PROBE_MEMORY_BYTES = 32 * 1024 * 1024


def _scalars(entry: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in entry.items():
        if len(kept) >= MAX_FIELDS:
            break
        if not isinstance(key, str) or len(key) > MAX_TEXT:
            continue
        if isinstance(value, str):
            if len(value) <= MAX_TEXT:
                kept[key] = value
        elif value is None or isinstance(value, (bool, int, float)):
            kept[key] = value
    return kept


def remembered(reply: Reply) -> Reply:
    """The part of an identity reply worth keeping: scalars of each section's first entry."""
    sections: dict[str, Any] = {}
    for name, value in list(reply.sections.items())[:MAX_FIELDS]:
        first = reply.first(name) if isinstance(value, (list, dict)) else None
        if first is not None and len(name) <= MAX_TEXT:
            sections[name] = [_scalars(first)]
    msg = reply.msg
    if isinstance(msg, dict):
        msg = _scalars(msg)
    elif not isinstance(msg, (str, int, float, bool)) or isinstance(msg, str) and len(msg) > MAX_TEXT:
        msg = None
    return Reply(reply.command, reply.status, reply.code, msg, reply.description[:MAX_TEXT], sections)


def _fields(reply: Reply) -> int:
    count = sum(len(entry) for entries in reply.sections.values() for entry in entries)
    return count + (len(reply.msg) if isinstance(reply.msg, dict) else 1)


@dataclass(slots=True)
class MinerMemory:
    """What is remembered about a miner between scrapes."""

    firmware: str | None = None
    multi_command: bool | None = None  # None: not tried yet
    static_replies: dict[str, Reply] = field(default_factory=dict)
    static_fetched_at: float = 0.0

    def remember_static(self, replies: dict[str, Reply], now: float) -> None:
        self.static_replies = {command: remembered(reply) for command, reply in replies.items()}
        self.static_fetched_at = now

    def forget(self) -> None:
        self.firmware = None
        self.multi_command = None
        self.static_replies = {}

    @property
    def size(self) -> int:
        """Estimated bytes held, for the bound on remembered targets."""
        return _BASE_BYTES + _FIELD_BYTES * sum(_fields(reply) for reply in self.static_replies.values())


class ProbeMemory:
    """Remembered /probe targets, least recently probed dropped first past `max_bytes`."""

    def __init__(self, max_bytes: int = PROBE_MEMORY_BYTES):
        self._cache: LRUCache[str, MinerMemory] = LRUCache(maxsize=max_bytes, getsizeof=lambda memory: memory.size)

    def get(self, key: str) -> MinerMemory:
        memory = self._cache.get(key)
        if memory is None:
            memory = self._cache[key] = MinerMemory()
        return memory

    def update(self, key: str, memory: MinerMemory) -> None:
        """Account for what a scrape added to `memory` (it may now push older targets out)."""
        if memory.size > self._cache.maxsize:
            self._cache.pop(key, None)
        else:
            self._cache[key] = memory

    def __len__(self) -> int:
        return len(self._cache)

    @property
    def bytes(self) -> int:
        return int(self._cache.currsize)
