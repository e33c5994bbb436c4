"""Which firmware family is this miner running?

Detection reads the replies of a short sequence of read-only commands and stops
as soon as one is conclusive. `version` settles most firmwares; VNish answers it
with an error and Whatsminer with "invalid cmd", so `stats` and `summary` follow.
"""

from __future__ import annotations

import re

from ..reply import Reply

DETECTION_SEQUENCE: tuple[str, ...] = ("version", "stats", "summary")
FALLBACK = "cgminer"
_BTMINER_SUMMARY_KEYS = frozenset({"Factory GHS", "Power Mode", "Firmware Version", "Power_RT"})
# Every name Braiins OS has answered the cgminer API with: "bOSminer" (2019
# alphas), "BOSminer" and "BOSminer+" (bOS/bOS+ 20.x-21.x, build targets such as
# "bosminer-plus-am1-s9"), "BOSer" (the newer firmware: "BOSer boser-openwrt
# 0.1.0-26ba61b9", "boser-buildroot ..."), and the product names "Braiins OS"/"BOS+".
_BRAIINS_NAME = re.compile(r"(?<![a-z0-9])(?:bosminer|boser|braiins)(?![a-z])|(?<![a-z0-9])bos\+", re.IGNORECASE)


def braiins_named(*texts: object) -> bool:
    """True when a key, value or description names Braiins OS (non-strings are ignored)."""
    return any(isinstance(text, str) and _BRAIINS_NAME.search(text) is not None for text in texts)


def _stats_type(reply: Reply | None) -> str:
    if reply is None or not reply.ok:
        return ""
    for item in reply.section("STATS"):
        if isinstance(item.get("Type"), str):
            return item["Type"]
    return ""


def identify(replies: dict[str, Reply]) -> str | None:
    """The firmware family from the replies gathered so far; None means ask the next command."""
    version = replies.get("version")
    if version is not None:
        description = version.description.lower()
        if version.ok:
            info = version.first("VERSION")
            keys = {key.lower() for key in info}
            kind = str(info.get("Type", ""))
            if "luxminer" in keys or "luxminer" in description:
                return "luxos"
            # The name is a VERSION key ("BOSminer+", "BOSer"), its value
            # ("boser-buildroot 0.1.0-75912fc7") and the Description.
            if braiins_named(description, *info, *info.values()):
                return "braiins"
            if "vnish" in kind.lower():
                return "vnish"
            if "prod" in keys or "avalon" in str(info.get("PROD", "")).lower():
                return "avalon"
            if kind.lower().startswith("antminer") or "bmminer" in keys:
                return "antminer"
            if "btminer" in description or "whatsminer" in description:
                return "whatsminer"
        elif "whatsminer" in description or "btminer" in description:
            return "whatsminer"
        elif braiins_named(description):  # BOSer names itself in error envelopes too
            return "braiins"
    if "stats" in replies:
        if "luxminer" in replies["stats"].description.lower():
            return "luxos"
        if braiins_named(replies["stats"].description):
            return "braiins"
        kind = _stats_type(replies["stats"]).lower()
        if "vnish" in kind:
            return "vnish"
        if kind.startswith("antminer"):
            return "antminer"
        if any("MM ID" in key for item in replies["stats"].section("STATS") for key in item):
            return "avalon"
    if "summary" in replies:
        description = replies["summary"].description.lower()
        if "btminer" in description or "whatsminer" in description:
            return "whatsminer"
        # Older btminer builds call themselves "cgminer 4.9.2" but write keys
        # no other firmware has.
        if _BTMINER_SUMMARY_KEYS & set(replies["summary"].first("SUMMARY")):
            return "whatsminer"
        if braiins_named(description):
            return "braiins"
        if "luxminer" in description:
            return "luxos"
    if all(command in replies for command in DETECTION_SEQUENCE):
        return FALLBACK
    return None
