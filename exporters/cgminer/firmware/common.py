"""Sections that look the same on every cgminer-derived firmware: POOLS, SUMMARY and the program version."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from ..model import MinerStatus, Pool
from ..reply import Reply
from ..units import to_float, to_int

T = TypeVar("T")

# Errors odd data can provoke in a reader; anything else is a bug and should surface.
DATA_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError)


def guarded(default: T, func: Callable[..., T], *args: Any) -> T:
    """func(*args), or default when odd data makes it raise: one bad section must not sink a scrape."""
    try:
        return func(*args)
    except DATA_ERRORS:
        return default


# Status words meaning the pool answers. Stock Antminer spells Dead as "Deed".
_ALIVE = frozenset({"alive"})


def first_present(data: dict[str, Any], *keys: str) -> Any:
    """The value of the first key present and not None/"" (firmwares rename keys)."""
    for key in keys:
        value = data.get(key)
        if value is not None and value != "":
            return value
    return None


def parse_pools(reply: Reply | None) -> list[Pool]:
    """Normalize a POOLS section. Passwords are never read, whatever the firmware sends."""
    if reply is None:
        return []
    pools: list[Pool] = []
    entries = reply.section("POOLS")
    for position, entry in enumerate(entries):
        url = str(entry.get("URL") or "").strip()
        if not url:
            continue  # unconfigured slot (stock S21 lists empty "Deed" placeholders)
        if url == "DevFee" or entry.get("Type") == 1 and "devfee" in url.lower():
            continue  # VNish's dev-fee pseudo pool is not a pool the operator configured
        status = str(entry.get("Status") or "")
        index = entry.get("POOL", position)
        pools.append(
            Pool(
                index=str(index),
                url=url,
                user=str(entry.get("User") or ""),
                status=status,
                alive=status.lower() in _ALIVE if status else None,
                active=_active(entry),
                priority=to_int(entry.get("Priority")),
                accepted=to_int(entry.get("Accepted")),
                rejected=to_int(entry.get("Rejected")),
                stale=to_int(entry.get("Stale")),
            )
        )
    return pools


def _active(entry: dict[str, Any]) -> bool | None:
    value = entry.get("Stratum Active")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def apply_summary(status: MinerStatus, reply: Reply | None) -> dict[str, Any]:
    """Fill share counters, hardware errors, best share and uptime from SUMMARY.

    Returns the SUMMARY dict so a parser can read its firmware-specific keys.
    """
    if reply is None:
        return {}
    summary = reply.first("SUMMARY")
    status.accepted = to_int(summary.get("Accepted"))
    status.rejected = to_int(summary.get("Rejected"))
    status.stale = to_int(summary.get("Stale"))
    status.hardware_errors = to_int(summary.get("Hardware Errors"))
    status.best_share = to_int(summary.get("Best Share"))
    status.uptime_seconds = to_float(summary.get("Elapsed"))
    return summary


# The mining program's name ends in "miner": CGMiner, BMMiner, GCMiner (Auradine),
# BDMiner (Bitdeer), SGMiner, BFGMiner, ccminer, innominer (Innosilicon), ... A
# VERSION key so named holds its version. "Miner" alone is Bitmain's build
# number, and API, CompileTime, Type, PROD, ... are no programs.
_PROGRAM_DESCRIPTION = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*miner\+?)[\s-]+(\S*[0-9]\S*)", re.IGNORECASE)


def _program_key(key: Any) -> bool:
    return isinstance(key, str) and key.lower().endswith("miner") and key.lower() != "miner"


def program_version(version: dict[str, Any], *replies: Reply | None) -> tuple[str, str]:
    """(program, version) of the mining software, the program name lower-cased; ("", "") if unsaid.

    From the first VERSION key named after the program ({"BDMiner": "4.11.1"},
    {"GCMiner": "0.5"}, {"CGMiner": "4.11.1"}), else from the first STATUS
    Description of `replies` that starts with one ("bdminer 4.11.1",
    "cgminer 4.9.2", "innominer a9-1.1.0", "GCMiner-0.5-devsbXXX").
    """
    for key, value in version.items():
        if _program_key(key) and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return key.lower(), text
    for reply in replies:
        match = _PROGRAM_DESCRIPTION.match(reply.description) if reply is not None else None
        if match:
            return match.group(1).lower(), match.group(2)
    return "", ""
